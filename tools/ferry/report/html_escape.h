// Text from scenario files and error messages, made safe to place in HTML text and in
// quoted attribute values.
#pragma once

#include <string>
#include <string_view>

namespace ferry::report {

// Escapes & < > " ' and replaces what a page must not hold (control characters other
// than tab and newline, bytes that are not UTF-8) with U+FFFD, so the text can neither
// end an element or attribute nor break the page's encoding.
std::string escape_html(std::string_view text);

}  // namespace ferry::report
