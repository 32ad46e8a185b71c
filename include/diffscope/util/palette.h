// The one palette of every figure: Okabe & Ito's eight colour-blind-safe colours (Okabe & Ito 2008, "Color Universal
// Design"), with a fixed colour per saliency method and a colour per word by its index in the prompt.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace diffscope {

/// An 8-bit sRGB colour.
struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

/// The Okabe-Ito colours by name.
namespace okabe_ito {
constexpr Rgb kBlack{0x00, 0x00, 0x00}, kOrange{0xE6, 0x9F, 0x00}, kSkyBlue{0x56, 0xB4, 0xE9},
    kBluishGreen{0x00, 0x9E, 0x73}, kYellow{0xF0, 0xE4, 0x42}, kBlue{0x00, 0x72, 0xB2}, kVermillion{0xD5, 0x5E, 0x00},
    kReddishPurple{0xCC, 0x79, 0xA7};
}  // namespace okabe_ito

/// The i-th colour of a figure's series (i modulo 8): blue, vermillion, bluish green, orange, reddish purple, sky blue,
/// black, yellow (yellow last: it reads worst on white). A line plot's series without an explicit colour get these.
Rgb series_colour(size_t i);

/// A word's colour in every figure: series_colour(its index among the prompt's words), so "red" is the same colour in
/// the settle, relevance and compare share plots.
Rgb word_colour(size_t word_index);

/// A saliency method's colour in every figure: attention blue, df-rise vermillion, df-cam bluish green, random black,
/// "word:<w>" (attention to one word) reddish purple; any other name orange.
Rgb method_colour(const std::string& method);

/// "#rrggbb".
std::string hex(Rgb c);

}  // namespace diffscope
