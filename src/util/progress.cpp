// Progress bar on a terminal (stderr), plain spdlog lines otherwise.
#include "diffscope/util/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <spdlog/spdlog.h>

namespace diffscope {

Progress::Progress(std::string label, int total, bool quiet)
    : label_(std::move(label)),
      total_(total),
      quiet_(quiet),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (!finished_ && !quiet_ && tty_ && done_ > 0) std::fputs("\n", stderr);
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof(buf), "%ld:%02ld", s / 60, s % 60);
  return buf;
}

bool Progress::should_log(int done, int total) {
  if (total <= 0) return true;
  if (total <= 10 || done >= total) return true;
  // Log when crossing a 10% boundary.
  return (done * 10) / total != ((done - 1) * 10) / total;
}

std::string Progress::render_bar(const std::string& label, int done, int total, double elapsed_s,
                                 const std::string& status, int width) {
  std::string line = label + " ";
  if (total > 0) {
    int d = std::min(done, total);
    int filled = static_cast<int>(static_cast<long>(d) * width / total);
    line += "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    char buf[96];
    std::snprintf(buf, sizeof(buf), "%d/%d %3d%%", d, total, static_cast<int>(100L * d / total));
    line += buf;
    double eta = d > 0 ? elapsed_s / d * (total - d) : -1;
    line += "  ETA " + format_duration(eta);
  } else {
    line += std::to_string(done) + " done";
  }
  line += "  " + format_duration(elapsed_s);
  if (!status.empty()) line += "  " + status;
  return line;
}

void Progress::tick(const std::string& status) {
  ++done_;
  if (quiet_ || finished_) return;
  double t = elapsed();
  if (tty_) {
    std::string line = render_bar(label_, done_, total_, t, status);
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
  } else if (should_log(done_, total_)) {
    std::string where = total_ > 0 ? std::to_string(done_) + "/" + std::to_string(total_) : std::to_string(done_);
    double eta = total_ > 0 && done_ > 0 ? t / done_ * (total_ - done_) : -1;
    spdlog::info("{}: {}{}{}", label_, where, total_ > 0 ? "  ETA " + format_duration(eta) : std::string(),
                 status.empty() ? std::string() : "  " + status);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (quiet_) return;
  double t = elapsed();
  if (tty_ && done_ > 0) std::fputs("\n", stderr);
  spdlog::info("{}: {} step{} in {:.1f} s", label_, done_, done_ == 1 ? "" : "s", t);
}

}  // namespace diffscope
