// Word wrapping for help texts and summaries.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::cli {

inline constexpr size_t kTextWidth = 80;

// `text` broken into lines of at most `width` characters (a longer word keeps its own
// line), each line after the first starting with `indent` spaces; the first line starts
// with `first_indent` spaces. Ends with a newline.
std::string wrap(std::string_view text, size_t indent, size_t first_indent, size_t width = kTextWidth);

}  // namespace ferry::cli
