// `sae train` and `sae inspect` (see sae_study.h).
#include "diffscope/study/sae_study.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <opencv2/imgproc.hpp>

#include "diffscope/engine/runtime.h"
#include "diffscope/represent/sae.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/figure.h"
#include "diffscope/util/figure_revelio.h"
#include "diffscope/util/image.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/npy.h"
#include "diffscope/util/output_folder.h"
#include "diffscope/util/plot.h"
#include "diffscope/util/progress.h"
#include "study/feature_set.h"

namespace fs = std::filesystem;

namespace diffscope {
namespace {

/// The vectors of one feature file, memory-mapped: pooled [N, C] gives one row per image, spatial [N, C, S, S] one
/// row per image and position (image-major, positions row-major).
class FeatureRows {
 public:
  explicit FeatureRows(const std::string& path) : npy_(path) {
    const auto& s = npy_.shape();
    if (s.size() == 2) {
      images_ = s[0], dim_ = s[1], positions_ = 1;
    } else if (s.size() == 4 && s[2] == s[3]) {
      images_ = s[0], dim_ = s[1], positions_ = s[2] * s[3], side_ = s[2];
    } else {
      throw Error(path + ": expected features [N, C] or [N, C, S, S]");
    }
    if (dim_ <= 0 || images_ <= 0) throw Error(path + ": holds no features");
  }
  int64_t rows() const { return images_ * positions_; }
  int64_t dim() const { return dim_; }
  int64_t images() const { return images_; }
  int64_t positions() const { return positions_; }
  int64_t side() const { return side_; }
  int64_t image_of(int64_t row) const { return row / positions_; }
  /// Rows `ids[0..n)` as a [n, C] float tensor. Error when a value is not finite.
  at::Tensor gather(const int64_t* ids, int64_t n) const {
    at::Tensor out = at::empty({n, dim_}, at::kFloat);
    float* o = out.data_ptr<float>();
    const float* d = npy_.data();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t img = ids[i] / positions_, pos = ids[i] % positions_;
      const float* src = d + img * dim_ * positions_ + pos;
      for (int64_t c = 0; c < dim_; ++c) {
        const float v = src[c * positions_];
        if (!std::isfinite(v))
          throw Error(npy_.path() + ": image " + std::to_string(img) + " holds a non-finite value", kExitBadInput);
        o[i * dim_ + c] = v;
      }
    }
    return out;
  }
  /// A chunked reader over `ids` for sae_evaluate.
  std::function<at::Tensor(int64_t)> reader(const std::vector<int64_t>& ids) const {
    auto pos = std::make_shared<size_t>(0);
    return [this, &ids, pos](int64_t max_rows) {
      const size_t n = std::min(ids.size() - *pos, static_cast<size_t>(max_rows));
      at::Tensor t = gather(ids.data() + *pos, static_cast<int64_t>(n));
      *pos += n;
      return t;
    };
  }

