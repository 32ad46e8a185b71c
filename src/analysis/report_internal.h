// Shared by report.cpp (run and compare folders, the page) and report_study.cpp (batch, merge, saliency,
// features/probe and SAE folders): images as data: URIs, CSV tables, and the sections grouped by question.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "diffscope/analysis/report.h"

namespace diffscope::report_detail {

std::string png_uri(const std::string& png_bytes);
std::string file_uri(const std::string& path);
/// The PNG itself, or a JPEG (quality 90) when the PNG exceeds 200 KB.
std::string figure_uri(const std::string& path);
/// A CSV file as {title, columns, rows[, note]} (first max_rows rows).
nlohmann::json csv_table(const std::string& path, const std::string& title, size_t max_rows);
/// %.4g
std::string shorten(double v);
/// A summary.json's numbers as a key/value table (keys containing `skip` left out when not empty).
nlohmann::json summary_table(const std::string& path, const std::string& title, const std::string& skip = "");

/// The sections of the page, in a fixed order of questions. Each holds figures {title, caption, src, facet} and
/// tables {title, caption, columns, rows, facet}; `facet` (a label such as "colour", or "") lets the page's label
/// picker show one label's items at a time.
class Sections {
 public:
  Sections();
  void figure(const std::string& section, const std::string& title, const std::string& caption, const std::string& path,
              const std::string& facet = "");
  void table(const std::string& section, nlohmann::json table, const std::string& caption = "",
             const std::string& facet = "");
  /// Every PNG figure under dir/sub (recursively), each placed and captioned by what it shows (classify below).
  void figures_under(const std::string& dir, const std::string& sub, const std::string& prefix = "");
  int figures() const { return figures_; }
  int tables() const { return tables_; }
  /// The non-empty sections, in order: [{id, question, intro, figures, tables}], and the facets used.
  nlohmann::json json() const;
  nlohmann::json facets() const;

 private:
  nlohmann::json sections_;  // id -> section
  nlohmann::json facets_ = nlohmann::json::array();
  int figures_ = 0, tables_ = 0;
};

/// Where a figure file (a path relative to its folder, e.g. "plots/emergence.png") belongs and what it shows:
/// {section, caption, facet}; section "" means leave it out (a raw map beside its overlay, a thumbnail).
struct FigurePlace {
  std::string section, caption, facet;
};
FigurePlace classify_figure(const std::string& rel);

/// The report data of the study kinds (Batch, Merge, Saliency, Features, Sae): fills data["title_default"],
/// data["header"], data["runs_table"] and the sections. `extra` are further folders given after the first (a merge
/// folder's batch folders, for drill-down).
void study_data(ReportKind kind, const std::string& dir, const std::vector<std::string>& extra,
                const std::string& out_html, const ReportOptions& o, nlohmann::json& data, Sections& sections);

}  // namespace diffscope::report_detail
