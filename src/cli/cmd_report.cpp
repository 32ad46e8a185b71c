// `diffscope report`: one self-contained HTML page for run folders or one study folder (compare, batch, merge,
// saliency, features/probe, SAE).
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
  app.add_option("dirs", o->dirs,
                 "run folders (shown side by side on one slider), or one compare, batch, merge, saliency, features, probe "
                 "or SAE folder (its kind told from its files; a merge folder may take its batch folders after it, for "
                 "drill-down into each run)")
      ->required();
  app.add_option("-o,--out", o->out, "the HTML file to write (opens from disk; no network)")->required();
  app.add_option("--title", o->report.title, "page title (default: the prompt, the number of runs compared, or the study)");
  app.add_option("--max-table-rows", o->report.max_table_rows, "rows shown per CSV table")->default_val(60)
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--overwrite", o->report.overwrite, "replace an earlier report at -o (never another file)");
  app.add_flag("-q,--quiet", o->quiet, "print nothing");
  add_examples(app, {"diffscope report runs/demo -o runs/demo/report.html", "diffscope report runs/cmp -o cmp.html",
                     "diffscope report runs/a runs/b -o ab.html", "diffscope report runs/merged runs/batch -o study.html",
                     "diffscope report runs/feat -o probes.html", "diffscope report runs/sae -o sae.html"});
  return [o] {
    const ReportInfo r = write_report(o->dirs, o->out, o->report);
    if (!o->quiet)
      std::printf("%s: %s report, %d run(s), %d steps, %d words, %d figures, %d tables, %.1f KB\n", o->out.c_str(),
                  r.kind.c_str(), r.runs, r.steps, r.words, r.figures, r.tables, r.bytes / 1024.0);
    return 0;
  };
}

DIFFSCOPE_COMMAND({"report", "one self-contained HTML page of run folders or a study folder (compare, batch, merge, saliency, probe, SAE)",
                   17, setup});

}  // namespace
}  // namespace diffscope::cli
