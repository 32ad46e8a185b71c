// diffscope: entry point. Parses the subcommand, runs it, and turns every failure into one line + exit code.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <alloca.h>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cli/command.h"
#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/engine/runtime.h"
#include "diffscope/version.h"

namespace diffscope::cli {

namespace {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}
}  // namespace

int register_command(Command c) {
  registry().push_back(std::move(c));
  return static_cast<int>(registry().size());
}

const std::vector<Command>& commands() { return registry(); }

const CLI::Validator& seed_range() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        static const std::string kMax = "9223372036854775807";
        const bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
        std::string t = s.substr(std::min(s.find_first_not_of('0'), s.size()));
        if (!digits || t.size() > kMax.size() || (t.size() == kMax.size() && t > kMax))
          return "expected 0.." + kMax + ", got " + s;
        return "";
      },
      "0..2^63-1");
  return v;
}

namespace {
/// A number as the shortest text that reads back (1e-06, 4096, 0.5): ranges in messages stay short.
std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// Reads `s` as one number (false when it is not: the option's own conversion then refuses it, naming the option).
bool read_double(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}
}  // namespace

CLI::Validator finite_range(double lo, double hi, const std::string& what) {
  const bool bounded = std::isfinite(lo) || std::isfinite(hi);
  const std::string range = (what.empty() ? "" : what + " ") +
                            (!bounded ? "a finite number"
                             : !std::isfinite(hi) ? "a finite number >= " + short_number(lo)
                             : !std::isfinite(lo) ? "a finite number <= " + short_number(hi)
                                                  : short_number(lo) + ".." + short_number(hi));
  return CLI::Validator(
      [lo, hi, range](std::string& s) -> std::string {
        double v = 0;
        if (!read_double(s, v)) return "";  // not a number: the type's conversion refuses it, naming the option
        if (!std::isfinite(v) || v < lo || v > hi) return "expected " + range + ", got " + s;
        return "";
      },
      !bounded ? "" : !std::isfinite(hi) ? ">= " + short_number(lo) : !std::isfinite(lo) ? "<= " + short_number(hi)
                                                     : "in " + short_number(lo) + ".." + short_number(hi));
}

CLI::Validator positive_finite(double hi) {
  const std::string range = "a finite number > 0 and <= " + short_number(hi);
  return CLI::Validator(
      [hi, range](std::string& s) -> std::string {
        double v = 0;
        if (!read_double(s, v)) return "";
        if (!std::isfinite(v) || !(v > 0) || v > hi) return "expected " + range + ", got " + s;
        return "";
      },
      "in (0, " + short_number(hi) + "]");
}

const CLI::Validator& non_empty() {
  static const CLI::Validator v([](std::string& s) -> std::string { return s.empty() ? "expected a value, got \"\"" : ""; },
                                "");
  return v;
}

const CLI::Validator& colormap_name() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        try {
          parse_colormap(s);
        } catch (const Error& e) {
          return e.what();
        }
        return "";
      },
      "");
  return v;
}

void require_finite_floats(CLI::App& app) {
  static const CLI::Validator finite = finite_range(-HUGE_VAL, HUGE_VAL);
  for (CLI::Option* opt : app.get_options())
    if (opt->get_type_name().rfind("FLOAT", 0) == 0) opt->check(finite);
  // subcommands, and option groups (unnamed subcommands holding their own options)
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) require_finite_floats(*sub);
}

void add_common_options(CLI::App& app, CommonOptions& o) {
  app.add_option("--threads", o.threads, "LibTorch threads (0 = every core this process may use: its affinity mask and CPU quota; default: "
                 "$DIFFSCOPE_THREADS, else 0)")
      ->default_val(0)
      ->envname("DIFFSCOPE_THREADS")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--device", o.device, "cpu, cuda or cuda:N")->default_val("cpu");
  app.add_option("--precision", o.precision,
                 "the denoiser's arithmetic: fp32, bf16 (autocast; about 1.7x faster on CPUs with AVX-512 BF16, "
                 "outputs move: docs/performance.md#reduced-precision) or fp16 (CUDA)")
      ->default_val("fp32")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  app.add_flag("-q,--quiet", o.quiet, "only warnings and errors; no progress bar");
  app.add_flag("!--no-verify", o.verify,
               "skip the CRC-32 check of the package's TorchScript files when loading it (it runs on a thread beside "
               "the load: about 0.3 s per GB of CPU time with PCLMULQDQ, 0.5 s without; little wall time on 2 or more cores)");
}