 private:
  MappedNpy npy_;
  int64_t images_ = 0, dim_ = 0, positions_ = 1, side_ = 0;
};

/// The feature file of `layer` x `t` (pooled or spatial) in the set's index; one-line errors listing what exists.
nlohmann::json find_feature_file(const study::FeatureSet& set, std::string layer, int64_t t, bool spatial) {
  std::vector<std::string> layers;
  std::vector<int64_t> ts;
  for (const auto& f : set.index["files"]) {
    if (!f.contains("t")) continue;  // baselines
    const std::string l = f.value("layer", "");
    if (std::find(layers.begin(), layers.end(), l) == layers.end()) layers.push_back(l);
    const int64_t ft = f.value("t", int64_t{-1});
    if (std::find(ts.begin(), ts.end(), ft) == ts.end()) ts.push_back(ft);
  }
  auto join = [](const auto& v) {
    std::string s;
    for (const auto& x : v) {
      std::ostringstream o;
      o << x;
      s += (s.empty() ? "" : ", ") + o.str();
    }
    return s;
  };
  if (layer.empty()) {
    if (layers.size() != 1) throw Error("sae: give --layer (" + set.dir + " holds " + join(layers) + ")");
    layer = layers[0];
  }
  if (t < 0) {
    if (ts.size() != 1) throw Error("sae: give --t (" + set.dir + " holds t = " + join(ts) + ")");
    t = ts[0];
  }
  for (const auto& f : set.index["files"]) {
    if (!f.contains("t") || f.value("layer", "") != layer || f.value("t", int64_t{-1}) != t) continue;
    const bool is_spatial = f.value("pooling", "") != "mean";
    if (is_spatial == spatial) return f;
  }
  if (std::find(layers.begin(), layers.end(), layer) == layers.end())
    throw Error("--layer " + layer + ": not in " + set.dir + " (it holds " + join(layers) + ")");
  if (std::find(ts.begin(), ts.end(), t) == ts.end())
    throw Error("--t " + std::to_string(t) + ": not in " + set.dir + " (it holds t = " + join(ts) + ")");
  throw Error("--spatial: " + set.dir + " holds no spatial features (extract them with diffscope features --spatial S)");
}

void write_tensor(const std::string& path, const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kFloat).contiguous();
  write_npy(path, c.data_ptr<float>(), std::vector<int64_t>(c.sizes().begin(), c.sizes().end()));
}

at::Tensor read_tensor(const std::string& path) {
  NpyArray a = read_npy(path);
  require_finite(a, path);
  return at::from_blob(a.data.data(), a.shape, at::kFloat).clone();
}

/// Rows of the images in split `test` (true) or train (false).
std::vector<int64_t> split_rows(const study::FeatureSet& set, const FeatureRows& fr, bool test) {
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < fr.rows(); ++r)
    if (set.is_test(fr.image_of(r)) == test) rows.push_back(r);
  return rows;
}

}  // namespace

