// The `faults` section: timed fault events, checked against the cluster (does the node
// or NIC exist?) and the fabric (can it inject this fault?).
#include <string>

#include "scenarios/limits.h"
#include "scenarios/mapping_reader.h"
#include "scenarios/placement_checks.h"
#include "scenarios/section_parsers.h"

namespace ferry::scenarios {
namespace {

bool is_emu_fast(const FabricSpec* fabric) {
  if (fabric == nullptr) return false;
  const auto* emu = std::get_if<EmuFabric>(&fabric->params);
  return emu != nullptr && emu->mode == EmuMode::kFast;
}

FaultSpec parse_fault(MappingReader& reader, const ClusterSpec* cluster, const FabricSpec* fabric) {
  FaultSpec fault;
  fault.at_ns = reader.duration("at", Presence::kRequired, {0, kMaxDuration}).value_or(0);
  const std::optional<FaultKind> kind = reader.choice("kind", Presence::kRequired, kFaultNames);
  const std::optional<uint64_t> node = reader.whole("node", Presence::kRequired, {0, kMaxNodes - 1});
  if (node) {
    fault.node = static_cast<uint32_t>(*node);
    if (cluster != nullptr && *node >= cluster->nodes) {
      reader.error("node", "node " + std::to_string(*node) + " does not exist: the cluster has " +
                               count_of(cluster->nodes, "node") + ", numbered from 0");
    }
  }
  if (!kind) return fault;
  fault.kind = *kind;
  if (*kind == FaultKind::kNodeLoss) {
    reader.forbid("nic", "does not apply to node_loss (the whole node goes)");
  } else if (const std::optional<uint64_t> nic = reader.whole("nic", Presence::kRequired, {0, kMaxNicsPerNode - 1})) {
    fault.nic = static_cast<uint32_t>(*nic);
    if (cluster != nullptr && *nic >= cluster->nics_per_node()) {
      reader.error("nic", "nic " + std::to_string(*nic) + " does not exist: nodes have " +
                              count_of(cluster->nics_per_node(), "NIC") + ", numbered from 0");
    }
  }
  if (*kind == FaultKind::kLossRate) {
    fault.value = reader.real("value", Presence::kRequired, RealRange::probability_below_one()).value_or(0);
    if (is_emu_fast(fabric)) {
      reader.error("kind", "loss_rate needs emu mode deterministic (fast mode has no loss model)");
    }
  } else {
    reader.forbid("value", "applies to loss_rate only");
  }
  return fault;
}

}  // namespace

std::vector<FaultSpec> parse_faults(const YamlNode& node, const ClusterSpec* cluster, const FabricSpec* fabric,
                                    Diagnostics& diagnostics) {
  std::vector<FaultSpec> faults;
  if (node.is_null()) return faults;  // "faults:" with nothing after it: none
  if (!expect_list(node, "faults", diagnostics)) return faults;
  if (fabric != nullptr && !node.items.empty() &&
      (fabric->provider() == ProviderKind::kVerbs || fabric->provider() == ProviderKind::kTcp)) {
    diagnostics.error(node.mark, "faults: the " + std::string(name_of(kProviderNames, fabric->provider())) +
                                     " provider cannot inject faults; use provider emu or sim");
  }
  for (size_t i = 0; i < node.items.size(); ++i) {
    const std::string field = indexed_field("faults", i);
    if (!expect_mapping(node.items[i], field, diagnostics)) continue;
    MappingReader reader(node.items[i], field, diagnostics);
    FaultSpec fault = parse_fault(reader, cluster, fabric);
    fault.where = node.items[i].mark;
    reader.finish();
    faults.push_back(fault);
  }
  return faults;
}

}  // namespace ferry::scenarios
