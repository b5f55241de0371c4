// A YAML document as a tree whose every node and key knows its place in the file.
//
// Built from libyaml's event stream (not its document loader) so that aliases never
// expand: a scenario has no use for them, and refusing them keeps a hostile file from
// growing exponentially. Malformed YAML, aliases, keys that are not plain scalars and a
// second document are errors; a repeated key is an error that does not stop the load.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/diagnostics.h"
#include "scenarios/source_mark.h"

namespace ferry::scenarios {

struct YamlEntry;

struct YamlNode {
  // kNull: an empty value, "~" or "null" (unquoted).
  enum class Kind { kNull, kScalar, kSequence, kMapping };

  Kind kind = Kind::kNull;
  SourceMark mark;
  std::string text;                // kScalar
  std::vector<YamlNode> items;     // kSequence
  std::vector<YamlEntry> entries;  // kMapping, in file order, keys distinct

  bool is_null() const { return kind == Kind::kNull; }
  bool is_scalar() const { return kind == Kind::kScalar; }
  bool is_sequence() const { return kind == Kind::kSequence; }
  bool is_mapping() const { return kind == Kind::kMapping; }

  // What the node is, for messages: "'text'", "nothing", "a list", "a mapping".
  std::string describe() const;
};

struct YamlEntry {
  std::string key;
  SourceMark key_mark;
  YamlNode value;
};

// Nesting deeper than this is refused: no scenario needs it, and it bounds the work.
inline constexpr size_t kMaxYamlDepth = 64;

// The document's root (kNull for an empty file), or nullopt after an error that stops
// the load. Either way every error is in `diagnostics`.
std::optional<YamlNode> load_yaml(std::string_view text, Diagnostics& diagnostics);

}  // namespace ferry::scenarios
