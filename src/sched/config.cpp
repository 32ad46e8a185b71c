// SchedulerConfig: diffusers' scheduler_config.json keys.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/sched/scheduler_config.h"

#include "diffscope/sched/scheduler_names.h"

namespace diffscope {

namespace {
bool is_default_listed(const std::vector<std::string>& defaults, const char* key) {
  for (const auto& d : defaults)
    if (d == key) return true;  // diffusers re-instantiates these with the class default
  return false;
}

/// Reads `key` when present and not null (and not in _use_default_values); records it as present.
template <typename T>
bool read(const nlohmann::json& j, const std::vector<std::string>& defaults, const char* key, T& out,
          SchedulerConfig& c, const char* expected) {
  if (!j.contains(key) || j[key].is_null() || is_default_listed(defaults, key)) return false;
  const auto& v = j[key];
  bool ok = true;
  if constexpr (std::is_same_v<T, bool>) ok = v.is_boolean();
  else if constexpr (std::is_same_v<T, int>) ok = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()) && std::fabs(v.get<double>()) < 1e9);
  else if constexpr (std::is_same_v<T, double>) ok = v.is_number();
  else if constexpr (std::is_same_v<T, std::string>) ok = v.is_string();
  if (!ok) throw Error(c.source + ": key \"" + key + "\" must be " + expected + ", got " + v.dump());
  try {
    if constexpr (std::is_same_v<T, int>) out = static_cast<int>(v.get<double>());
    else out = v.get<T>();
  } catch (const std::exception&) {
    throw Error(c.source + ": key \"" + key + "\" must be " + expected + ", got " + v.dump());
  }
  c.present.emplace_back(key);
  return true;
}
template <typename T>
void read_opt(const nlohmann::json& j, const std::vector<std::string>& defaults, const char* key, std::optional<T>& out,
              SchedulerConfig& c, const char* expected) {
  T v{};
  if (read(j, defaults, key, v, c, expected)) out = v;
}

void one_of(const std::string& v, const std::vector<std::string>& allowed, const std::string& source, const char* key,
            const char* what = "diffscope supports") {
  for (const auto& a : allowed)
    if (v == a) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw Error(source + ": \"" + key + "\" is \"" + v + "\"; " + what + " " + list);
}

}  // namespace

