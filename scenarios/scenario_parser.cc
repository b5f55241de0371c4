#include "scenarios/scenario_parser.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "scenarios/limits.h"
#include "scenarios/mapping_reader.h"
#include "scenarios/scale.h"
#include "scenarios/section_parsers.h"
#include "scenarios/units.h"
#include "scenarios/yaml_document.h"

namespace ferry::scenarios {
namespace {

constexpr uint64_t kLargestFile = 16 << 20;

// "scenarios/llama3-70b-tp8-decode.yaml" -> "llama3-70b-tp8-decode".
std::string default_name(std::string_view file_name) {
  const size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  const size_t dot = file_name.rfind('.');
  if (dot != std::string_view::npos && dot > 0) file_name = file_name.substr(0, dot);
  return std::string(file_name);
}

ScenarioParse failed(Diagnostics& diagnostics) { return ScenarioParse{std::nullopt, diagnostics.take_sorted()}; }

template <typename T>
const T* pointer_to(const std::optional<T>& value) {
  return value ? &*value : nullptr;
}

}  // namespace

ScenarioParse parse_scenario(std::string_view text, std::string_view file_name, const ParseOptions& options) {
  Diagnostics diagnostics{std::string(file_name)};
  const std::optional<YamlNode> root = load_yaml(text, diagnostics);
  if (!root) return failed(diagnostics);
  if (root->is_null()) {
    diagnostics.error(SourceMark{1, 1}, "the file is empty; a scenario needs cluster, fabric, model and workloads");
    return failed(diagnostics);
  }
  if (!root->is_mapping()) {
    diagnostics.error(root->mark,
                      "expected a mapping of keys (cluster, fabric, model, workloads, ...) at the top "
                      "level, got " +
                          root->describe());
    return failed(diagnostics);
  }

  MappingReader top(*root, "", diagnostics);
  Scenario scenario;
  scenario.name = top.text("name", Presence::kOptional).value_or(default_name(file_name));
  scenario.description = top.text("description", Presence::kOptional).value_or("");
  const double file_scale = top.real("scale", Presence::kOptional, RealRange{0, kMaxScale, true, false}).value_or(1);

  std::optional<ClusterSpec> cluster;
  std::optional<FabricSpec> fabric;
  std::optional<ModelSpec> model;
  if (const YamlNode* node = top.get("cluster", Presence::kRequired)) cluster = parse_cluster(*node, diagnostics);
  if (const YamlNode* node = top.get("fabric", Presence::kRequired)) fabric = parse_fabric(*node, diagnostics);
  if (const YamlNode* node = top.get("model", Presence::kRequired)) model = parse_model(*node, diagnostics);
  if (const YamlNode* node = top.get("workloads", Presence::kRequired)) {
    scenario.workloads = parse_workloads(*node, pointer_to(cluster), pointer_to(model), diagnostics);
  }
  if (const YamlNode* node = top.get("faults")) {
    scenario.faults = parse_faults(*node, pointer_to(cluster), pointer_to(fabric), diagnostics);
  }
  top.finish();

  const double scale = file_scale * options.scale;
  if (!(scale > 0 && scale <= kMaxScale)) {
    diagnostics.error(top.where("scale"), "scale: the file's " + format_real(file_scale) + " times the caller's " +
                                              format_real(options.scale) + " must be in (0, " + format_real(kMaxScale) +
                                              "]");
  }
  if (!diagnostics.empty()) return failed(diagnostics);

  scenario.cluster = std::move(*cluster);
  scenario.fabric = std::move(*fabric);
  scenario.model = std::move(*model);
  apply_scale(scenario, scale);
  return ScenarioParse{std::move(scenario), {}};
}

ScenarioParse load_scenario(const std::string& path, const ParseOptions& options) {
  Diagnostics diagnostics{path};
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    diagnostics.error({}, "cannot read: it is a directory");
    return failed(diagnostics);
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    diagnostics.error({}, std::string("cannot read: ") + std::strerror(errno));
    return failed(diagnostics);
  }
  std::string text;
  char buffer[1 << 16];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(file.gcount()));
    if (text.size() > kLargestFile) {
      diagnostics.error({}, "cannot read: larger than " + format_bytes(kLargestFile) + ", too large for a scenario");
      return failed(diagnostics);
    }
  }
  if (file.bad()) {
    diagnostics.error({}, "cannot read: input error");
    return failed(diagnostics);
  }
  return parse_scenario(text, path, options);
}

}  // namespace ferry::scenarios
