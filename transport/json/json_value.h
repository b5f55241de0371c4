// A small, strict JSON reader for the JSON ferry reads (report.json for `ferry diff`,
// etcd's answers for the directory), with errors at line:column and a bound on depth, so
// that a truncated or hostile document is an error message, never a crash.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::json {

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;  // a string's value; a number's text as written
  std::vector<JsonValue> items;                            // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject, in file order

  // The member called `key` of an object; nullptr when absent or not an object.
  const JsonValue* find(std::string_view key) const;
  // The value as a one-line string for tables: numbers as written, strings unquoted.
  std::string display() const;
};

struct JsonParse {
  std::optional<JsonValue> value;
  std::string error;  // "line:column: what is wrong", when value is absent
};

// Parses one JSON document (RFC 8259; nesting at most 64 deep).
JsonParse parse_json(std::string_view text);

}  // namespace ferry::json
