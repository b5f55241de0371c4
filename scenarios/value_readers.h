// Typed reads of one YAML value, for the section parsers.
//
// Each reader either returns the value or reports what is wrong as "<field>: <message>"
// at the value's place and returns nullopt; it never throws. Ranges are checked here so
// that every bound reads the same way in messages.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/diagnostics.h"
#include "scenarios/named.h"
#include "scenarios/suggest.h"
#include "scenarios/yaml_document.h"

namespace ferry::scenarios {

struct WholeRange {
  uint64_t min = 0;
  uint64_t max = std::numeric_limits<uint64_t>::max();
};

struct RealRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;  // min itself excluded
  bool max_open = false;  // max itself excluded

  static RealRange at_least(double min) { return {min, std::numeric_limits<double>::infinity(), false, false}; }
  static RealRange above(double min) { return {min, std::numeric_limits<double>::infinity(), true, false}; }
  static RealRange closed(double min, double max) { return {min, max, false, false}; }
  static RealRange probability_below_one() { return {0, 1, false, true}; }  // [0, 1)

  bool contains(double value) const;
  std::string describe() const;  // "at least 1", "greater than 0", "in [0, 1)"
};

std::optional<uint64_t> read_whole(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                   WholeRange range = {});
std::optional<uint64_t> read_tokens(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                    WholeRange range = {});
std::optional<uint64_t> read_size(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                  WholeRange range = {});
std::optional<uint64_t> read_duration(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                      WholeRange range = {});
std::optional<double> read_rate(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                RealRange range = RealRange::above(0));
std::optional<double> read_real(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                RealRange range = {});
std::optional<bool> read_flag(const YamlNode& node, std::string_view field, Diagnostics& diagnostics);
// Any scalar, as written; an empty text is refused.
std::optional<std::string> read_text(const YamlNode& node, std::string_view field, Diagnostics& diagnostics);

// The scalar's text, when it is a scalar; else reports "expected <what>, got a list".
std::optional<std::string_view> scalar_text(const YamlNode& node, std::string_view field, std::string_view what,
                                            Diagnostics& diagnostics);

// One of the table's names.
template <typename E, size_t N>
std::optional<E> read_choice(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                             const Named<E> (&table)[N]) {
  const std::vector<std::string_view> names = names_of(table);
  const std::optional<std::string_view> text = scalar_text(node, field, "one of " + join_names(names), diagnostics);
  if (!text) return std::nullopt;
  for (const Named<E>& entry : table) {
    if (entry.name == *text) return entry.value;
  }
  diagnostics.error(node.mark,
                    std::string(field) + ": unknown value " + quote_value(*text) + suggestion_suffix(*text, names));
  return std::nullopt;
}

// "workloads[2]": the field naming a list's item.
std::string indexed_field(std::string_view field, size_t index);

// A field's items: a list's, or a lone scalar or mapping as a list of one ("nic_rate:
// 200 Gb/s" and "nic_rate: [200 Gb/s]" read alike).
std::vector<const YamlNode*> one_or_many(const YamlNode& node);

// Reports "<field>: expected a mapping of keys, got ..." unless the node is a mapping.
bool expect_mapping(const YamlNode& node, std::string_view field, Diagnostics& diagnostics);
// Reports "<field>: expected a list, got ..." unless the node is a list.
bool expect_list(const YamlNode& node, std::string_view field, Diagnostics& diagnostics);

}  // namespace ferry::scenarios
