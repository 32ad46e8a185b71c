// Text for XML, HTML and SVG documents.
#pragma once
#include <string>

namespace diffscope {

/// `t` with &, <, >, " and ' escaped, and the control characters XML 1.0 cannot carry (all below 0x20 except tab,
/// newline and carriage return) replaced by '?': safe in text and in attribute values.
std::string xml_escape(const std::string& t);

}  // namespace diffscope
