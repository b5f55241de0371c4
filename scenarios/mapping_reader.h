// MappingReader: reads one YAML mapping of a scenario key by key.
//
// Every key a parser asks for becomes known; finish() then reports each key that nobody
// asked for, with the nearest known key as a suggestion ("did you mean ...?"). Keys that
// are legal elsewhere but not here (a sim key under provider emu) are refused with
// forbid(), which says why. Messages name the field by its path: "cluster.nodes",
// "workloads[2].tp".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/diagnostics.h"
#include "scenarios/named.h"
#include "scenarios/value_readers.h"
#include "scenarios/yaml_document.h"

namespace ferry::scenarios {

enum class Presence { kRequired, kOptional };

class MappingReader {
 public:
  // `mapping` must be a mapping (see expect_mapping); `path` names it in messages, and is
  // empty for the top level.
  MappingReader(const YamlNode& mapping, std::string path, Diagnostics& diagnostics);

  // The key's value, or nullptr when it is absent (a required one is then reported as
  // missing). Either way the key becomes known.
  const YamlNode* get(std::string_view key, Presence presence = Presence::kOptional);
  bool has(std::string_view key) const;

  // Refuses a key that does not belong here: "<path>: key 'k' <reason>", at the key.
  void forbid(std::string_view key, std::string_view reason);
  // Reports every key that was neither asked for nor forbidden. Call once, last.
  void finish();

  // "cluster.nodes" for key "nodes" of "cluster".
  std::string field(std::string_view key) const;
  // The key's value's place, or the mapping's when the key is absent.
  SourceMark where(std::string_view key) const;
  // "<field>: message" at where(key).
  void error(std::string_view key, const std::string& message);
  // "<path>: message" at the mapping.
  void error_here(const std::string& message);

  const std::string& path() const { return path_; }
  SourceMark mark() const { return mapping_.mark; }
  Diagnostics& diagnostics() const { return diagnostics_; }

  // Typed fields: nullopt when absent or wrong (wrong ones are reported).
  std::optional<uint64_t> whole(std::string_view key, Presence presence, WholeRange range = {});
  std::optional<uint64_t> tokens(std::string_view key, Presence presence, WholeRange range = {});
  std::optional<uint64_t> size(std::string_view key, Presence presence, WholeRange range = {});
  std::optional<uint64_t> duration(std::string_view key, Presence presence, WholeRange range = {});
  std::optional<double> rate(std::string_view key, Presence presence, RealRange range = RealRange::above(0));
  std::optional<double> real(std::string_view key, Presence presence, RealRange range = {});
  std::optional<bool> flag(std::string_view key, Presence presence);
  std::optional<std::string> text(std::string_view key, Presence presence);

  template <typename E, size_t N>
  std::optional<E> choice(std::string_view key, Presence presence, const Named<E> (&table)[N]) {
    const YamlNode* node = get(key, presence);
    if (node == nullptr) return std::nullopt;
    return read_choice(*node, field(key), diagnostics_, table);
  }

 private:
  const YamlEntry* entry(std::string_view key) const;

  const YamlNode& mapping_;
  std::string path_;
  Diagnostics& diagnostics_;
  std::vector<std::string> asked_;      // the keys this mapping may hold
  std::vector<std::string> forbidden_;  // reported already
};

}  // namespace ferry::scenarios
