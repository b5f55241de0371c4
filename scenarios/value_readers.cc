#include "scenarios/value_readers.h"

#include <cmath>

#include "scenarios/units.h"

namespace ferry::scenarios {
namespace {

// Reads a scalar through a unit parser and checks it against a whole range; `format`
// prints bounds in the quantity's own unit.
std::optional<uint64_t> read_whole_quantity(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                            std::string_view what, UnitParse<uint64_t> (*parse)(std::string_view),
                                            std::string (*format)(uint64_t), WholeRange range) {
  const std::optional<std::string_view> text = scalar_text(node, field, what, diagnostics);
  if (!text) return std::nullopt;
  const UnitParse<uint64_t> parsed = parse(*text);
  if (!parsed.value) {
    diagnostics.error(node.mark, std::string(field) + ": " + parsed.error);
    return std::nullopt;
  }
  const uint64_t value = *parsed.value;
  if (value < range.min) {
    diagnostics.error(node.mark,
                      std::string(field) + ": must be at least " + format(range.min) + ", got " + format(value));
    return std::nullopt;
  }
  if (value > range.max) {
    diagnostics.error(node.mark,
                      std::string(field) + ": must be at most " + format(range.max) + ", got " + format(value));
    return std::nullopt;
  }
  return value;
}

std::string plain_number(uint64_t value) { return std::to_string(value); }

std::optional<double> check_real(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                 const UnitParse<double>& parsed, RealRange range, std::string (*format)(double)) {
  if (!parsed.value) {
    diagnostics.error(node.mark, std::string(field) + ": " + parsed.error);
    return std::nullopt;
  }
  if (!range.contains(*parsed.value)) {
    diagnostics.error(node.mark,
                      std::string(field) + ": must be " + range.describe() + ", got " + format(*parsed.value));
    return std::nullopt;
  }
  return parsed.value;
}

}  // namespace

bool RealRange::contains(double value) const {
  const bool above_min = min_open ? value > min : value >= min;
  const bool below_max = max_open ? value < max : value <= max;
  return above_min && below_max;
}

std::string RealRange::describe() const {
  if (std::isinf(max)) return (min_open ? "greater than " : "at least ") + format_real(min);
  if (std::isinf(min)) return (max_open ? "less than " : "at most ") + format_real(max);
  return std::string("in ") + (min_open ? "(" : "[") + format_real(min) + ", " + format_real(max) +
         (max_open ? ")" : "]");
}

std::optional<std::string_view> scalar_text(const YamlNode& node, std::string_view field, std::string_view what,
                                            Diagnostics& diagnostics) {
  if (node.is_scalar()) return std::string_view(node.text);
  diagnostics.error(node.mark, std::string(field) + ": expected " + std::string(what) + ", got " + node.describe());
  return std::nullopt;
}

std::optional<uint64_t> read_whole(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                   WholeRange range) {
  return read_whole_quantity(node, field, diagnostics, "a whole number", parse_whole, plain_number, range);
}

std::optional<uint64_t> read_tokens(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                    WholeRange range) {
  return read_whole_quantity(node, field, diagnostics, "a token count", parse_token_count, plain_number, range);
}

std::optional<uint64_t> read_size(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                  WholeRange range) {
  return read_whole_quantity(node, field, diagnostics, "a size", parse_size, format_bytes, range);
}

std::optional<uint64_t> read_duration(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                      WholeRange range) {
  return read_whole_quantity(node, field, diagnostics, "a duration", parse_duration_ns, format_duration, range);
}

std::optional<double> read_rate(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                RealRange range) {
  const std::optional<std::string_view> text = scalar_text(node, field, "a rate", diagnostics);
  if (!text) return std::nullopt;
  return check_real(node, field, diagnostics, parse_rate_gbps(*text), range, format_rate);
}

std::optional<double> read_real(const YamlNode& node, std::string_view field, Diagnostics& diagnostics,
                                RealRange range) {
  const std::optional<std::string_view> text = scalar_text(node, field, "a number", diagnostics);
  if (!text) return std::nullopt;
  return check_real(node, field, diagnostics, parse_real(*text), range, format_real);
}

std::optional<bool> read_flag(const YamlNode& node, std::string_view field, Diagnostics& diagnostics) {
  const std::optional<std::string_view> text = scalar_text(node, field, "true or false", diagnostics);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  diagnostics.error(node.mark, std::string(field) + ": expected true or false, got " + quote_value(*text));
  return std::nullopt;
}

std::optional<std::string> read_text(const YamlNode& node, std::string_view field, Diagnostics& diagnostics) {
  const std::optional<std::string_view> text = scalar_text(node, field, "text", diagnostics);
  if (!text) return std::nullopt;
  if (text->empty()) {
    diagnostics.error(node.mark, std::string(field) + ": must not be empty");
    return std::nullopt;
  }
  return std::string(*text);
}

std::string indexed_field(std::string_view field, size_t index) {
  return std::string(field) + "[" + std::to_string(index) + "]";
}

std::vector<const YamlNode*> one_or_many(const YamlNode& node) {
  std::vector<const YamlNode*> items;
  if (node.is_sequence()) {
    for (const YamlNode& item : node.items) items.push_back(&item);
  } else {
    items.push_back(&node);
  }
  return items;
}

bool expect_mapping(const YamlNode& node, std::string_view field, Diagnostics& diagnostics) {
  if (node.is_mapping()) return true;
  diagnostics.error(node.mark, std::string(field) + ": expected a mapping of keys, got " + node.describe());
  return false;
}

bool expect_list(const YamlNode& node, std::string_view field, Diagnostics& diagnostics) {
  if (node.is_sequence()) return true;
  diagnostics.error(node.mark, std::string(field) + ": expected a list, got " + node.describe());
  return false;
}

}  // namespace ferry::scenarios
