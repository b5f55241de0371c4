#include "scenarios/mapping_reader.h"

#include <algorithm>

#include "scenarios/suggest.h"

namespace ferry::scenarios {
namespace {

bool contains(const std::vector<std::string>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// A field's value read by `reader` (one of value_readers.h), or nullopt when it is absent.
template <typename Reader, typename... Args>
auto read_present(const YamlNode* node, const std::string& field, Diagnostics& diagnostics, Reader reader,
                  Args... args) -> decltype(reader(*node, field, diagnostics, args...)) {
  if (node == nullptr) return std::nullopt;
  return reader(*node, field, diagnostics, args...);
}

}  // namespace

MappingReader::MappingReader(const YamlNode& mapping, std::string path, Diagnostics& diagnostics)
    : mapping_(mapping), path_(std::move(path)), diagnostics_(diagnostics) {}

const YamlEntry* MappingReader::entry(std::string_view key) const {
  for (const YamlEntry& entry : mapping_.entries) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

const YamlNode* MappingReader::get(std::string_view key, Presence presence) {
  if (!contains(asked_, key)) asked_.emplace_back(key);
  const YamlEntry* found = entry(key);
  if (found == nullptr && presence == Presence::kRequired) {
    error_here("missing required key " + quote_value(key));
  }
  return found != nullptr ? &found->value : nullptr;
}

bool MappingReader::has(std::string_view key) const { return entry(key) != nullptr; }

void MappingReader::forbid(std::string_view key, std::string_view reason) {
  const YamlEntry* found = entry(key);
  if (found == nullptr || contains(forbidden_, key)) return;
  forbidden_.emplace_back(key);
  const std::string prefix = path_.empty() ? "" : path_ + ": ";
  diagnostics_.error(found->key_mark, prefix + "key " + quote_value(key) + " " + std::string(reason));
}

void MappingReader::finish() {
  const std::vector<std::string_view> known(asked_.begin(), asked_.end());
  for (const YamlEntry& entry : mapping_.entries) {
    if (contains(asked_, entry.key) || contains(forbidden_, entry.key)) continue;
    const std::string prefix = path_.empty() ? "" : path_ + ": ";
    diagnostics_.error(entry.key_mark,
                       prefix + "unknown key " + quote_value(entry.key) + suggestion_suffix(entry.key, known));
  }
}

std::string MappingReader::field(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

SourceMark MappingReader::where(std::string_view key) const {
  const YamlEntry* found = entry(key);
  return found != nullptr ? found->value.mark : mapping_.mark;
}

void MappingReader::error(std::string_view key, const std::string& message) {
  diagnostics_.error(where(key), field(key) + ": " + message);
}

void MappingReader::error_here(const std::string& message) {
  diagnostics_.error(mapping_.mark, path_.empty() ? message : path_ + ": " + message);
}

std::optional<uint64_t> MappingReader::whole(std::string_view key, Presence presence, WholeRange range) {
  return read_present(get(key, presence), field(key), diagnostics_, read_whole, range);
}

std::optional<uint64_t> MappingReader::tokens(std::string_view key, Presence presence, WholeRange range) {
  return read_present(get(key, presence), field(key), diagnostics_, read_tokens, range);
}

std::optional<uint64_t> MappingReader::size(std::string_view key, Presence presence, WholeRange range) {
  return read_present(get(key, presence), field(key), diagnostics_, read_size, range);
}

std::optional<uint64_t> MappingReader::duration(std::string_view key, Presence presence, WholeRange range) {
  return read_present(get(key, presence), field(key), diagnostics_, read_duration, range);
}

std::optional<double> MappingReader::rate(std::string_view key, Presence presence, RealRange range) {
  return read_present(get(key, presence), field(key), diagnostics_, read_rate, range);
}

std::optional<double> MappingReader::real(std::string_view key, Presence presence, RealRange range) {
  return read_present(get(key, presence), field(key), diagnostics_, read_real, range);
}

std::optional<bool> MappingReader::flag(std::string_view key, Presence presence) {
  return read_present(get(key, presence), field(key), diagnostics_, read_flag);
}

std::optional<std::string> MappingReader::text(std::string_view key, Presence presence) {
  return read_present(get(key, presence), field(key), diagnostics_, read_text);
}

}  // namespace ferry::scenarios
