// `diffscope features` and `diffscope probe`: what the denoiser represents (Revelio).
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "diffscope/study/features_study.h"

namespace diffscope::cli {
namespace {

struct FeatureOpts {
  FeatureSpec spec;
  CommonOptions common;
};

Runner setup_features(CLI::App& app) {
  auto o = std::make_shared<FeatureOpts>();
  FeatureSpec& s = o->spec;
  app.add_option("-m,--model", s.model, "model package folder")->default_val(s.model);
  app.add_option("--dataset", s.dataset, "a diffscope-shapes folder (index.json) or an ImageFolder DIR/<class>/*.png|jpg")
      ->required();
  app.add_option("-o,--out", s.out, "folder to write features/, labels.csv and index.json into")->required();
  app.add_option("--t", s.timesteps, "timesteps to noise the images to (Revelio: 25)")->delimiter(',')->default_str("25")
      ->check(CLI::Range(0, 999));
  app.add_option("--layers", s.layers, "block outputs: indices, names (mid_block) or down/mid/up (default all; see "
                                       "diffscope info)")
      ->delimiter(',');
  app.add_option("--prompt", s.prompt, "prompt of the UNet pass (default empty); {label} is replaced by the image's "
                                       "class, {caption} by a shapes caption");
  app.add_option("--spatial", s.spatial, "also SxS adaptive-average features")->default_val(0)->check(CLI::Range(0, 64));
  app.add_option("--batch", s.batch, "images per denoiser call")->default_val(16)->check(CLI::Range(1, 1024));
  app.add_option("--limit", s.limit, "first N images only (0 = all)")->default_val(0)
      ->check(CLI::Range(0, 100000000));
  app.add_option("--seed", s.seed, "seed of the per-image noise and of the train/test split")->default_val(0)->check(seed_range());
  app.add_option("--test-fraction", s.test_fraction, "images held out for the probes")->default_val(0.25)
      ->check(finite_range(0.001, 0.999));
  app.add_option("--split", s.split_file, "a split file: lines \"<image relative to the dataset> <train|test>\" (images "
                                          "it does not list are left out); default a seeded split (--test-fraction)");
  app.add_flag("--overwrite", s.overwrite, "replace an earlier output in --out (else an unfinished one is resumed)");
  add_common_options(app, o->common);
  add_examples(app, {"diffscope features --dataset data/shapes --t 25,200,500 -o runs/feat",
                     "diffscope features -m models/sd15 --dataset ~/data/oxford-pets --layers mid,up --batch 8 -o runs/pets"});
  return [o] {
    apply_common_options(o->common);
    const FeatureSetInfo r = extract_dataset_features(o->spec, o->common);
    if (!o->common.quiet)
      std::printf("%s: %d images, %d layers x %d timesteps, %.1f images/s%s\n", o->spec.out.c_str(), r.images, r.layers,
                  r.timesteps, r.images_per_second,
                  r.resumed_at > 0 ? (" (resumed at image " + std::to_string(r.resumed_at) + ")").c_str() : "");
    return 0;
  };
}

struct ProbeOpts {
  ProbeSpec spec;
  CommonOptions common;
};

Runner setup_probe(CLI::App& app) {
  auto o = std::make_shared<ProbeOpts>();
  ProbeSpec& s = o->spec;
  app.add_option("--features", s.features, "a folder written by diffscope features")->required();
  app.add_option("-o,--out", s.out, "output folder (default: FEATURES/probe)");
  app.add_option("--labels", s.labels, "label columns to probe (default all)")->delimiter(',');
  app.add_option("--c", s.c, "inverse L2 strength, as scikit-learn's LogisticRegression(C)")->default_val(1.0)
      ->check(positive_finite(1e12));
  app.add_option("--heads", s.heads, "linear (pooled files), conv (spatial files, when extracted with --spatial)")
      ->delimiter(',')->default_str("linear,conv");
  app.add_option("--conv-hidden", s.conv_hidden, "convolutional head: channels of its 3x3 conv")->default_val(16)
      ->check(CLI::Range(1, 4096));
  app.add_option("--conv-epochs", s.conv_epochs, "convolutional head: training epochs")->default_val(15)->check(CLI::Range(1, 10000));
  app.add_option("--conv-lr", s.conv_lr, "convolutional head: Adam learning rate")->default_val(1e-2)
      ->check(positive_finite(10));
  app.add_option("--seed", s.seed, "convolutional head: initial weights and data order; the bootstrap's draws")
      ->default_val(0)->check(seed_range());
  app.add_option("--bootstrap", s.bootstrap,
                 "resamples of the test images for each accuracy's 95% percentile-bootstrap interval (0: none)")
      ->default_val(1000)->check(CLI::Range(0, 100000));
  app.add_flag("--overwrite", s.overwrite, "replace an earlier probe output");
  add_common_options(app, o->common);
  add_examples(app, {"diffscope probe --features runs/feat", "diffscope probe --features runs/feat --labels colour,shape",
                     "diffscope probe --features runs/feat --heads conv --conv-epochs 30"});
  return [o] {
    apply_common_options(o->common);
    const Summary s = probe_features(o->spec, o->common);
    if (!o->common.quiet) {
      const auto j = s.json();
      for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const bool head = k.size() > 5 && (k.compare(k.size() - 5, 5, ".best") == 0 || k.compare(k.size() - 7, 7, ".pixels") == 0 ||
                                           k.compare(k.size() - 7, 7, ".latent") == 0 || k.compare(k.size() - 7, 7, ".chance") == 0);
        if (head && it.value().is_number()) {
          std::printf("%-36s %.4f", k.c_str(), it.value().get<double>());
          if (j.contains(k + ".ci_lo") && j[k + ".ci_lo"].is_number() && j[k + ".ci_hi"].is_number())
            std::printf("  [%.4f, %.4f]", j[k + ".ci_lo"].get<double>(), j[k + ".ci_hi"].get<double>());
          std::printf("\n");
        }
        if (k.size() > 11 && k.compare(k.size() - 11, 11, ".best_layer") == 0)
          std::printf("%-36s %s\n", k.c_str(), it.value().get<std::string>().c_str());
      }
    }
    return 0;
  };
}

DIFFSCOPE_COMMAND({"features", "a dataset's UNet block outputs at chosen timesteps, pooled, streamed to .npy (Revelio)",
                   40, setup_features});
DIFFSCOPE_COMMAND({"probe", "linear probes of a features folder per layer x timestep x label, with pixel and latent baselines",
                   41, setup_probe});

}  // namespace
}  // namespace diffscope::cli
