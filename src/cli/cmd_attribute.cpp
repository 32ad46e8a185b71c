// `diffscope attribute`: heatmaps and AUC for a real image (or a whole shapes-format dataset folder).
#include <cstdio>
#include <memory>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "diffscope/study/attribution_study.h"
#include "diffscope/util/error.h"

namespace diffscope::cli {
namespace {

struct Opts {
  CommonOptions common;
  AttributionSpec spec;
  AnalysisOptions a;
};

int run(const Opts& o) {
  apply_common_options(o.common);
  if (o.spec.dataset.empty() == o.spec.image.empty())
    throw Error("attribute: give exactly one of --image or --dataset");
  if (!o.spec.image.empty()) {
    auto s = attribute_image(o.spec, o.a, o.common);
    if (!o.common.quiet) print_summary(s, o.spec.out);
    return 0;
  }
  const Summary s = attribute_dataset(o.spec, o.a, o.common);
  if (!o.common.quiet) {
    const auto j = s.json();
    for (const auto& [k, v] : j.items()) {
      // auc.class.<class>.roc_auc.mean
      const std::string pre = "auc.class.", post = ".roc_auc.mean";
      if (k.size() <= pre.size() + post.size() || k.compare(0, pre.size(), pre) != 0 ||
          k.compare(k.size() - post.size(), post.size(), post) != 0 || !v.is_number())
        continue;
      const std::string cls = k.substr(pre.size(), k.size() - pre.size() - post.size());
      const std::string n = k.substr(0, k.size() - 5) + ".n";
      std::printf("%-10s mean ROC-AUC %.4f over %lld words\n", cls.c_str(), v.get<double>(),
                  static_cast<long long>(j.value(n, int64_t{0})));
    }
    std::printf("summary          %s/summary.json\n", o.spec.out.c_str());
  }
  return 0;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  AttributionSpec& s = o->spec;
  app.add_option("-m,--model", s.model, "model package folder")->default_val(s.model);
  app.add_option("-i,--image", s.image, "an image to explain (resized to the model's size)");
  app.add_option("-p,--prompt", s.prompt, "the text describing it");
  app.add_option("--dataset", s.dataset, "a shapes-format dataset folder: every item, mean AUC per word class");
  app.add_option("--limit", s.limit, "with --dataset: only the first N items (default all)")
      ->check(CLI::Range(1, 100000000));
  app.add_option("-o,--out", s.out, "output folder")->required();
  app.add_flag("--overwrite", s.overwrite, "replace an earlier diffscope output in --out");
  app.add_option("--t", s.timesteps, "timesteps to noise the image to, one UNet pass each")->delimiter(',')
      ->check(CLI::Range(0, 999));
  app.add_option("-g,--guidance", s.guidance, "> 1 runs the guided UNet")->default_val(1.0)
      ->check(finite_range(0, 1000));
  app.add_option("--seed", s.seed, "seed of the one noise draw shared by every t")->default_val(0)->check(seed_range());
  app.add_option("-n,--negative-prompt", s.negative_prompt, "negative prompt for the guided pass");
  add_analysis_options(app, o->a);
  add_common_options(app, o->common);
  add_examples(app, {"diffscope attribute -i photo.png -p \"a red circle\" --t 100,300,600 -o runs/photo",
                     "diffscope attribute --dataset data/heldout --limit 50 -o runs/heldout"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"attribute", "attention heatmaps and AUC for a real image or a dataset folder", 50, setup});

}  // namespace
}  // namespace diffscope::cli
