// "Did you mean ...?": the closest known word to a misspelt one, by edit distance.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ferry::scenarios {

// Levenshtein distance: insertions, deletions and substitutions, each costing 1.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word`, when it is near enough to be a likely misspelling: at
// most max(2, length / 3) edits away, and fewer edits than the word has characters (so
// that "ab" does not "suggest" an unrelated two-letter word). Ties go to the earlier
// candidate.
std::optional<std::string> closest_match(std::string_view word, std::span<const std::string_view> candidates);

// " (did you mean 'x'?)" when there is a close match, else " (expected one of: a, b, c)".
std::string suggestion_suffix(std::string_view word, std::span<const std::string_view> candidates);

// "a, b, c": the candidates as one list, for messages and help texts.
std::string join_names(std::span<const std::string_view> names);

}  // namespace ferry::scenarios
