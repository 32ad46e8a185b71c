// Claiming output folders (see output_folder.h).
#include "diffscope/util/output_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <vector>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"

namespace fs = std::filesystem;

namespace diffscope {

namespace {
const char* const kLock = ".diffscope.lock";

/// What diffscope writes at the top of a run folder or a set folder.
bool written_by_diffscope(const std::string& name) {
  static const std::set<std::string> known{
      "run.json",     "summary.json",    "latents.npy", "final.png",   "attention",       "steps",
      "heatmaps",     "tables",          "plots",       "masks",       "saliency",        "items",
      "prompts.csv",  "attribution.csv", "saliency_prompts.csv",       "deletion_mean.png", "insertion_mean.png",
      "deletion_mean.svg", "insertion_mean.svg",     "deletion_mean.pdf", "insertion_mean.pdf",
      "runs",         "report.html",     "groups.csv",  "features",    "labels.csv",      "index.json",
      "progress.json", "probe",          "sae",         "weights",     "config.json",     "inspect",
      "batch.json",   "over_steps.csv",  "deletion_over_steps.png", "insertion_over_steps.png",
      "deletion_over_steps.svg", "insertion_over_steps.svg", "deletion_over_steps.pdf", "insertion_over_steps.pdf",
      "runs.csv",     "runs.jsonl",      "aggregate.csv", "failures.jsonl"};
  static const std::regex run_folder("[0-9]{3,}"), temp_file("\\..+\\.tmp-[0-9]+-[0-9]+"),
      merged("aggregate_by_[A-Za-z0-9_-]+\\.csv");
  return known.count(name) || std::regex_match(name, run_folder) || std::regex_match(name, temp_file) ||
         std::regex_match(name, merged);
}
}  // namespace

OutputFolder::OutputFolder(OutputFolder&& o) noexcept : path_(std::move(o.path_)), lock_(std::move(o.lock_)), fd_(o.fd_) {
  o.fd_ = -1;
}

OutputFolder& OutputFolder::operator=(OutputFolder&& o) noexcept {
  if (this != &o) {
    this->~OutputFolder();
    path_ = std::move(o.path_);
    lock_ = std::move(o.lock_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

OutputFolder::~OutputFolder() {
  if (fd_ >= 0) {
    ::unlink(lock_.c_str());  // still ours: the lock is released only by the close below
    ::close(fd_);
    fd_ = -1;
  }
}

OutputFolder claim_output_folder(const std::string& dir, bool overwrite, const std::string& option) {
  return claim_output_folder(dir, overwrite ? Claim::Overwrite : Claim::Fresh, option);
}

OutputFolder claim_output_folder(const std::string& dir, Claim how, const std::string& option) {
  const bool overwrite = how == Claim::Overwrite;
  if (dir.empty()) throw Error(option + ": expected a folder, got an empty string");
  if (fs::exists(dir) && !fs::is_directory(dir)) throw Error(option + " " + dir + ": exists and is not a folder");
  ensure_dir(dir);
  OutputFolder f;
  f.path_ = dir;
  f.lock_ = (fs::path(dir) / kLock).string();
  f.fd_ = ::open(f.lock_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (f.fd_ < 0) throw Error(option + " " + dir + ": cannot be written (creating " + kLock + " failed)");
  if (::flock(f.fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(f.fd_);
    f.fd_ = -1;  // not ours: leave the other run's lock file alone
    throw Error(option + " " + dir + ": another diffscope run is writing into this folder; wait for it or choose "
                "another folder");
  }
  if (how == Claim::Resume) return f;
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != kLock) entries.push_back(e.path().filename().string());
  if (entries.empty()) return f;
  const bool is_run = std::count(entries.begin(), entries.end(), "run.json") > 0;
  if (!overwrite)
    throw Error(option + " " + dir +
                (is_run ? ": already holds a run (run.json); pass --overwrite to replace it, or choose another folder"
                        : ": is not empty; choose a new or empty folder (--overwrite replaces an earlier diffscope "
                          "output there)"));
  std::sort(entries.begin(), entries.end());
  for (const auto& e : entries)
    if (!written_by_diffscope(e))
      throw Error(option + " " + dir + ": holds \"" + e + "\", which diffscope does not write; refusing to overwrite "
                  "(choose another folder)");
  std::error_code ec;
  fs::remove(fs::path(dir) / "run.json", ec);  // first: a half-cleared folder never looks like a complete run
  for (const auto& e : entries) {
    fs::remove_all(fs::path(dir) / e, ec);
    if (ec) throw Error(option + " " + dir + ": cannot remove the earlier output \"" + e + "\" (" + ec.message() + ")");
  }
  return f;
}

void claim_output_file(const std::string& path, bool overwrite, const std::string& own_prefix, const std::string& option) {
  if (path.empty()) throw Error(option + ": expected a file name, got an empty string");
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (fs::is_directory(st))
    throw Error(option + " " + path + ": is a folder; expected the file to write (e.g. " +
                (fs::path(path) / "report.html").string() + ")");
  if (!fs::exists(st)) return;
  if (!fs::is_regular_file(st)) throw Error(option + " " + path + ": exists and is not a regular file; choose another name");
  if (!overwrite)
    throw Error(option + " " + path + ": already exists; pass --overwrite to replace an earlier output, or choose "
                "another name");
  std::ifstream in(path, std::ios::binary);
  std::string head(own_prefix.size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (!in || head != own_prefix)
    throw Error(option + " " + path + ": is not a file this command writes (an input or another file); refusing to "
                "replace it even with --overwrite (choose another name)");
}

}  // namespace diffscope
