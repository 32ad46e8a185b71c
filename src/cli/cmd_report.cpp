// `diffscope report`: one self-contained HTML page for run folders or a compare folder.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "diffscope/analysis/report.h"

namespace diffscope::cli {
namespace {

struct Opts {
  std::vector<std::string> dirs;
  std::string out;
  ReportOptions report;
  bool quiet = false;
};

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("dirs", o->dirs, "run folders (shown side by side on one slider) or a compare folder")->required();
  app.add_option("-o,--out", o->out, "the HTML file to write (opens from disk; no network)")->required();
  app.add_option("--title", o->report.title, "page title (default: the prompt, or the number of runs compared)");
  app.add_option("--max-table-rows", o->report.max_table_rows, "rows shown per CSV table")->default_val(60)
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--overwrite", o->report.overwrite, "replace an earlier report at -o (never another file)");
  app.add_flag("-q,--quiet", o->quiet, "print nothing");
  add_examples(app, {"diffscope report runs/demo -o runs/demo/report.html",
                     "diffscope report runs/cmp -o cmp.html", "diffscope report runs/a runs/b -o ab.html"});
  return [o] {
    const ReportInfo r = write_report(o->dirs, o->out, o->report);
    if (!o->quiet)
      std::printf("%s: %d run(s), %d steps, %d words, %d figures, %.1f KB\n", o->out.c_str(), r.runs, r.steps, r.words,
                  r.figures, r.bytes / 1024.0);
    return 0;
  };
}

DIFFSCOPE_COMMAND({"report", "one self-contained HTML page of run folders or a compare folder (slider, word overlays, figures)",
                   17, setup});

}  // namespace
}  // namespace diffscope::cli