Summary sae_train(const SaeTrainSpec& spec, const Session& session) {
  if (spec.expansion < 1) throw Error("--expansion must be at least 1");
  if (spec.batch < 2) throw Error("--batch must be at least 2 (the loss normalises by the batch's variance)");
  if (spec.epochs < 1) throw Error("--epochs must be at least 1");
  if (!(spec.lr > 0) || !std::isfinite(spec.lr)) throw Error("--lr must be a positive number");
  const study::FeatureSet set = study::open_feature_set(spec.features);
  const nlohmann::json file = find_feature_file(set, spec.layer, spec.t, spec.spatial);
  const std::string source = set.dir + "/" + file.at("file").get<std::string>();
  const std::string stem = fs::path(source).stem().string();
  const std::string out = spec.out.empty() ? set.dir + "/sae/" + stem : spec.out;
  set_threads(session.threads);
  const FeatureRows fr(source);
  if (fr.images() != set.images())
    throw Error(source + ": holds " + std::to_string(fr.images()) + " images, labels.csv " + std::to_string(set.images()));
  const std::vector<int64_t> train = split_rows(set, fr, false), test = split_rows(set, fr, true);
  if (static_cast<int64_t>(train.size()) < spec.batch)
    throw Error("--batch " + std::to_string(spec.batch) + ": the train split holds only " + std::to_string(train.size()) +
                " vectors");
  const OutputFolder folder = claim_output_folder(out, spec.overwrite);
  for (const char* d : {"/weights", "/tables", "/plots"}) ensure_dir(out + d);

  SaeConfig c;
  c.d_in = fr.dim();
  c.d_sae = fr.dim() * spec.expansion;
  c.k = spec.k;
  c.batch = spec.batch;
  c.epochs = spec.epochs;
  c.lr = spec.lr;
  c.warmup_steps = spec.warmup;
  c.seed = spec.seed;
  // b_dec starts at the training mean (double accumulation, streamed)
  at::Tensor sum = at::zeros({c.d_in}, at::kDouble);
  for (size_t i = 0; i < train.size(); i += 8192) {
    const int64_t n = static_cast<int64_t>(std::min<size_t>(8192, train.size() - i));
    sum += fr.gather(train.data() + i, n).to(at::kDouble).sum(0);
  }
  SaeTrainer trainer(c, sae_init(c, (sum / static_cast<double>(train.size())).to(at::kFloat)));

  const int64_t per_epoch = (static_cast<int64_t>(train.size()) + c.batch - 1) / c.batch;
  spdlog::info("sae: {} vectors of {} ({} train / {} test, d = {}), {} latents, k = {}, {} steps", fr.rows(), stem,
               train.size(), test.size(), c.d_in, c.d_sae, c.k, per_epoch * c.epochs);
  CsvWriter loss_csv(out + "/tables/loss.csv", {"step", "epoch", "lr", "loss"});
  Series loss_series{"batch loss", {}, {}, {}};
  Progress progress("sae train", static_cast<int>(per_epoch * c.epochs), session.quiet);
  std::vector<int64_t> ids(static_cast<size_t>(c.batch));
  for (int e = 0; e < c.epochs; ++e) {
    const std::vector<int64_t> order = epoch_order(c.seed, e, static_cast<int64_t>(train.size()));
    for (size_t b = 0; b < order.size(); b += static_cast<size_t>(c.batch)) {
      const size_t n = std::min(order.size() - b, static_cast<size_t>(c.batch));
      for (size_t i = 0; i < n; ++i) ids[i] = train[static_cast<size_t>(order[b + i])];
      const double lr = trainer.current_lr();
      const int64_t step = trainer.steps_done();
      const double loss = trainer.step(fr.gather(ids.data(), static_cast<int64_t>(n)));
      loss_csv.cell(step).cell(static_cast<int64_t>(e)).cell(lr).cell(loss);
      loss_csv.end_row();
      loss_series.x.push_back(static_cast<double>(step));
      loss_series.y.push_back(loss);
      char status[48];
      std::snprintf(status, sizeof status, "epoch %d loss %.4f", e + 1, loss);
      progress.tick(status);
    }
  }
  progress.finish();
  loss_csv.commit();
  const SaeWeights& w = trainer.weights();

  // held-out and training reconstruction, latent use
  const SaeEvaluation ev_train = sae_evaluate(w, c.k, fr.reader(train));
  SaeEvaluation ev_test;
  if (!test.empty()) ev_test = sae_evaluate(w, c.k, fr.reader(test));
  int64_t dead = 0;
  CsvWriter lat(out + "/tables/latents.csv", {"latent", "fires_train", "frequency_train", "fires_test", "frequency_test"});
  std::vector<double> log_freq;
  for (int64_t j = 0; j < c.d_sae; ++j) {
    const int64_t ftr = ev_train.fire_counts[static_cast<size_t>(j)];
    const int64_t fte = test.empty() ? 0 : ev_test.fire_counts[static_cast<size_t>(j)];
    if (ftr + fte == 0) ++dead;
    const double freq = static_cast<double>(ftr) / static_cast<double>(ev_train.rows);
    if (ftr > 0) log_freq.push_back(std::log10(freq));
    lat.cell(j).cell(ftr).cell(freq).cell(fte).cell(test.empty() ? std::nan("") : static_cast<double>(fte) / ev_test.rows);
    lat.end_row();
  }
  lat.commit();

  for (const auto& [name, t] : {std::pair{"W_enc", w.w_enc}, {"b_enc", w.b_enc}, {"W_dec", w.w_dec}, {"b_dec", w.b_dec}})
    write_tensor(out + "/weights/" + name + ".npy", t);
  const nlohmann::json config{
      {"format", "diffscope-sae"}, {"version", 1}, {"architecture", "topk"},
      {"features", fs::absolute(set.dir).lexically_normal().string()}, {"file", file.at("file")},
      {"layer", file.at("layer")}, {"t", file.at("t")}, {"spatial", spec.spatial}, {"positions", fr.positions()},
      {"d_in", c.d_in}, {"d_sae", c.d_sae}, {"expansion", spec.expansion}, {"k", c.k}, {"batch", c.batch},
      {"epochs", c.epochs}, {"lr", c.lr}, {"warmup_steps", c.warmup_steps}, {"adam", {c.beta1, c.beta2, c.eps}},
      {"seed", c.seed}, {"train_vectors", train.size()}, {"test_vectors", test.size()},
      {"loss", "normalised MSE: mean((x_hat - x)^2) / mean((x - batch mean)^2)"},
      {"weights", {{"W_enc", "weights/W_enc.npy"}, {"b_enc", "weights/b_enc.npy"}, {"W_dec", "weights/W_dec.npy"},
                   {"b_dec", "weights/b_dec.npy"}}},
      {"encode", "z = topk_k(relu((x - b_dec) W_enc + b_enc)); x_hat = z W_dec + b_dec"}};
  write_json_atomic(out + "/config.json", config);

  write_plot(out + "/plots/loss.png", {loss_series}, "k-SAE training loss (" + stem + ", k = " + std::to_string(c.k) + ")",
             "step", "normalised MSE");
  // latent firing-frequency histogram (log10, bins of 0.25)
  Series hist{"latents", {}, {}, {}};
  if (!log_freq.empty()) {
    const double lo = std::floor(*std::min_element(log_freq.begin(), log_freq.end()) * 4) / 4;
    const int bins = std::max(1, static_cast<int>(std::ceil((0.0 - lo) / 0.25)) + 1);
    std::vector<double> counts(static_cast<size_t>(bins), 0.0);
    for (double f : log_freq) counts[std::min<size_t>(bins - 1, static_cast<size_t>((f - lo) / 0.25))] += 1;
    for (int b = 0; b < bins; ++b) hist.x.push_back(lo + 0.25 * b + 0.125), hist.y.push_back(counts[static_cast<size_t>(b)]);
  }
  write_plot(out + "/plots/latent_frequency.png", {hist},
             "Latent firing frequency on the train split (" + std::to_string(dead) + " of " + std::to_string(c.d_sae) +
                 " dead)",
             "log10 frequency (share of vectors where the latent is active)", "latents");

  Summary s;
  s.set("sae.train.nmse", ev_train.nmse);
  s.set("sae.train.explained_variance", ev_train.explained_variance);
  if (!test.empty()) {
    s.set("sae.test.nmse", ev_test.nmse);
    s.set("sae.test.explained_variance", ev_test.explained_variance);
  }
  s.set("sae.dead_fraction", static_cast<double>(dead) / static_cast<double>(c.d_sae));
  s.set("sae.final_loss", loss_series.y.back());
  s.set_count("sae.d_sae", c.d_sae);
  s.set_count("sae.k", c.k);
  s.set_count("sae.steps", trainer.steps_done());
  s.set_text("sae.features", stem);
  s.write(out + "/summary.json");
  return s;
}

