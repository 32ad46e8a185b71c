// Per-layer and per-head localisation scores from the kept arrays (see layer_scores.h).
#include "diffscope/analysis/layer_scores.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "diffscope/analysis/heatmaps.h"
#include "diffscope/analysis/registry.h"
#include "diffscope/analysis/scores.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/util/matrix_plot.h"
#include "diffscope/util/npy.h"

namespace diffscope {

namespace {

std::vector<std::string> split_commas(const std::string& spec) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= spec.size()) {
    const size_t comma = std::min(spec.find(',', at), spec.size());
    out.push_back(spec.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

std::vector<size_t> select_layers(const std::string& spec, const std::vector<CapturedLayer>& layers) {
  std::vector<size_t> out;
  if (spec == "all") {
    for (size_t i = 0; i < layers.size(); ++i) out.push_back(i);
    return out;
  }
  for (const std::string& item : split_commas(spec)) {
    if (item.empty()) throw Error("--select-layers " + spec + ": an empty item (expected indices or name parts separated by commas)");
    bool found = false;
    for (size_t i = 0; i < layers.size(); ++i) {
      const bool hit = all_digits(item) ? layers[i].index == std::stoi(item) : layers[i].name.find(item) != std::string::npos;
      if (hit) found = true, out.push_back(i);
    }
    if (!found)
      throw Error("--select-layers " + spec + ": \"" + item + "\" matches no captured layer (" +
                  std::to_string(layers.size()) + " captured; see run.json model.attention_layers and attention.layers)");
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int> select_heads(const std::string& spec, int max_heads) {
  std::vector<int> out;
  if (spec == "all") {
    for (int h = 0; h < max_heads; ++h) out.push_back(h);
    return out;
  }
  for (const std::string& item : split_commas(spec)) {
    if (!all_digits(item) || std::stoi(item) >= max_heads)
      throw Error("--select-heads " + spec + ": expected head indices 0.." + std::to_string(max_heads - 1) +
                  " separated by commas");
    out.push_back(std::stoi(item));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string short_layer_name(const std::string& name) {
  const std::string tail = ".transformer_blocks.0.attn2";
  if (name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0)
    return name.substr(0, name.size() - tail.size());
  return name;
}

namespace {

/// Mean of finite values.
struct Mean {
  double sum = 0;
  int n = 0;
  void add(double v) {
    if (std::isfinite(v)) sum += v, ++n;
  }
  double get() const { return n ? sum / n : std::numeric_limits<double>::quiet_NaN(); }
};

/// A word's map from a latent-grid token stack (tokens x h x w at `tokens`): the mean of its sub-token maps
/// (RunFolder::word_map's order), upsampled bicubically to the image and min-max scaled, as heatmaps are.
std::vector<float> word_image(const float* tokens, const Word& word, const RunFolder& run) {
  const size_t hw = static_cast<size_t>(run.h) * run.w;
  std::vector<float> m(hw, 0.f);
  for (int p : word.positions)
    for (size_t i = 0; i < hw; ++i) m[i] += tokens[static_cast<size_t>(p) * hw + i];
  const float n = static_cast<float>(std::max<size_t>(1, word.positions.size()));
  for (auto& v : m) v /= n;
  auto img = upsample_map(m, run.h, run.w, run.image_h, run.image_w);
  normalize_minmax(img);
  return img;
}

/// Scores of one map for every masked word: own ROC-AUC, cross-word AUC, specificity.
struct WordScores {
  double auc, vs, spec;
};

struct Scorer {
  const RunFolder& run;
  const std::vector<Word>& words;
  const std::vector<std::string>& keys;
  const WordMasks& masks;
  /// calls f(k, scores) for every masked word k, for the token stack at `tokens`
  template <typename F>
  void each(const float* tokens, F f) const {
    for (size_t k = 0; k < words.size(); ++k) {
      if (!masks.has(words[k].text)) continue;
      const auto img = word_image(tokens, words[k], run);
      const double auc = masks.own_auc(img, words[k].text), vs = masks.vs_others_auc(img, words[k].text);
      f(k, WordScores{auc, vs, auc - vs});
    }
  }
};

std::string step_label(int step) { return std::to_string(step); }

std::string layer_label(const CapturedLayer& l) {
  return std::to_string(l.index) + " " + short_layer_name(l.name) + " " + std::to_string(l.height) + "x" +
         std::to_string(l.width);
}

/// The mean map of the selected rows (and heads) of one kept array, as a token stack [tokens, h, w]: for per-head
/// arrays, each layer's mean over its selected heads (those it has), then the mean over the selected layers,
/// accumulated in the capture's order so that selecting everything reproduces attention/maps.npy.
std::vector<float> selection_stack(const NpyArray& a, bool heads, const std::vector<size_t>& rows,
                                   const std::vector<int>& head_sel, const std::vector<CapturedLayer>& layers) {
  const size_t stack = static_cast<size_t>(a.shape[heads ? 2 : 1] * a.shape[heads ? 3 : 2] * a.shape[heads ? 4 : 3]);
  const size_t per_row = heads ? static_cast<size_t>(a.shape[1]) * stack : stack;
  std::vector<float> sum(stack, 0.f);
  for (size_t r : rows) {
    const float* base = a.data.data() + r * per_row;
    if (!heads) {
      for (size_t i = 0; i < stack; ++i) sum[i] += base[i];
      continue;
    }
    std::vector<float> layer(stack, 0.f);
    int used = 0;
    for (int h : head_sel) {
      if (h >= layers[r].heads) continue;
      for (size_t i = 0; i < stack; ++i) layer[i] += base[static_cast<size_t>(h) * stack + i];
      ++used;
    }
    if (!used) continue;
    for (size_t i = 0; i < stack; ++i) sum[i] += layer[i] / static_cast<float>(used);
  }
  for (auto& v : sum) v /= static_cast<float>(std::max<size_t>(1, rows.size()));
  return sum;
}

void do_layers(const AnalysisInput& in, AnalysisKeys& s) {
  const RunFolder& run = in.run;
  const AnalysisOptions& o = in.options;
  const bool asked = o.which.count("layers") > 0;
  const std::vector<int> layer_steps = run.kept_steps(false), head_steps = run.kept_steps(true);
  if (layer_steps.empty() && head_steps.empty()) {
    if (asked || !o.select_layers.empty() || !o.select_heads.empty())
      throw Error(run.path("run.json") + ": no per-layer or per-head maps were kept (generate with --keep-layers STEPS "
                  "and/or --keep-heads STEPS, e.g. --keep-layers 0,12,24)");
    return;
  }
  std::string source;
  const auto mask_images = ground_truth_masks(run, o, source);
  if (mask_images.empty()) {
    if (asked) throw Error("layers: no masks to score against (" + source + "; give --masks DIR or use a package with concepts.json)");
    return;
  }
  const auto layers = run.captured_layers();
  const auto words = run.content_words();
  const auto keys = word_keys(words);
  const WordMasks masks(mask_images, run.image_h, run.image_w);
  const Scorer scorer{run, words, keys, masks};
  const size_t hw_tokens = static_cast<size_t>(run.num_tokens) * run.h * run.w;
  ensure_dir(run.path("tables"));
  ensure_dir(run.path("plots"));

  // per layer
  std::vector<std::vector<Mean>> auc_cell(layers.size(), std::vector<Mean>(layer_steps.size())),
      spec_cell(layers.size(), std::vector<Mean>(layer_steps.size()));
  std::vector<Mean> layer_auc(layers.size()), layer_spec(layers.size());
  if (!layer_steps.empty()) {
    CsvWriter csv(run.path("tables/auc_layers.csv"), {"word", "step", "timestep", "layer", "name", "resolution",
                                                      "roc_auc", "roc_auc_vs_others", "specificity"});
    for (size_t si = 0; si < layer_steps.size(); ++si) {
      const int step = layer_steps[si];
      const NpyArray a = run.read_kept(step, false);
      for (size_t r = 0; r < layers.size(); ++r) {
        scorer.each(a.data.data() + r * hw_tokens, [&](size_t k, const WordScores& sc) {
          csv.cell(keys[k]).cell(static_cast<int64_t>(step)).cell(run.timesteps[static_cast<size_t>(step)]);
          csv.cell(static_cast<int64_t>(layers[r].index)).cell(layers[r].name);
          csv.cell(std::to_string(layers[r].height) + "x" + std::to_string(layers[r].width));
          csv.cell(sc.auc).cell(sc.vs).cell(sc.spec);
          csv.end_row();
          auc_cell[r][si].add(sc.auc), spec_cell[r][si].add(sc.spec);
          layer_auc[r].add(sc.auc), layer_spec[r].add(sc.spec);
        });
      }
    }
    csv.commit();
    int best = -1, worst = -1;
    for (size_t r = 0; r < layers.size(); ++r) {
      s["auc.layer." + layers[r].name + ".roc_auc"] = layer_auc[r].get();
      s["auc.layer." + layers[r].name + ".specificity"] = layer_spec[r].get();
      if (!layer_auc[r].n) continue;
      if (best < 0 || layer_auc[r].get() > layer_auc[static_cast<size_t>(best)].get()) best = static_cast<int>(r);
      if (worst < 0 || layer_auc[r].get() < layer_auc[static_cast<size_t>(worst)].get()) worst = static_cast<int>(r);
    }
    if (best >= 0) {
      s["auc.layers.best.layer"] = layers[static_cast<size_t>(best)].index;
      s["auc.layers.best.roc_auc"] = layer_auc[static_cast<size_t>(best)].get();
      s["auc.layers.worst.layer"] = layers[static_cast<size_t>(worst)].index;
      s["auc.layers.worst.roc_auc"] = layer_auc[static_cast<size_t>(worst)].get();
    }
    // the layer x step figures, with each layer's mean over the kept steps as the last column
    for (const bool spec : {false, true}) {
      MatrixFigure f;
      for (int st : layer_steps) f.col_labels.push_back(step_label(st));
      f.col_labels.push_back("mean");
      for (size_t r = 0; r < layers.size(); ++r) {
        f.row_labels.push_back(layer_label(layers[r]));
        std::vector<double> row;
        for (size_t si = 0; si < layer_steps.size(); ++si) row.push_back((spec ? spec_cell : auc_cell)[r][si].get());
        row.push_back((spec ? layer_spec : layer_auc)[r].get());
        f.values.push_back(row);
      }
      f.xlabel = "step (0-based)";
      f.ylabel = "cross-attention layer";
      if (spec) {
        f.title = "Word specificity per layer (own minus other-object ROC-AUC, mean over words)";
        f.lo = -1, f.hi = 1;
        f.colormap = Colormap::Turbo;
        f.scale_label = "ROC-AUC difference, fixed -1 to 1";
      } else {
        f.title = "ROC-AUC per layer and step (mean over masked words)";
        f.scale_label = "ROC-AUC, fixed 0-1";
      }
      write_matrix_plot(run.path(spec ? "plots/specificity_layers.png" : "plots/auc_layers.png"), f);
    }
  }

  // per head
  if (!head_steps.empty()) {
    int max_heads = 0;
    for (const auto& l : layers) max_heads = std::max(max_heads, l.heads);
    std::vector<std::vector<Mean>> head_auc(layers.size(), std::vector<Mean>(static_cast<size_t>(max_heads)));
    CsvWriter csv(run.path("tables/auc_heads.csv"), {"word", "step", "timestep", "layer", "name", "head", "roc_auc",
                                                     "roc_auc_vs_others", "specificity"});
    for (int step : head_steps) {
      const NpyArray a = run.read_kept(step, true);
      const size_t stored_heads = static_cast<size_t>(a.shape[1]);
      for (size_t r = 0; r < layers.size(); ++r)
        for (int h = 0; h < layers[r].heads && static_cast<size_t>(h) < stored_heads; ++h) {
          const float* tokens = a.data.data() + (r * stored_heads + static_cast<size_t>(h)) * hw_tokens;
          scorer.each(tokens, [&](size_t k, const WordScores& sc) {
            csv.cell(keys[k]).cell(static_cast<int64_t>(step)).cell(run.timesteps[static_cast<size_t>(step)]);
            csv.cell(static_cast<int64_t>(layers[r].index)).cell(layers[r].name).cell(static_cast<int64_t>(h));
            csv.cell(sc.auc).cell(sc.vs).cell(sc.spec);
            csv.end_row();
            head_auc[r][static_cast<size_t>(h)].add(sc.auc);
          });
        }
    }
    csv.commit();
    MatrixFigure f;
    for (int h = 0; h < max_heads; ++h) f.col_labels.push_back("head " + std::to_string(h));
    for (size_t r = 0; r < layers.size(); ++r) {
      f.row_labels.push_back(layer_label(layers[r]));
      std::vector<double> row;
      for (int h = 0; h < max_heads; ++h) {
        const double v = head_auc[r][static_cast<size_t>(h)].get();
        row.push_back(v);
        if (h < layers[r].heads)
          s["auc.head." + layers[r].name + ".h" + std::to_string(h) + ".roc_auc"] = v;
      }
      f.values.push_back(row);
    }
    std::string steps_text;
    for (int st : head_steps) steps_text += (steps_text.empty() ? "" : ",") + std::to_string(st);
    f.title = "ROC-AUC per head (mean over masked words, step" + std::string(head_steps.size() > 1 ? "s " : " ") + steps_text + ")";
    f.xlabel = "head";
    f.ylabel = "cross-attention layer";
    f.scale_label = "ROC-AUC, fixed 0-1";
    write_matrix_plot(run.path("plots/auc_heads.png"), f);
  }

  // a selection made now, from the kept arrays
  if (!o.select_layers.empty() || !o.select_heads.empty()) {
    const bool heads = !o.select_heads.empty();
    const std::vector<int>& steps = heads ? head_steps : layer_steps;
    if (steps.empty())
      throw Error(std::string(heads ? "--select-heads" : "--select-layers") + ": this run kept no per-" +
                  (heads ? "head" : "layer") + " maps (generate with --keep-" + (heads ? "heads" : "layers") + " STEPS)");
    const auto rows = select_layers(o.select_layers.empty() ? "all" : o.select_layers, layers);
    int max_heads = 0;
    for (const auto& l : layers) max_heads = std::max(max_heads, l.heads);
    const auto head_sel = heads ? select_heads(o.select_heads, max_heads) : std::vector<int>{};
    CsvWriter csv(run.path("tables/auc_selection.csv"), {"word", "step", "timestep", "layers", "heads", "roc_auc",
                                                         "roc_auc_vs_others", "specificity"});
    Mean auc, spec;
    // per step: the selection's scores, and its word maps as heatmaps (heatmaps/selection/step_NNN/{maps.npy,
    // NN_word_overlay.png}), from one read of the kept array
    const cv::Mat final_img = read_image(run.path("final.png"));
    const Colormap cm = parse_colormap(o.colormap);
    const auto all_words = run.content_words();
    for (int step : steps) {
      const auto stack = selection_stack(run.read_kept(step, heads), heads, rows, head_sel, layers);
      scorer.each(stack.data(), [&](size_t k, const WordScores& sc) {
        csv.cell(keys[k]).cell(static_cast<int64_t>(step)).cell(run.timesteps[static_cast<size_t>(step)]);
        csv.cell(o.select_layers.empty() ? "all" : o.select_layers).cell(heads ? o.select_heads : "all");
        csv.cell(sc.auc).cell(sc.vs).cell(sc.spec);
        csv.end_row();
        auc.add(sc.auc), spec.add(sc.spec);
      });
      char sub[48];
      std::snprintf(sub, sizeof sub, "heatmaps/selection/step_%03d", step);
      ensure_dir(run.path(sub));
      std::vector<float> maps;
      for (size_t k = 0; k < all_words.size(); ++k) {
        const auto img = word_image(stack.data(), all_words[k], run);
        maps.insert(maps.end(), img.begin(), img.end());
        char name[16];
        std::snprintf(name, sizeof name, "/%02zu_", k);
        write_png(run.path(sub) + name + safe_name(keys[k]) + "_overlay.png",
                  overlay(final_img, colorize(img.data(), run.image_h, run.image_w, cm), 0.55f));
      }
      write_npy(run.path(sub) + "/maps.npy", maps.data(),
                {static_cast<int64_t>(all_words.size()), run.image_h, run.image_w});
    }
    csv.commit();
    s["auc.selection.mean_roc_auc"] = auc.get();
    s["auc.selection.mean_specificity"] = spec.get();
  }
}

}  // namespace

DIFFSCOPE_ANALYSIS({"layers", "ROC-AUC and specificity per kept layer and head, layer x step figures, a layer/head selection's score", 55,
                    kNeedsMasks | kNeedsAttention,
                    {"--run runs/x --select-layers up_blocks", "--run runs/x --select-layers 3,4 --select-heads 0,1"},
                    {"masks", "select-layers", "select-heads", "colormap"},
                    [](const AnalysisInput& in, AnalysisKeys& keys) { do_layers(in, keys); }});

}  // namespace diffscope