void apply_quiet(bool quiet) { spdlog::set_level(quiet ? spdlog::level::warn : spdlog::level::info); }

std::string apply_common_options(const CommonOptions& o) {
  apply_quiet(o.quiet);
  const std::string device = check_device(o.device);
  const int n = set_threads(o.threads);
  spdlog::debug("threads: {}", n);
  return device;
}

void add_examples(CLI::App& app, const std::vector<std::string>& lines) {
  std::string f = "\nExamples:\n";
  for (const auto& l : lines) f += "  " + l + "\n";
  app.footer(f);
}

}  // namespace diffscope::cli

namespace {
/// OpenMP threads that wait passively: libgomp spin-waits between parallel regions by default, so several diffscope
/// processes on one machine burn each other's cores (4 at once on 2 cores took 14x the CPU time of the same 4 in
/// turn). libgomp reads OMP_WAIT_POLICY in its initialiser, and libc's own initialiser, which runs earlier, resets the
/// environment to the one the process started with, so the process starts itself again, once, with the variable
/// set. It does so from the executable's pre-initialisation array, which the dynamic loader runs before any shared
/// library's initialiser: the second start costs the loader's mapping of the libraries (about 25 ms), not LibTorch's
/// initialisers (0.5 s, when this ran in main). A value the user set (e.g. OMP_WAIT_POLICY=ACTIVE for a dedicated
/// machine) is kept. libc is not initialised yet here: the environment is read from envp and only execve is called.
void passive_openmp_threads(int, char** argv, char** envp) {
  static const char kSet[] = "OMP_WAIT_POLICY=PASSIVE";
  size_t n = 0;
  for (; envp && envp[n]; ++n)
    if (std::strncmp(envp[n], kSet, 16) == 0) return;  // "OMP_WAIT_POLICY=": set by the user, or by this, once
  char** env = static_cast<char**>(alloca((n + 2) * sizeof(char*)));
  for (size_t i = 0; i < n; ++i) env[i] = envp[i];
  env[n] = const_cast<char*>(kSet);
  env[n + 1] = nullptr;
  execve("/proc/self/exe", argv, env);  // returns only on failure: go on with libgomp's default policy
}
}  // namespace

// Only an executable's .preinit_array runs this early (ELF's own mechanism; the sanitizers' runtimes use it too).
__attribute__((section(".preinit_array"), used)) static void (*const diffscope_preinit)(int, char**, char**) =
    passive_openmp_threads;

int main(int argc, char** argv) {
  using namespace diffscope;
  keep_freed_memory();
  auto logger = spdlog::stderr_color_mt("diffscope");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%H:%M:%S %l]%$ %v");
  spdlog::set_level(spdlog::level::info);

  CLI::App app{"diffscope " DIFFSCOPE_VERSION
               ": explain how a text-to-image diffusion model turns a prompt into an image"};
  app.set_version_flag("--version", std::string("diffscope ") + DIFFSCOPE_VERSION + " (LibTorch " + torch_version() + ")");
  app.require_subcommand(1);
  cli::add_examples(app, {"diffscope generate --model models/shapes-v1 --prompt \"a red circle\" --out runs/red",
                          "diffscope analyze --model models/shapes-v1 --prompt \"a red circle and a blue square\" --out runs/rb",
                          "diffscope <command> --help"});

  std::vector<cli::Command> cmds = cli::commands();
  for (auto& c : cli::analysis_commands()) cmds.push_back(std::move(c));
  std::stable_sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, cli::Runner>> runners;
  for (const auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    runners.emplace_back(sub, c.setup(*sub));
  }

  cli::require_finite_floats(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    std::cerr << "diffscope: error: " << msg << " (see diffscope --help)\n";
    return kExitBadInput;
  }

  for (auto& [sub, run] : runners) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const Error& e) {
      std::cerr << "diffscope: error: " << e.what() << "\n";
      return e.exit_code();
    } catch (const std::bad_alloc&) {
      std::cerr << "diffscope: error: out of memory (try a smaller --height/--width, fewer steps, or --batch)\n";
      return kExitFailure;
    } catch (const std::exception& e) {
      std::string msg = e.what();
      msg = msg.substr(0, msg.find('\n'));
      std::cerr << "diffscope: error: " << msg << "\n";
      return kExitFailure;
    }
  }
  return kExitFailure;
}