namespace {

/// The labels' statistics over a latent's top images: the dominant value's share and the entropy (bits) of values.
struct Purity {
  double purity = std::nan(""), entropy = std::nan("");
  std::string dominant;
};

/// Images where the label is not defined (e.g. shape on a two-object image) are left out; a label defined on fewer
/// than half of the images is not scored (NaN), so a purity never rests on one or two images.
Purity purity_of(const study::FeatureSet& set, int col, const std::vector<int64_t>& images) {
  std::map<std::string, int> counts;
  int n = 0;
  for (int64_t i : images) {
    const std::string& v = set.value(i, col);
    if (v.empty()) continue;
    ++counts[v];
    ++n;
  }
  Purity p;
  if (n == 0 || 2 * n < static_cast<int>(images.size())) return p;
  int best = 0;
  p.entropy = 0;
  for (const auto& [v, k] : counts) {
    if (k > best) best = k, p.dominant = v;
    const double q = static_cast<double>(k) / n;
    p.entropy -= q * std::log2(q);
  }
  p.purity = static_cast<double>(best) / n;
  return p;
}

/// Purity over the latents (or random directions) where a label is scored: mean, share >= 0.9, and the label
/// values that some direction with purity >= 0.9 picks out (how many concepts the directions cover).
struct LabelStats {
  double sum = 0;
  int64_t n = 0, ge = 0;
  std::set<std::string> covered;
  void add(const Purity& p) {
    if (!std::isfinite(p.purity)) return;
    sum += p.purity, ++n;
    if (p.purity >= 0.9) ++ge, covered.insert(p.dominant);
  }
  double mean() const { return n ? sum / static_cast<double>(n) : std::nan(""); }
  double share() const { return n ? static_cast<double>(ge) / static_cast<double>(n) : std::nan(""); }
};

/// Per direction (column), the `top` images with the largest activation, streamed over images: [top, D] values and
/// image indices, plus per direction the number of images where it is active (> 0).
struct TopImages {
  at::Tensor values, images;
  at::Tensor active;
};

TopImages top_images(const FeatureRows& fr, int64_t top, const std::function<at::Tensor(const at::Tensor&)>& act) {
  TopImages r;
  const int64_t chunk_images = std::max<int64_t>(1, 4096 / fr.positions());
  std::vector<int64_t> ids;
  for (int64_t i0 = 0; i0 < fr.images(); i0 += chunk_images) {
    const int64_t ni = std::min(chunk_images, fr.images() - i0);
    ids.resize(static_cast<size_t>(ni * fr.positions()));
    for (size_t j = 0; j < ids.size(); ++j) ids[j] = i0 * fr.positions() + static_cast<int64_t>(j);
    const at::Tensor a = act(fr.gather(ids.data(), static_cast<int64_t>(ids.size())));  // [rows, D]
    const at::Tensor per_image = a.reshape({ni, fr.positions(), a.size(1)}).amax(1);    // [ni, D]
    const at::Tensor idx = at::arange(i0, i0 + ni, at::kLong).unsqueeze(1).expand({ni, a.size(1)});
    if (!r.values.defined()) {
      r.values = per_image;
      r.images = idx.clone();
      r.active = (per_image > 0).sum(0);
    } else {
      r.values = at::cat({r.values, per_image});
      r.images = at::cat({r.images, idx});
      r.active += (per_image > 0).sum(0);
    }
    if (r.values.size(0) > top) {
      auto [v, i] = r.values.topk(top, 0);
      r.images = r.images.gather(0, i);
      r.values = v;
    }
  }
  auto [v, i] = r.values.sort(0, /*descending=*/true);  // best first
  r.images = r.images.gather(0, i);
  r.values = v;
  return r;
}

}  // namespace

