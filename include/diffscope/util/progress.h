// Progress reporting: a bar with ETA on a terminal (stderr), plain log lines otherwise.
#pragma once
#include <chrono>
#include <string>

namespace diffscope {

/// Reports progress of `total` steps. On a TTY (stderr) redraws one line
/// "label [#####.....] 12/50  24%  ETA 0:31  status"; otherwise logs an spdlog info line every ~10%
/// (every step when total <= 10). `quiet` silences it. total <= 0 means unknown (counts only).
class Progress {
 public:
  Progress(std::string label, int total, bool quiet);
  /// Ends the line on a TTY if finish() was not called.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// One step done; `status` is shown after the bar (e.g. "t=981").
  void tick(const std::string& status = "");
  /// Ends the bar and logs the total time. Further calls do nothing.
  void finish();
  /// Steps done so far.
  int done() const { return done_; }

  /// The bar line shown on a terminal (no "\r"), `width` characters of bar.
  static std::string render_bar(const std::string& label, int done, int total, double elapsed_s,
                                const std::string& status, int width = 30);
  /// "m:ss" (or "h:mm:ss") for a duration in seconds; "?" when negative or not finite.
  static std::string format_duration(double seconds);
  /// Whether step `done` of `total` gets a log line when not on a terminal.
  static bool should_log(int done, int total);

 private:
  double elapsed() const;
  std::string label_;
  int total_;
  bool quiet_;
  bool tty_;
  bool finished_ = false;
  int done_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace diffscope
