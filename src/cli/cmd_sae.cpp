// `diffscope sae train` and `diffscope sae inspect`: k-sparse autoencoders on a features folder (Revelio).
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "diffscope/study/sae_study.h"

namespace diffscope::cli {
namespace {

struct SaeOpts {
  SaeTrainSpec train;
  SaeInspectSpec inspect;
  CommonOptions common;
  CLI::App* train_app = nullptr;
};

void print_numbers(const Summary& s) {
  for (const auto& [k, v] : s.json().items())
    if (v.is_number()) std::printf("%-40s %.4f\n", k.c_str(), v.get<double>());
}

Runner setup_sae(CLI::App& app) {
  auto o = std::make_shared<SaeOpts>();
  app.require_subcommand(1);
  CLI::App* tr = app.add_subcommand("train", "train a TopK sparse autoencoder on one layer x timestep of a features folder");
  o->train_app = tr;
  SaeTrainSpec& t = o->train;
  tr->add_option("--features", t.features, "a folder written by diffscope features")->required();
  tr->add_option("--layer", t.layer, "block output, as diffscope info names it (default: the folder's only layer)");
  tr->add_option("--t", t.t, "timestep (default: the folder's only timestep)")->check(CLI::Range(0, 999));
  tr->add_flag("--spatial", t.spatial, "train on the SxS token vectors (features --spatial S) instead of pooled ones");
  tr->add_option("-o,--out", t.out, "output folder (default: FEATURES/sae/<layer>_t<T>[_s<S>])");
  tr->add_option("--expansion", t.expansion, "latents per input channel")->default_val(8)->check(CLI::Range(1, 1024));
  tr->add_option("--k", t.k, "latents kept per vector (TopK)")->default_val(32)->check(CLI::Range(1, 1 << 20));
  tr->add_option("--batch", t.batch, "vectors per step")->default_val(1024)->check(CLI::Range(1, 1 << 20));
  tr->add_option("--epochs", t.epochs, "passes over the train split")->default_val(10)->check(CLI::Range(1, 100000));
  tr->add_option("--lr", t.lr, "Adam learning rate after warm-up")->default_val(4e-4)->check(positive_finite(10));
  tr->add_option("--warmup", t.warmup, "linear learning-rate warm-up steps")->default_val(100)->check(CLI::Range(0, 10000000));
  tr->add_option("--seed", t.seed, "initial weights and data order")->default_val(0)->check(seed_range());
  tr->add_flag("--overwrite", t.overwrite, "replace an earlier SAE in --out");
  add_common_options(*tr, o->common);
  add_examples(*tr, {"diffscope sae train --features runs/feat --layer mid_block --t 25",
                     "diffscope sae train --features runs/feat --layer up_blocks.1 --t 25 --spatial --expansion 16 --k 8"});

  CLI::App* in = app.add_subcommand("inspect", "top-activating images per latent, contact sheets, monosemanticity table");
  SaeInspectSpec& i = o->inspect;
  in->add_option("--sae", i.sae, "a folder written by diffscope sae train")->required();
  in->add_option("-o,--out", i.out, "output folder (default: SAE/inspect)");
  in->add_option("--top", i.top, "top-activating images per latent")->default_val(10)->check(CLI::Range(2, 100));
  in->add_option("--sheets", i.sheets, "contact sheets for this many of the most monosemantic latents")
      ->default_val(16)->check(CLI::Range(0, 100000));
  in->add_option("--min-images", i.min_images, "latents active on fewer images are not scored")
      ->default_val(10)->check(CLI::Range(1, 100000000));
  in->add_option("--seed", i.seed, "seed of the random-direction control")->default_val(0)->check(seed_range());
  in->add_flag("--overwrite", i.overwrite, "replace an earlier inspection in --out");
  add_common_options(*in, o->common);
  add_examples(*in, {"diffscope sae inspect --sae runs/feat/sae/mid_block_t25"});
  return [o] {
    apply_common_options(o->common);
    if (o->train_app->parsed()) {
      const Summary s = sae_train(o->train, o->common);
      if (!o->common.quiet) print_numbers(s);
    } else {
      const Summary s = sae_inspect(o->inspect, o->common);
      if (!o->common.quiet) print_numbers(s);
    }
    return 0;
  };
}

DIFFSCOPE_COMMAND({"sae", "k-sparse autoencoders on features: sae train, sae inspect (Revelio)", 42, setup_sae});

}  // namespace
}  // namespace diffscope::cli
