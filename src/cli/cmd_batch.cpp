// `diffscope batch MANIFEST -o DIR` and `diffscope merge DIR... -o OUT`: batch studies and their tables.
#include <cstdio>
#include <memory>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "cli/generate_options.h"
#include "diffscope/study/batch_study.h"
#include "diffscope/study/manifest.h"
#include "diffscope/util/error.h"

namespace diffscope::cli {
namespace {

struct BatchOpts {
  GenerateCli g;
  AnalysisOptions a;
  std::string manifest, shard = "0/1";
  std::vector<std::string> analyses;
  bool resume = false;
};

Runner setup_batch(CLI::App& app) {
  auto o = std::make_shared<BatchOpts>();
  app.add_option("manifest", o->manifest,
                 "JSON lines (one object per run: id, prompt, negative_prompt, seed, steps, guidance, scheduler, "
                 "height, width, analyses, saliency, meta) or CSV with a header row")
      ->required()->check(CLI::ExistingFile);
  add_generate_options(app, o->g);  // -o is the batch folder; the others are the defaults a line may override
  add_analysis_options(app, o->a);
  app.add_option("--analyses", o->analyses,
                 "the analyses of a line without \"analyses\" (default: those analyze runs; none: none; saliency and "
                 "relevance run the model again)")
      ->delimiter(',');
  add_saliency_options(app, o->a.saliency, "saliency-");  // the defaults of a line's "saliency" settings
  add_batch_size_option(app, o->g.common);  // consecutive lines with the same loop settings
  app.add_option("--shard", o->shard, "run the share I of N of the lines (by line index, 0 <= I < N), e.g. a Slurm "
                                      "array task's $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT")
      ->default_val("0/1");
  app.add_flag("--resume", o->resume, "skip lines finished before with the same inputs and model; redo unfinished ones");
  add_examples(app, {"diffscope batch study.jsonl -o runs/study --scheduler ddim --guidance 5",
                     "diffscope batch study.jsonl -o runs/study --resume",
                     "diffscope batch study.csv -o runs/study --shard 2/8 --threads 2",
                     "diffscope merge runs/study -o runs/study-results --group-by meta.category"});
  return [o] {
    BatchSpec b;
    b.defaults = o->g.resolved();
    if (!b.defaults.prompt.empty()) throw Error("batch: the prompts come from the manifest; --prompt is not taken");
    b.manifest = o->manifest;
    b.out = b.defaults.out;
    b.overwrite = b.defaults.overwrite;
    b.resume = o->resume;
    b.analysis = o->a;
    for (const auto& a : o->analyses) b.analysis.which.insert(a);
    std::tie(b.shard, b.shards) = parse_shard(o->shard);
    apply_common_options(o->g.common);
    const BatchResult r = run_batch(b, o->g.common);
    if (!o->g.common.quiet) {
      std::printf("batch            %zu of %zu entries in this shard: %zu run, %zu done before, %zu failed, %zu bad lines\n",
                  r.selected, r.entries, r.done, r.skipped, r.failed, r.bad);
      if (!r.failures_file.empty()) std::printf("failures         %s\n", r.failures_file.c_str());
      std::printf("runs             %s/<id>/\n", b.out.c_str());
    }
    return r.failed || r.bad ? 1 : 0;
  };
}

struct MergeOpts {
  std::vector<std::string> dirs;
  std::string out, group_by;
  bool overwrite = false, quiet = false;
};

Runner setup_merge(CLI::App& app) {
  auto o = std::make_shared<MergeOpts>();
  app.add_option("dirs", o->dirs, "batch folders (diffscope batch -o), e.g. one per shard")->required();
  app.add_option("-o,--out", o->out, "output folder: runs.csv, runs.jsonl, aggregate.csv, summary.json")->required();
  app.add_option("--group-by", o->group_by, "also aggregate per value of a meta key: meta.KEY");
  app.add_flag("--overwrite", o->overwrite, "replace an earlier diffscope output in --out");
  app.add_flag("-q,--quiet", o->quiet, "print nothing on success");
  add_examples(app, {"diffscope merge runs/study -o runs/study-results",
                     "diffscope merge runs/shard-* -o results --group-by meta.category"});
  return [o] {
    apply_quiet(o->quiet);
    const Summary s = merge_batches(o->dirs, o->out, o->group_by, o->overwrite);
    if (!o->quiet) {
      const auto n = s.numbers();
      std::printf("merged           %.0f runs (%.0f failures recorded, %.0f unfinished)\n", n.at("runs"),
                  n.at("failures"), n.at("unfinished"));
      std::printf("tables           %s/runs.csv, %s/aggregate.csv\n", o->out.c_str(), o->out.c_str());
    }
    return 0;
  };
}

DIFFSCOPE_COMMAND({"batch", "a manifest of runs (JSON lines or CSV) into one folder each: one model load, --resume, --shard I/N", 17,
                   setup_batch});
DIFFSCOPE_COMMAND({"merge", "batch folders into one table (runs.csv) and per-key aggregates with 95% intervals", 18,
                   setup_merge});

}  // namespace
}  // namespace diffscope::cli
