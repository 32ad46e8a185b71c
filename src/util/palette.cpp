// The figures' one palette (see palette.h).
#include "diffscope/util/palette.h"

#include <cstdio>

namespace diffscope {

Rgb series_colour(size_t i) {
  using namespace okabe_ito;
  static constexpr Rgb order[] = {kBlue, kVermillion, kBluishGreen, kOrange, kReddishPurple, kSkyBlue, kBlack, kYellow};
  return order[i % (sizeof(order) / sizeof(order[0]))];
}

Rgb word_colour(size_t word_index) { return series_colour(word_index); }

Rgb method_colour(const std::string& m) {
  using namespace okabe_ito;
  if (m == "attention") return kBlue;
  if (m == "df-rise") return kVermillion;
  if (m == "df-cam") return kBluishGreen;
  if (m == "random") return kBlack;
  if (m.rfind("word:", 0) == 0) return kReddishPurple;
  return kOrange;
}

std::string hex(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
  return buf;
}

}  // namespace diffscope
