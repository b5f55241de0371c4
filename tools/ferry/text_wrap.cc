#include "tools/ferry/text_wrap.h"

namespace ferry::cli {

std::string wrap(std::string_view text, size_t indent, size_t first_indent, size_t width) {
  std::string out(first_indent, ' ');
  size_t column = first_indent;
  bool line_empty = true;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find(' ', start);
    const std::string_view word =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    start = end == std::string_view::npos ? text.size() : end + 1;
    if (word.empty()) continue;
    if (!line_empty && column + 1 + word.size() > width) {
      out += '\n';
      out.append(indent, ' ');
      column = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_empty = false;
  }
  return out + '\n';
}

}  // namespace ferry::cli
