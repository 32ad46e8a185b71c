// Tensors from the JSON fixtures of tests/data (float32 values written as exact doubles).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

namespace ds_test {

/// Any nesting of lists of numbers as a float tensor of that shape.
inline at::Tensor nested(const nlohmann::json& j) {
  std::vector<float> flat;
  std::vector<int64_t> shape;
  std::function<void(const nlohmann::json&, size_t)> walk = [&](const nlohmann::json& v, size_t depth) {
    if (v.is_array()) {
      if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(v.size()));
      for (const auto& e : v) walk(e, depth + 1);
    } else {
      flat.push_back(v.get<float>());
    }
  };
  walk(j, 0);
  return at::tensor(flat, at::kFloat).reshape(shape);
}

/// A list of class labels as an int64 tensor.
inline at::Tensor labels(const nlohmann::json& j) { return at::tensor(j.get<std::vector<int64_t>>(), at::kLong); }

}  // namespace ds_test
