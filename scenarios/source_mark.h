// SourceMark: where something stands in a scenario file, counted as editors count: line
// and column from 1, the column in characters (not bytes).
#pragma once

#include <compare>
#include <cstdint>

namespace ferry::scenarios {

struct SourceMark {
  uint32_t line = 0;  // 0: no place in the file (e.g. the file could not be read)
  uint32_t column = 0;

  auto operator<=>(const SourceMark&) const = default;
};

}  // namespace ferry::scenarios
