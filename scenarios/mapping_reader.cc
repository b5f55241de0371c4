#include "scenarios/mapping_reader.h"

#include <algorithm>

#include "scenarios/suggest.h"

namespace ferry::scenarios {
namespace {

bool contains(const std::vector<std::string>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
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
  const YamlNode* node = get(key, presence);
  return node != nullptr ? read_whole(*node, field(key), diagnostics_, range) : std::nullopt;
}

std::optional<uint64_t> MappingReader::tokens(std::string_view key, Presence presence, WholeRange range) {
  const YamlNode* node = get(key, presence);
  return node != nullptr ? read_tokens(*node, field(key), diagnostics_, range) : std::nullopt;
}

std::optional<uint64_t> MappingReader::size(std::string_view key, Presence presence, WholeRange range) {
  const YamlNode* node = get(key, presence);
  return node != nullptr ? read_size(*node, field(key), diagnostics_, range) : std::nullopt;
}

std::optional<uint64_t> MappingReader::duration(std::string_view key, Presence presence, WholeRange range) {
  const YamlNode* node = get(key, presence);
  return node != nullptr ? read_duration(*node, field(key), diagnostics_, range) : std::nullopt;
}

std::optional<double> MappingReader::rate(std::string_view key, Presence presence, RealRange range) {
  const YamlNode* node = get(key, presence);
  return node != nullptr ? read_rate(*node, field(key), diagnostics_, range) : std::nullopt;
}

std::optional<double> MappingReader::real(std::string_view key, Presence presence, RealRange range) {
  const YamlNode* node = get(key, presence);
  return node != nullptr ? read_real(*node, field(key), diagnostics_, range) : std::nullopt;
}

std::optional<bool> MappingReader::flag(std::string_view key, Presence presence) {
  const YamlNode* node = get(key, presence);
  return node != nullptr ? read_flag(*node, field(key), diagnostics_) : std::nullopt;
}

std::optional<std::string> MappingReader::text(std::string_view key, Presence presence) {
  const YamlNode* node = get(key, presence);
  return node != nullptr ? read_text(*node, field(key), diagnostics_) : std::nullopt;
}

}  // namespace ferry::scenarios
