// ClusterSpec: the machines a scenario runs on: nodes of GPUs and NICs, and the switches
// between them.
//
// Ranks are GPUs, numbered node by node: rank r is GPU r % gpus_per_node of node
// r / gpus_per_node.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include "scenarios/named.h"

namespace ferry::scenarios {

enum class Topology {
  kSingleSwitch,  // every NIC on one switch
  kLeafSpine,     // nodes under leaves, every leaf linked to every spine
};

inline constexpr Named<Topology> kTopologyNames[] = {
    {"single_switch", Topology::kSingleSwitch},
    {"leaf_spine", Topology::kLeafSpine},
};

struct ClusterSpec {
  uint32_t nodes = 0;
  uint32_t gpus_per_node = 0;
  std::vector<double> nic_gbps;  // one rate per NIC of a node (every node alike)

  Topology topology = Topology::kSingleSwitch;
  // kLeafSpine only.
  uint32_t nodes_per_leaf = 0;
  uint32_t spines = 0;
  double oversubscription = 1;  // a leaf's downlink capacity / its uplink capacity, >= 1

  uint32_t nics_per_node() const { return static_cast<uint32_t>(nic_gbps.size()); }
  uint32_t gpus() const { return nodes * gpus_per_node; }
  double node_gbps() const { return std::accumulate(nic_gbps.begin(), nic_gbps.end(), 0.0); }
  // Nodes that `ranks` ranks occupy, from the first rank of a node.
  uint32_t nodes_for(uint64_t ranks) const {
    return static_cast<uint32_t>((ranks + gpus_per_node - 1) / gpus_per_node);
  }
};

}  // namespace ferry::scenarios