Summary sae_inspect(const SaeInspectSpec& spec, const Session& session) {
  if (spec.top < 2) throw Error("--top must be at least 2");
  if (spec.min_images < 1) throw Error("--min-images must be at least 1");
  const std::string config_path = spec.sae + "/config.json";
  if (!fs::is_regular_file(config_path)) throw Error("--sae " + spec.sae + ": holds no config.json (run diffscope sae train)");
  const auto config = read_json_object(config_path);
  if (config.value("format", "") != "diffscope-sae") throw Error(config_path + ": not a diffscope-sae configuration");
  const study::FeatureSet set = study::open_feature_set(config.at("features").get<std::string>(), "the SAE's features");
  const FeatureRows fr(set.dir + "/" + config.at("file").get<std::string>());
  SaeWeights w;
  w.w_enc = read_tensor(spec.sae + "/weights/W_enc.npy");
  w.b_enc = read_tensor(spec.sae + "/weights/b_enc.npy");
  w.w_dec = read_tensor(spec.sae + "/weights/W_dec.npy");
  w.b_dec = read_tensor(spec.sae + "/weights/b_dec.npy");
  if (w.w_enc.dim() != 2 || w.w_enc.size(0) != fr.dim() || w.b_dec.numel() != fr.dim())
    throw Error(spec.sae + "/weights: shapes do not match the features' " + std::to_string(fr.dim()) + " channels");
  const int64_t d_sae = w.w_enc.size(1);
  if (!config.contains("k") || !config["k"].is_number_integer())
    throw Error(config_path + ": \"k\" missing or not an integer (the active latents per input)");
  const int64_t k = config["k"].get<int64_t>();
  if (k < 1 || k > d_sae)
    throw Error(config_path + ": \"k\" is " + std::to_string(k) + ", expected 1.." + std::to_string(d_sae) +
                " (the SAE's latents, from weights/W_enc.npy)");
  if (spec.min_images > fr.images())
    throw Error("--min-images " + std::to_string(spec.min_images) + ": the features hold only " +
                std::to_string(fr.images()) + " images, so no latent could be scored");
  const std::string out = spec.out.empty() ? spec.sae + "/inspect" : spec.out;
  set_threads(session.threads);
  const OutputFolder folder = claim_output_folder(out, spec.overwrite);
  for (const char* d : {"/tables", "/plots", "/plots/latents"}) ensure_dir(out + d);
  at::NoGradGuard ng;

  const int64_t top = std::min<int64_t>(spec.top, fr.images());
  const TopImages sae_top = top_images(fr, top, [&](const at::Tensor& x) { return sae_encode(w, x, k); });
  // the control: as many random unit directions, projections of the centred vectors
  at::Generator gen = at::detail::createCPUGenerator(spec.seed);
  at::Tensor dirs = at::randn({fr.dim(), d_sae}, gen, at::TensorOptions().dtype(at::kFloat));
  dirs.div_(dirs.norm(2, {0}, true));
  const TopImages rnd_top = top_images(fr, top, [&](const at::Tensor& x) { return at::matmul(x - w.b_dec, dirs); });

  std::vector<std::string> labels;
  std::vector<int> cols;
  for (const auto& l : set.labels)
    if (set.column(l) >= 0) labels.push_back(l), cols.push_back(set.column(l));
  // read through accessors, not one .item() per element (Revelio-size SAEs have 10^4-10^5 latents)
  const at::Tensor sae_images = sae_top.images.contiguous(), rnd_images = rnd_top.images.contiguous();
  const at::Tensor sae_values = sae_top.values.to(at::kDouble).contiguous();
  const auto sae_images_a = sae_images.accessor<int64_t, 2>(), rnd_images_a = rnd_images.accessor<int64_t, 2>();
  const auto sae_values_a = sae_values.accessor<double, 2>();
  auto images_of = [&](const TopImages& t, int64_t j) {
    const auto& a = &t == &sae_top ? sae_images_a : rnd_images_a;
    std::vector<int64_t> v(static_cast<size_t>(top));
    for (int64_t r = 0; r < top; ++r) v[static_cast<size_t>(r)] = a[r][j];
    return v;
  };

  std::vector<std::string> head{"latent", "images_active", "max_activation", "best_label", "best_purity"};
  for (const auto& l : labels) head.insert(head.end(), {l + "_dominant", l + "_purity", l + "_entropy"});
  CsvWriter table(out + "/tables/latents.csv", head);
  struct Scored {
    int64_t latent;
    double best, max_act;
    std::string best_label, text;
    std::vector<Purity> per_label;
  };
  std::vector<Scored> scored;
  std::vector<LabelStats> sae_stats(labels.size()), rnd_stats(labels.size());
  const int64_t* active = sae_top.active.data_ptr<int64_t>();
  for (int64_t j = 0; j < d_sae; ++j) {
    const double max_act = sae_values_a[0][j];
    table.cell(j).cell(active[j]).cell(max_act);
    const bool alive = active[j] >= std::max<int64_t>(spec.min_images, top);
    Scored sc{j, -1, max_act, "", "", {}};
    if (alive) {
      const auto imgs = images_of(sae_top, j);
      for (size_t li = 0; li < labels.size(); ++li) {
        const Purity p = purity_of(set, cols[li], imgs);
        sc.per_label.push_back(p);
        sae_stats[li].add(p);
        if (std::isfinite(p.purity)) {
          if (p.purity > sc.best) sc.best = p.purity, sc.best_label = labels[li], sc.text = labels[li] + " " + p.dominant;
        }
      }
      scored.push_back(sc);
    }
    table.cell(alive ? sc.best_label : "").cell(alive && sc.best >= 0 ? sc.best : std::nan(""));
    for (size_t li = 0; li < labels.size(); ++li) {
      if (alive) table.cell(sc.per_label[li].dominant).cell(sc.per_label[li].purity).cell(sc.per_label[li].entropy);
      else table.cell("").cell(std::nan("")).cell(std::nan(""));
    }
    table.end_row();
  }
  table.commit();
  // the random directions (every direction is "active" somewhere: projections are signed, top images by value)
  for (int64_t j = 0; j < d_sae; ++j) {
    const auto imgs = images_of(rnd_top, j);
    for (size_t li = 0; li < labels.size(); ++li) {
      rnd_stats[li].add(purity_of(set, cols[li], imgs));
    }
  }

  Summary s;
  s.set_count("sae.inspect.scored", static_cast<int64_t>(scored.size()));
  s.set_count("sae.inspect.latents", d_sae);
  s.set_count("sae.inspect.top", top);
  CsvWriter pt(out + "/tables/purity.csv", {"label", "directions", "scored", "mean_purity", "share_ge_0.9",
                                           "values_covered", "values"});
  for (size_t li = 0; li < labels.size(); ++li) {
    const std::string key = "sae.inspect." + labels[li];
    std::set<std::string> values;
    for (int64_t i = 0; i < set.images(); ++i)
      if (!set.value(i, cols[li]).empty()) values.insert(set.value(i, cols[li]));
    for (const auto& [kind, st] : {std::pair<const char*, const LabelStats*>{"sae", &sae_stats[li]},
                                   {"random", &rnd_stats[li]}}) {
      const std::string prefix = key + (std::string(kind) == "sae" ? "." : ".random_");
      s.set(prefix + "mean_purity", st->mean());
      s.set(prefix + "share_ge_0.9", st->share());
      s.set_count(prefix + "values_covered", static_cast<int64_t>(st->covered.size()));
      pt.cell(labels[li]).cell(kind).cell(st->n).cell(st->mean()).cell(st->share());
      pt.cell(static_cast<int64_t>(st->covered.size())).cell(static_cast<int64_t>(values.size()));
      pt.end_row();
    }
  }
  pt.commit();

  // contact sheets: the image, and for a spatial SAE the latent's activation over it, divided by `scale_max` (the
  // latent's largest activation over all images: one scale for the sheet's images, the colour bar's top)
  const int cell = 112;
  const bool spatial_map = fr.positions() > 1;
  bool warned_missing = false;
  auto cell_image = [&](int64_t image, int64_t latent, double scale_max) {
    const std::string path = set.image_path(image);
    cv::Mat img;
    if (fs::is_regular_file(path)) {
      img = read_image(path);
    } else {
      if (!warned_missing) spdlog::warn("sae inspect: {} is missing; its cells are drawn grey", path);
      warned_missing = true;
      img = cv::Mat(cell, cell, CV_8UC3, cv::Scalar(220, 220, 220));
    }
    if (fr.positions() > 1) {
      std::vector<int64_t> ids(static_cast<size_t>(fr.positions()));
      for (int64_t p = 0; p < fr.positions(); ++p) ids[static_cast<size_t>(p)] = image * fr.positions() + p;
      const at::Tensor z = sae_encode(w, fr.gather(ids.data(), fr.positions()), k).select(1, latent).contiguous();
      std::vector<float> m(z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
      const float mx = static_cast<float>(scale_max);
      for (float& v : m) v = mx > 0 ? std::min(1.f, v / mx) : 0.f;
      const int side = static_cast<int>(fr.side());
      img = overlay(img, colorize(m.data(), side, side, Colormap::Inferno), 0.45f);
    }
    return img;
  };
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    return a.best != b.best ? a.best > b.best : a.max_act != b.max_act ? a.max_act > b.max_act : a.latent < b.latent;
  });
  Progress progress("sae sheets", std::min<int>(spec.sheets, static_cast<int>(scored.size())), session.quiet);
  for (int i = 0; i < spec.sheets && i < static_cast<int>(scored.size()); ++i) {
    const Scored& sc = scored[static_cast<size_t>(i)];
    ContactSheet sheet;
    const double max_act = sae_values_a[0][sc.latent];  // the top image's: the largest over every image
    const auto ims = images_of(sae_top, sc.latent);
    for (int64_t r = 0; r < top; ++r) {
      const int64_t image = ims[static_cast<size_t>(r)];
      sheet.images.push_back(cell_image(image, sc.latent, max_act));
      sheet.activations.push_back(sae_values_a[r][sc.latent]);
      char a[48];
      std::snprintf(a, sizeof a, "%.2f", sae_values_a[r][sc.latent]);
      std::string cap;
      for (size_t li = 0; li < labels.size(); ++li)
        if (!set.value(image, cols[li]).empty()) cap += (cap.empty() ? "" : " ") + set.value(image, cols[li]);
      sheet.captions.push_back({a, cap});
    }
    char title[160], note[240];
    std::snprintf(title, sizeof title, "latent %lld: %s (purity %.2f), active on %lld images",
                  static_cast<long long>(sc.latent), sc.text.c_str(), sc.best, static_cast<long long>(active[sc.latent]));
    std::snprintf(note, sizeof note, "%s; one scale for the sheet: 0 to the latent's largest activation (%.2f, image 1)",
                  spatial_map ? "activation over each image (per token), its largest as the strip"
                              : "each image's activation as the strip",
                  max_act);
    sheet.title = title;
    sheet.note = note;
    sheet.scale = {Colormap::Inferno, 0.0, max_act > 0 ? max_act : 1.0, "SAE activation"};
    char name[64];
    std::snprintf(name, sizeof name, "/plots/latents/latent_%05lld.png", static_cast<long long>(sc.latent));
    write_contact_sheet(out + name, sheet);
    progress.tick();
  }
  progress.finish();
  // per label: the purest latents for it, a row each (each row on its latent's own scale)
  for (size_t li = 0; li < labels.size(); ++li) {
    std::vector<const Scored*> best;
    for (const auto& sc : scored)
      if (std::isfinite(sc.per_label[li].purity)) best.push_back(&sc);
    std::stable_sort(best.begin(), best.end(), [&](const Scored* a, const Scored* b) {
      return a->per_label[li].purity > b->per_label[li].purity;
    });
    if (best.size() > 8) best.resize(8);
    if (best.empty()) continue;
    GridFigure g;
    for (int64_t r = 0; r < top; ++r) g.col_labels.push_back(std::to_string(r + 1));
    for (const Scored* sc : best) {
      std::vector<cv::Mat> row;
      for (int64_t im : images_of(sae_top, sc->latent)) row.push_back(cell_image(im, sc->latent, sc->max_act));
      g.cells.push_back(row);
      char lab[96];
      std::snprintf(lab, sizeof lab, "#%lld %s %.0f%%", static_cast<long long>(sc->latent),
                    sc->per_label[li].dominant.c_str(), 100 * sc->per_label[li].purity);
      g.row_labels.push_back(lab);
    }
    g.title = "The purest SAE latents for " + labels[li] + " (a row each: latent, dominant value, purity; its top " +
              std::to_string(top) + " images)";
    if (spatial_map) g.scale = ColourScale{Colormap::Inferno, 0.0, 1.0, "activation / its latent's largest (per row)"};
    write_grid_figure(out + "/plots/overview_" + labels[li] + ".png", g);
  }
  s.write(out + "/summary.json");
  return s;
}

}  // namespace diffscope
