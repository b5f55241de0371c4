#include "scenarios/suggest.h"

#include <algorithm>
#include <vector>

namespace ferry::scenarios {

size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the dynamic-programming table at a time.
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_match(std::string_view word, std::span<const std::string_view> candidates) {
  // Longer words are not misspellings of a key; skipping them also bounds the work.
  constexpr size_t kLongestWord = 64;
  if (word.empty() || word.size() > kLongestWord) return std::nullopt;
  const size_t allowed = std::max<size_t>(2, word.size() / 3);
  std::optional<std::string> best;
  size_t best_distance = allowed + 1;
  for (std::string_view candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance && distance < word.size()) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  return best;
}

std::string suggestion_suffix(std::string_view word, std::span<const std::string_view> candidates) {
  if (std::optional<std::string> match = closest_match(word, candidates)) {
    return " (did you mean '" + *match + "'?)";
  }
  return " (expected one of: " + join_names(candidates) + ")";
}

std::string join_names(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace ferry::scenarios
