// XML text escaping (see xml.h).
#include "diffscope/util/xml.h"

namespace diffscope {

std::string xml_escape(const std::string& t) {
  std::string o;
  o.reserve(t.size());
  for (char ch : t) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default: o += (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ? '?' : ch;
    }
  }
  return o;
}

}  // namespace diffscope
