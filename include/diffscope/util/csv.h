// CSV tables (RFC 4180), written atomically, with numbers in shortest round-trip form.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace diffscope {

class AtomicWriter;

/// Shortest decimal text that reads back to exactly `v` (std::to_chars, shorter of fixed and scientific:
/// 3 -> "3", 0.1 -> "0.1", 1e20 -> "1e+20", 1e-5 -> "1e-05"); "nan", "inf", "-inf" for non-finite values
/// (Python's float() and pandas read all of these).
std::string format_number(double v);

/// Reads a CSV file into rows of fields (RFC 4180 quoting, as CsvWriter writes; the header is row 0). Error naming
/// the file when it cannot be read.
std::vector<std::vector<std::string>> read_csv(const std::string& path);

/// Quotes a CSV field when needed (comma, quote, CR or LF inside; or leading/trailing space): RFC 4180.
std::string csv_escape(const std::string& field);

/// Writes a CSV file row by row: header first, LF line endings; nothing appears under `path` until commit().
/// Rows must have as many cells as the header (checked at end_row(); Error otherwise).
class CsvWriter {
 public:
  /// Opens a temporary file beside `path` and writes the header row.
  CsvWriter(std::string path, std::vector<std::string> header);
  ~CsvWriter();
  CsvWriter(CsvWriter&&) noexcept;
  CsvWriter& operator=(CsvWriter&&) noexcept;

  /// Appends a text cell (quoted when needed).
  CsvWriter& cell(const std::string& text);
  CsvWriter& cell(const char* text) { return cell(std::string(text)); }
  /// Appends a number formatted by format_number (NaN as "nan").
  CsvWriter& cell(double v);
  /// Appends an integer.
  CsvWriter& cell(int64_t v);
  CsvWriter& cell(int v) { return cell(static_cast<int64_t>(v)); }
  CsvWriter& cell(size_t v) { return cell(static_cast<int64_t>(v)); }
  /// Ends the current row; throws Error when its cell count differs from the header's.
  void end_row();
  /// Renames the finished file onto `path`; throws Error if a row is still open.
  void commit();

 private:
  std::string path_;
  size_t columns_;
  std::vector<std::string> row_;
  std::unique_ptr<AtomicWriter> writer_;
};

}  // namespace diffscope
