// Minimal Unicode support for the CLIP tokenizer: UTF-8 coding, letter/number/space classes, lower case.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffscope::unicode {

/// UTF-8 -> code points (invalid bytes become U+FFFD).
std::vector<char32_t> decode(const std::string& s);
/// Code points -> UTF-8.
std::string encode(const std::vector<char32_t>& cps);
void append(std::string& out, char32_t c);

/// \p{L}: letters of the Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic, Thai, Georgian, Hangul, kana and
/// CJK blocks (Unicode general categories Lu, Ll, Lt, Lm, Lo).
bool is_letter(char32_t c);
/// \p{N}: decimal digits and other number characters (Nd, Nl, No) of the same blocks.
bool is_number(char32_t c);
/// \s as Python's re/regex treat it.
bool is_space(char32_t c);
/// Python's str.lower() for Latin, Greek, Cyrillic, Armenian and fullwidth Latin.
char32_t to_lower(char32_t c);

}  // namespace diffscope::unicode
