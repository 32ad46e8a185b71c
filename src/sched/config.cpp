// SchedulerConfig: diffusers' scheduler_config.json keys.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/sched/scheduler.h"

namespace diffscope {

namespace {
template <typename T>
void read(const nlohmann::json& j, const std::vector<std::string>& defaults, const char* key, T& out,
          const std::string& source, const char* expected) {
  if (!j.contains(key) || j[key].is_null()) return;
  for (const auto& d : defaults)
    if (d == key) return;  // diffusers re-instantiates these with the class default
  try {
    out = j[key].get<T>();
  } catch (const std::exception&) {
    throw Error(source + ": key \"" + key + "\" must be " + expected + ", got " + j[key].dump());
  }
}

void one_of(const std::string& v, const std::vector<std::string>& allowed, const std::string& source, const char* key) {
  for (const auto& a : allowed)
    if (v == a) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw Error(source + ": \"" + key + "\" is \"" + v + "\"; diffscope supports " + list);
}
}  // namespace

SchedulerConfig SchedulerConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object of diffusers scheduler keys");
  std::vector<std::string> defaults;
  if (j.contains("_use_default_values") && j["_use_default_values"].is_array())
    for (const auto& d : j["_use_default_values"])
      if (d.is_string()) defaults.push_back(d.get<std::string>());
  SchedulerConfig c;
  read(j, {}, "_class_name", c.class_name, source, "a string");
  read(j, defaults, "num_train_timesteps", c.num_train_timesteps, source, "an integer");
  read(j, defaults, "beta_start", c.beta_start, source, "a number");
  read(j, defaults, "beta_end", c.beta_end, source, "a number");
  read(j, defaults, "beta_schedule", c.beta_schedule, source, "a string");
  read(j, defaults, "trained_betas", c.trained_betas, source, "a list of numbers or null");
  std::string prediction = "epsilon";
  read(j, defaults, "prediction_type", prediction, source, "a string");
  std::string spacing;
  read(j, defaults, "timestep_spacing", spacing, source, "a string");
  if (!spacing.empty()) c.timestep_spacing = spacing;
  read(j, defaults, "steps_offset", c.steps_offset, source, "an integer");
  read(j, defaults, "set_alpha_to_one", c.set_alpha_to_one, source, "true or false");
  read(j, defaults, "clip_sample", c.clip_sample, source, "true or false");
  read(j, defaults, "clip_sample_range", c.clip_sample_range, source, "a number");
  read(j, defaults, "skip_prk_steps", c.skip_prk_steps, source, "true or false");
  read(j, defaults, "variance_type", c.variance_type, source, "a string");
  if (c.num_train_timesteps < 2) throw Error(source + ": \"num_train_timesteps\" must be at least 2");
  one_of(c.beta_schedule, {"linear", "scaled_linear", "squaredcos_cap_v2"}, source, "beta_schedule");
  one_of(prediction, {"epsilon", "v_prediction", "sample"}, source, "prediction_type");
  c.prediction_type = parse_prediction(prediction, source);
  if (c.timestep_spacing) one_of(*c.timestep_spacing, {"leading", "linspace", "trailing"}, source, "timestep_spacing");
  one_of(c.variance_type, {"fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log"}, source, "variance_type");
  if (!c.trained_betas.empty() && static_cast<int>(c.trained_betas.size()) != c.num_train_timesteps)
    throw Error(source + ": \"trained_betas\" must have num_train_timesteps entries");
  return c;
}

namespace {
/// Python's json writes float("inf") as the bare words Infinity / -Infinity / NaN, which JSON lacks; diffusers'
/// saved configs can hold them (e.g. lambda_min_clipped). They are read as null (the key's default).
std::string python_json_to_json(std::string text) {
  std::string out;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"' && (i == 0 || text[i - 1] != '\\')) in_string = !in_string;
    if (!in_string) {
      for (const char* w : {"-Infinity", "Infinity", "NaN"}) {
        const size_t n = std::char_traits<char>::length(w);
        if (text.compare(i, n, w) == 0) {
          out += "null";
          i += n - 1;
          goto next;
        }
      }
    }
    out += c;
  next:;
  }
  return out;
}
}  // namespace

SchedulerConfig SchedulerConfig::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": missing or unreadable (expected diffusers' scheduler_config.json)");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(python_json_to_json(ss.str()));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + std::string(e.what()).substr(0, 120) + ")");
  }
  return from_json(j, path);
}

}  // namespace diffscope
