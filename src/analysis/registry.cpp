// The analysis registry (see registry.h).
#include "diffscope/analysis/registry.h"

#include <algorithm>
#include <memory>

#include "diffscope/util/error.h"

namespace diffscope {

namespace {
std::vector<std::unique_ptr<Analysis>>& store() {
  static std::vector<std::unique_ptr<Analysis>> s;
  return s;
}
}  // namespace

int register_analysis(Analysis analysis) {
  store().push_back(std::make_unique<Analysis>(std::move(analysis)));
  return static_cast<int>(store().size());
}

std::vector<const Analysis*> registered_analyses() {
  std::vector<const Analysis*> out;
  for (const auto& a : store()) out.push_back(a.get());
  std::sort(out.begin(), out.end(), [](const Analysis* a, const Analysis* b) {
    return a->order != b->order ? a->order < b->order : a->name < b->name;
  });
  return out;
}

const Analysis& find_analysis(const std::string& name) {
  std::string names;
  for (const Analysis* a : registered_analyses()) {
    if (a->name == name) return *a;
    names += (names.empty() ? "" : ", ") + a->name;
  }
  throw Error("analysis \"" + name + "\" does not exist (" + names + ")");
}

}  // namespace diffscope
