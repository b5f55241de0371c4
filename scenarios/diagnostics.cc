#include "scenarios/diagnostics.h"

#include <algorithm>
#include <cstdio>

namespace ferry::scenarios {

std::string Diagnostic::to_string() const {
  if (mark.line == 0) return file + ": " + message;
  return file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " + message;
}

void Diagnostics::error(SourceMark mark, std::string message) {
  errors_.push_back(Diagnostic{file_, mark, std::move(message)});
}

std::vector<Diagnostic> Diagnostics::take_sorted() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.mark < b.mark; });
  return std::move(errors_);
}

std::string quote_value(std::string_view text) {
  constexpr size_t kLongest = 60;
  size_t shown = std::min(text.size(), kLongest);
  // Never cut a UTF-8 character in two: back off over continuation bytes (10xxxxxx).
  while (shown < text.size() && shown > 0 && (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) --shown;
  std::string out = "'";
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < text.size()) out += "...";
  return out + "'";
}

}  // namespace ferry::scenarios