SchedulerConfig SchedulerConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object of diffusers scheduler keys");
  std::vector<std::string> defaults;
  if (j.contains("_use_default_values") && j["_use_default_values"].is_array())
    for (const auto& d : j["_use_default_values"])
      if (d.is_string()) defaults.push_back(d.get<std::string>());
  SchedulerConfig c;
  c.source = source;
  read(j, {}, "_class_name", c.class_name, c, "a string");
  read(j, defaults, "num_train_timesteps", c.num_train_timesteps, c, "an integer");
  read(j, defaults, "beta_start", c.beta_start, c, "a number");
  read(j, defaults, "beta_end", c.beta_end, c, "a number");
  read(j, defaults, "beta_schedule", c.beta_schedule, c, "a string");
  if (j.contains("trained_betas") && !j["trained_betas"].is_null() && !is_default_listed(defaults, "trained_betas")) {
    const auto& tb = j["trained_betas"];
    bool ok = tb.is_array();
    if (ok)
      for (const auto& b : tb) ok = ok && b.is_number();
    if (!ok) throw Error(source + ": key \"trained_betas\" must be a list of numbers or null");
    c.trained_betas = tb.get<std::vector<double>>();
    c.present.emplace_back("trained_betas");
  }
  std::string prediction = "epsilon";
  read(j, defaults, "prediction_type", prediction, c, "a string");
  read_opt(j, defaults, "timestep_spacing", c.timestep_spacing, c, "a string");
  read(j, defaults, "steps_offset", c.steps_offset, c, "an integer");
  read_opt(j, defaults, "set_alpha_to_one", c.set_alpha_to_one, c, "true or false");
  read_opt(j, defaults, "clip_sample", c.clip_sample, c, "true or false");
  read(j, defaults, "clip_sample_range", c.clip_sample_range, c, "a number");
  read_opt(j, defaults, "skip_prk_steps", c.skip_prk_steps, c, "true or false");
  read_opt(j, defaults, "variance_type", c.variance_type, c, "a string or null");
  read(j, defaults, "rescale_betas_zero_snr", c.rescale_betas_zero_snr, c, "true or false");
  read(j, defaults, "thresholding", c.thresholding, c, "true or false");
  read(j, defaults, "dynamic_thresholding_ratio", c.dynamic_thresholding_ratio, c, "a number");
  read(j, defaults, "sample_max_value", c.sample_max_value, c, "a number");
  read(j, defaults, "use_karras_sigmas", c.use_karras_sigmas, c, "true or false");
  read_opt(j, defaults, "sigma_min", c.sigma_min, c, "a number or null");
  read_opt(j, defaults, "sigma_max", c.sigma_max, c, "a number or null");
  read(j, defaults, "interpolation_type", c.interpolation_type, c, "a string");
  read(j, defaults, "timestep_type", c.timestep_type, c, "a string");
  read(j, defaults, "final_sigmas_type", c.final_sigmas_type, c, "a string");
  read(j, defaults, "solver_order", c.solver_order, c, "an integer");
  read(j, defaults, "algorithm_type", c.algorithm_type, c, "a string");
  read(j, defaults, "solver_type", c.solver_type, c, "a string");
  read(j, defaults, "lower_order_final", c.lower_order_final, c, "true or false");
  read(j, defaults, "euler_at_final", c.euler_at_final, c, "true or false");
  read(j, defaults, "lambda_min_clipped", c.lambda_min_clipped, c, "a number");
  read(j, defaults, "shift", c.shift, c, "a number");
  read(j, defaults, "use_dynamic_shifting", c.use_dynamic_shifting, c, "true or false");
  read(j, defaults, "base_shift", c.base_shift, c, "a number");
  read(j, defaults, "max_shift", c.max_shift, c, "a number");
  read(j, defaults, "base_image_seq_len", c.base_image_seq_len, c, "an integer");
  read(j, defaults, "max_image_seq_len", c.max_image_seq_len, c, "an integer");
  // keys of diffusers' classes that diffscope does not implement: refused by resolved_for when the class takes
  // them with a value other than diffusers' default (invert_sigmas, shift_terminal: FlowMatchEuler after 0.31)
  for (const char* k : {"use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "invert_sigmas", "shift_terminal"})
    if (j.contains(k) && !j[k].is_null() && !is_default_listed(defaults, k) && j[k] != false)
      c.unimplemented.emplace_back(k, j[k].dump());

  if (c.num_train_timesteps < 2 || c.num_train_timesteps > 100000)
    throw Error(source + ": \"num_train_timesteps\" must be 2..100000, got " + std::to_string(c.num_train_timesteps));
  one_of(c.beta_schedule, {"linear", "scaled_linear", "squaredcos_cap_v2"}, source, "beta_schedule");
  if (c.trained_betas.empty() && c.beta_schedule != "squaredcos_cap_v2" &&
      !(c.beta_start > 0 && c.beta_start <= c.beta_end && c.beta_end < 1))
    throw Error(source + ": beta_start and beta_end must satisfy 0 < beta_start <= beta_end < 1, got " +
                nlohmann::json(c.beta_start).dump() + " and " + nlohmann::json(c.beta_end).dump());
  one_of(prediction, {"epsilon", "v_prediction", "sample"}, source, "prediction_type");
  c.prediction_type = parse_prediction(prediction, source);
  if (c.timestep_spacing) one_of(*c.timestep_spacing, {"leading", "linspace", "trailing"}, source, "timestep_spacing");
  if (!c.trained_betas.empty()) {
    if (static_cast<int>(c.trained_betas.size()) != c.num_train_timesteps)
      throw Error(source + ": \"trained_betas\" must have num_train_timesteps (" + std::to_string(c.num_train_timesteps) +
                  ") entries, got " + std::to_string(c.trained_betas.size()));
    for (size_t i = 0; i < c.trained_betas.size(); ++i)
      if (!(c.trained_betas[i] > 0 && c.trained_betas[i] < 1))
        throw Error(source + ": \"trained_betas\"[" + std::to_string(i) + "] must be in (0, 1), got " +
                    nlohmann::json(c.trained_betas[i]).dump());
  }
  if (c.steps_offset < 0 || c.steps_offset >= c.num_train_timesteps)
    throw Error(source + ": \"steps_offset\" must be 0.." + std::to_string(c.num_train_timesteps - 1) + ", got " +
                std::to_string(c.steps_offset));
  if (!(c.clip_sample_range > 0)) throw Error(source + ": \"clip_sample_range\" must be > 0");
  if (!(c.dynamic_thresholding_ratio > 0 && c.dynamic_thresholding_ratio <= 1))
    throw Error(source + ": \"dynamic_thresholding_ratio\" must be in (0, 1]");
  if (!(c.sample_max_value >= 1)) throw Error(source + ": \"sample_max_value\" must be >= 1 (thresholds clamp to [1, max])");
  if (!(c.shift > 0 && std::isfinite(c.shift))) throw Error(source + ": \"shift\" must be a number > 0");
  if (!(c.base_image_seq_len >= 1 && c.max_image_seq_len > c.base_image_seq_len))
    throw Error(source + ": \"base_image_seq_len\" and \"max_image_seq_len\" must satisfy 1 <= base < max");
  if (!std::isfinite(c.base_shift) || !std::isfinite(c.max_shift))
    throw Error(source + ": \"base_shift\" and \"max_shift\" must be finite numbers");
  if (c.sigma_min && !(*c.sigma_min > 0)) throw Error(source + ": \"sigma_min\" must be > 0 or null");
  if (c.sigma_max && !(*c.sigma_max > 0)) throw Error(source + ": \"sigma_max\" must be > 0 or null");
  if (c.sigma_min && c.sigma_max && !(*c.sigma_min < *c.sigma_max))
    throw Error(source + ": \"sigma_min\" must be below \"sigma_max\"");
  return c;
}

SchedulerConfig SchedulerConfig::resolved_for(const std::string& s) const {
  const SchedulerSpec& spec = scheduler_spec(s);
  const auto& takes = spec.keys;
  auto takes_key = [&](const char* k) { return std::find(takes.begin(), takes.end(), k) != takes.end(); };
  SchedulerConfig c = *this;
  const std::string& cls = spec.class_name;
  auto refuse = [&](const std::string& key, const std::string& value, const std::string& why) {
    throw Error(source + ": \"" + key + "\": " + value + " is not implemented for " + cls + " in diffscope (" + why +
                "); remove the key or choose another --scheduler");
  };
  for (const auto& [k, v] : unimplemented)
    if (takes_key(k.c_str())) refuse(k, v, "diffscope implements the default sigmas and use_karras_sigmas");
  // what the class does not take goes back to neutral values (diffusers ignores those keys)
  const SchedulerConfig neutral;
  if (!takes_key("clip_sample")) c.clip_sample = false;
  if (!takes_key("set_alpha_to_one")) c.set_alpha_to_one = false;
  if (!takes_key("skip_prk_steps")) c.skip_prk_steps = true;
  if (!takes_key("variance_type")) c.variance_type.reset();
  if (!takes_key("rescale_betas_zero_snr")) c.rescale_betas_zero_snr = false;
  if (!takes_key("thresholding")) c.thresholding = false;
  if (!takes_key("use_karras_sigmas")) c.use_karras_sigmas = false;
  if (!takes_key("sigma_min")) c.sigma_min.reset(), c.sigma_max.reset();
  if (!takes_key("interpolation_type")) c.interpolation_type = neutral.interpolation_type;
  if (!takes_key("timestep_type")) c.timestep_type = neutral.timestep_type;
  if (!takes_key("final_sigmas_type")) c.final_sigmas_type = neutral.final_sigmas_type;
  if (!takes_key("solver_order")) {
    c.solver_order = neutral.solver_order, c.algorithm_type = neutral.algorithm_type, c.solver_type = neutral.solver_type;
    c.lower_order_final = neutral.lower_order_final, c.euler_at_final = neutral.euler_at_final;
    c.lambda_min_clipped = neutral.lambda_min_clipped;
  }
  // class defaults of the keys whose default differs between classes
  if (!c.clip_sample) c.clip_sample = true;                 // DDIM, DDPM
  if (!c.set_alpha_to_one) c.set_alpha_to_one = s == "ddim";  // DDIM true, PNDM false
  if (!c.skip_prk_steps) c.skip_prk_steps = false;          // PNDM
  if (s == "ddpm" && !c.variance_type) c.variance_type = "fixed_small";
  if (!c.timestep_spacing) c.timestep_spacing = spec.default_spacing;
  // values
  if (s == "ddpm")
    one_of(*c.variance_type, {"fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log"}, source,
           "variance_type", "diffscope implements");
  if (s == "dpm++2m" && c.variance_type)
    refuse("variance_type", "\"" + *c.variance_type + "\"", "learned variances need a 2x-channel UNet; null is the default");
  if (s == "euler") {
    one_of(c.interpolation_type, {"linear", "log_linear"}, source, "interpolation_type", "diffscope implements");
    one_of(c.timestep_type, {"discrete", "continuous"}, source, "timestep_type", "diffscope implements");
  }
  if (s == "euler" || s == "dpm++2m")
    one_of(c.final_sigmas_type, {"zero", "sigma_min"}, source, "final_sigmas_type", "diffusers accepts");
  if (s == "dpm++2m") {
    if (c.solver_order < 1 || c.solver_order > 3)
      throw Error(source + ": \"solver_order\" must be 1, 2 or 3, got " + std::to_string(c.solver_order));
    if (c.algorithm_type == "deis") c.algorithm_type = "dpmsolver++";  // diffusers maps it so
    if (c.algorithm_type == "dpmsolver" || c.algorithm_type == "sde-dpmsolver")
      refuse("algorithm_type", "\"" + c.algorithm_type + "\"", "deprecated in diffusers; use dpmsolver++ or sde-dpmsolver++");
    one_of(c.algorithm_type, {"dpmsolver++", "sde-dpmsolver++"}, source, "algorithm_type", "diffscope implements");
    if (c.solver_type == "logrho" || c.solver_type == "bh1" || c.solver_type == "bh2") c.solver_type = "midpoint";
    one_of(c.solver_type, {"midpoint", "heun"}, source, "solver_type", "diffscope implements");
    if (c.solver_order == 3 && c.algorithm_type == "sde-dpmsolver++")
      throw Error(source + ": solver_order 3 with algorithm_type \"sde-dpmsolver++\" has no update in diffusers 0.31 "
                  "(it returns nothing); use solver_order 1 or 2");
  }
  if (s == "flow_euler" && c.use_karras_sigmas)
    refuse("use_karras_sigmas", "true", "diffusers 0.31's FlowMatchEulerDiscreteScheduler has no Karras sigmas");
  if (c.prediction_type == Prediction::Sample && s == "pndm")
    throw Error(source + ": PNDMScheduler does not support prediction_type \"sample\" (diffusers refuses it too)");
  return c;
}

SchedulerConfig SchedulerConfig::from_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(path + ": missing or unreadable (expected diffusers' scheduler_config.json)");
  // as diffusers' save_pretrained writes it: Python's Infinity / -Infinity / NaN read as null, the key's default
  return from_json(read_python_json_file(path), path);
}

}  // namespace diffscope
