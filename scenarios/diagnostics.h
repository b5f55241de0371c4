// Diagnostics: the errors found in one scenario file, each at its place.
//
// Parsing never stops at the first error: every reader reports what it found wrong and
// carries on, so one run of `ferry validate` shows every problem of a file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/source_mark.h"

namespace ferry::scenarios {

struct Diagnostic {
  std::string file;
  SourceMark mark;
  std::string message;

  // "file:line:column: message", or "file: message" when there is no place.
  std::string to_string() const;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void error(SourceMark mark, std::string message);
  size_t count() const { return errors_.size(); }
  bool empty() const { return errors_.empty(); }
  const std::string& file() const { return file_; }

  // The errors in file order (by line, then column; errors without a place first).
  std::vector<Diagnostic> take_sorted();

 private:
  std::string file_;
  std::vector<Diagnostic> errors_;
};

// A value as messages show it: in single quotes, control characters escaped, and cut
// short when long, so that a message stays one readable line whatever the input.
std::string quote_value(std::string_view text);

}  // namespace ferry::scenarios
