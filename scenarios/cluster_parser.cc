// The `cluster` section: nodes, GPUs, NICs and their rates, the topology.
#include <string>

#include "scenarios/limits.h"
#include "scenarios/mapping_reader.h"
#include "scenarios/section_parsers.h"

namespace ferry::scenarios {
namespace {

constexpr uint64_t kMaxSpines = 1024;

// nic_rate: one rate for every NIC, or a list with one rate per NIC.
void parse_nic_rates(MappingReader& reader, std::optional<uint64_t> nics_per_node, ClusterSpec& cluster) {
  const YamlNode* node = reader.get("nic_rate", Presence::kRequired);
  if (node == nullptr) return;
  const std::string field = reader.field("nic_rate");
  const RealRange rate_range{0, kMaxNicGbps, true, false};
  if (!node->is_sequence()) {
    const std::optional<double> rate = read_rate(*node, field, reader.diagnostics(), rate_range);
    cluster.nic_gbps.assign(nics_per_node.value_or(1), rate.value_or(0));
    return;
  }
  if (node->items.empty() || node->items.size() > kMaxNicsPerNode) {
    reader.error("nic_rate", "give 1 to " + std::to_string(kMaxNicsPerNode) + " rates, one per NIC");
    return;
  }
  for (size_t i = 0; i < node->items.size(); ++i) {
    cluster.nic_gbps.push_back(
        read_rate(node->items[i], indexed_field(field, i), reader.diagnostics(), rate_range).value_or(0));
  }
  if (nics_per_node && *nics_per_node != node->items.size()) {
    reader.error("nic_rate", std::to_string(node->items.size()) + " rates for " + std::to_string(*nics_per_node) +
                                 " NICs per node; give one rate, or one per NIC");
  }
}

void read_leaf_spine(MappingReader& reader, ClusterSpec& cluster) {
  // Two leaves unless told otherwise: the smallest leaf-spine that crosses a spine.
  const uint32_t default_per_leaf = cluster.nodes > 1 ? (cluster.nodes + 1) / 2 : 1;
  cluster.nodes_per_leaf = static_cast<uint32_t>(
      reader.whole("nodes_per_leaf", Presence::kOptional, {1, kMaxNodes}).value_or(default_per_leaf));
  cluster.spines = static_cast<uint32_t>(reader.whole("spines", Presence::kOptional, {1, kMaxSpines}).value_or(2));
  cluster.oversubscription =
      reader.real("oversubscription", Presence::kOptional, RealRange::closed(1, 1000)).value_or(1);
  if (cluster.nodes > 0 && cluster.nodes_per_leaf > cluster.nodes) {
    reader.error("nodes_per_leaf", "must be at most the cluster's " + std::to_string(cluster.nodes) + " nodes, got " +
                                       std::to_string(cluster.nodes_per_leaf));
  }
}

// topology: a kind's name, or a mapping with `kind` and the leaf-spine parameters.
void parse_topology(MappingReader& cluster_reader, ClusterSpec& cluster) {
  const YamlNode* node = cluster_reader.get("topology");
  if (node == nullptr) return;
  const std::string field = cluster_reader.field("topology");
  Diagnostics& diagnostics = cluster_reader.diagnostics();
  if (!node->is_mapping()) {
    cluster.topology = read_choice(*node, field, diagnostics, kTopologyNames).value_or(cluster.topology);
    if (cluster.topology == Topology::kLeafSpine) {  // every parameter at its default
      const YamlNode empty{YamlNode::Kind::kMapping, node->mark, {}, {}, {}};
      MappingReader defaults(empty, field, diagnostics);
      read_leaf_spine(defaults, cluster);
    }
    return;
  }
  MappingReader reader(*node, field, diagnostics);
  cluster.topology = reader.choice("kind", Presence::kRequired, kTopologyNames).value_or(cluster.topology);
  if (cluster.topology == Topology::kLeafSpine) {
    read_leaf_spine(reader, cluster);
  } else {
    for (std::string_view key : {"nodes_per_leaf", "spines", "oversubscription"}) {
      reader.forbid(key, "applies to topology leaf_spine, not single_switch");
    }
  }
  reader.finish();
}

}  // namespace

std::optional<ClusterSpec> parse_cluster(const YamlNode& node, Diagnostics& diagnostics) {
  const size_t errors_before = diagnostics.count();
  if (!expect_mapping(node, "cluster", diagnostics)) return std::nullopt;
  MappingReader reader(node, "cluster", diagnostics);
  ClusterSpec cluster;
  cluster.nodes = static_cast<uint32_t>(reader.whole("nodes", Presence::kRequired, {1, kMaxNodes}).value_or(0));
  cluster.gpus_per_node =
      static_cast<uint32_t>(reader.whole("gpus_per_node", Presence::kRequired, {1, kMaxGpusPerNode}).value_or(0));
  const std::optional<uint64_t> nics = reader.whole("nics_per_node", Presence::kOptional, {1, kMaxNicsPerNode});
  parse_nic_rates(reader, nics, cluster);
  parse_topology(reader, cluster);
  reader.finish();
  if (diagnostics.count() != errors_before) return std::nullopt;
  return cluster;
}

}  // namespace ferry::scenarios
