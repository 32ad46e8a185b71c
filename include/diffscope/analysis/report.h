// The HTML report: one self-contained file (inline CSS and JS, images as data: URIs, no network) showing run
// folders or a compare folder as a whole: a step slider with play/pause and arrow keys over every run's x0
// estimate and latent, a word picker overlaying that word's attention map (this step or all steps) with an
// opacity control and colour scale, the final images, every figure the analyses wrote, and the tables.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffscope {

struct ReportOptions {
  std::string title;           ///< default: the first run's prompt, or "comparison of N runs"
  size_t max_table_rows = 60;  ///< longer CSV tables are cut (the note says how many rows the file has)
  bool overwrite = false;      ///< replace an earlier report at the output path (never another file: claim_output_file)
};

struct ReportInfo {
  size_t bytes = 0;  ///< size of the written file
  int runs = 0, steps = 0, words = 0, figures = 0;
};

/// Writes `out_html` (atomically) for `dirs`: run folders, or a compare folder (its runs/NN shown side by side,
/// its figures and tables included). Runs shown together need the same number of steps. Error naming the folder
/// when one is neither.
ReportInfo write_report(const std::vector<std::string>& dirs, const std::string& out_html,
                        const ReportOptions& options = {});

}  // namespace diffscope
