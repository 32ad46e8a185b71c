// CSV writer (RFC 4180 quoting, LF line endings) over an AtomicWriter; shortest round-trip numbers.
#include "diffscope/util/csv.h"

#include <fstream>
#include <sstream>

#include <charconv>
#include <cmath>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "diffscope/util/file_checks.h"

namespace diffscope {

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  return std::string(buf, res.ptr);
}

std::string csv_escape(const std::string& field) {
  bool quote = field.find_first_of(",\"\r\n") != std::string::npos ||
               (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!quote) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

CsvWriter::CsvWriter(std::string path, std::vector<std::string> header)
    : path_(std::move(path)), columns_(header.size()) {
  if (header.empty()) throw Error(path_ + ": CSV header has no columns", kExitFailure);
  writer_ = std::make_unique<AtomicWriter>(path_, true);
  row_ = std::move(header);
  end_row();
}

CsvWriter::~CsvWriter() = default;
CsvWriter::CsvWriter(CsvWriter&&) noexcept = default;
CsvWriter& CsvWriter::operator=(CsvWriter&&) noexcept = default;

CsvWriter& CsvWriter::cell(const std::string& text) {
  row_.push_back(text);
  return *this;
}

CsvWriter& CsvWriter::cell(double v) {
  row_.push_back(format_number(v));
  return *this;
}

CsvWriter& CsvWriter::cell(int64_t v) {
  row_.push_back(std::to_string(v));
  return *this;
}

void CsvWriter::end_row() {
  if (!writer_) throw Error(path_ + ": CSV writer already committed", kExitFailure);
  if (row_.size() != columns_) {
    size_t got = row_.size();
    row_.clear();
    throw Error(path_ + ": CSV row has " + std::to_string(got) + " cells, header has " + std::to_string(columns_),
                kExitFailure);
  }
  std::string line;
  for (size_t i = 0; i < row_.size(); ++i) {
    if (i) line += ',';
    line += csv_escape(row_[i]);
  }
  line += '\n';
  writer_->out() << line;
  row_.clear();
}

void CsvWriter::commit() {
  if (!writer_) throw Error(path_ + ": CSV writer already committed", kExitFailure);
  if (!row_.empty()) throw Error(path_ + ": CSV row left unfinished before commit", kExitFailure);
  writer_->commit();
  writer_.reset();
}

/// CSV text -> rows of fields (RFC 4180 quoting, as CsvWriter writes).
std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  require_file(path, "a CSV file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field), field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      rows.back().push_back(field), field.clear();
      rows.emplace_back();
    } else {
      field += c;
    }
  }
  if (!field.empty() || !rows.back().empty()) rows.back().push_back(field);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

}  // namespace diffscope
