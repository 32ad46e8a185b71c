// Output folders never mix two runs: a command claims its folder (locked for the run), refuses one that already
// holds output unless asked to overwrite, and then clears only what diffscope itself writes.
#pragma once
#include <string>

namespace diffscope {

/// How a folder is claimed: Fresh (refused when it holds output), Overwrite (earlier diffscope output removed),
/// Resume (locked only: the caller continues an unfinished output it has checked).
enum class Claim { Fresh, Overwrite, Resume };

/// A claimed output folder: holds an exclusive lock (flock on DIR/.diffscope.lock) until destroyed.
class OutputFolder {
 public:
  OutputFolder() = default;
  OutputFolder(OutputFolder&& other) noexcept;
  OutputFolder& operator=(OutputFolder&& other) noexcept;
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  ~OutputFolder();
  const std::string& path() const { return path_; }

 private:
  friend OutputFolder claim_output_folder(const std::string& dir, Claim how, const std::string& option);
  std::string path_, lock_;
  int fd_ = -1;
};

OutputFolder claim_output_folder(const std::string& dir, Claim how, const std::string& option = "--out");

/// Claims `dir` for a new run or set: creates it, locks it (a second diffscope writing into it is refused), and
///  - empty (or new): ready;
///  - holding output: refused unless `overwrite`; with `overwrite`, removes run.json first, then every entry
///    diffscope writes (run and set files, NNN run folders, temporary files of killed runs). An entry diffscope
///    does not write is never removed: the claim is refused, naming it.
/// Errors are one line naming `option` (e.g. "--out") and the folder.
OutputFolder claim_output_folder(const std::string& dir, bool overwrite, const std::string& option = "--out");

/// The same rule for one output file (report -o FILE), checked before any work: `path` must not be a folder, and a
/// file already there is replaced only with `overwrite`, and then only when it starts with `own_prefix` (a file this
/// command wrote earlier): never an input (run.json, a table) or another file diffscope did not write. Errors are one
/// line naming `option` and the path (exit 2).
void claim_output_file(const std::string& path, bool overwrite, const std::string& own_prefix,
                       const std::string& option = "--out");

}  // namespace diffscope
