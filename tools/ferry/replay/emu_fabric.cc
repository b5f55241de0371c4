// The scenario on emu: one emu node per cluster node with the node's NICs, and the engines
// of that node's ranks all open it, so that a node's GPUs share its NICs (each port
// shared fairly in deterministic mode, docs/emulator.md) as on hardware and as on sim; a
// fault on a cluster node acts on its emu node.
#include <algorithm>
#include <memory>

#include "emu/fabric.h"
#include "tools/ferry/replay/fabric_mapping.h"

namespace ferry::replay {

using namespace scenarios;

FabricMapping make_emu_fabric(const Scenario& scenario, uint64_t seed, uint32_t ranks, std::vector<std::string>&) {
  EmuFabric params;
  if (const auto* emu = std::get_if<EmuFabric>(&scenario.fabric.params)) params = *emu;
  emu::FabricConfig fabric;
  fabric.mode = params.mode == EmuMode::kFast ? emu::Mode::kFast : emu::Mode::kDeterministic;
  fabric.seed = seed;
  const uint32_t nodes = std::max(scenario.cluster.nodes, scenario.cluster.nodes_for(ranks));
  fabric.nodes = nodes;
  fabric.propagation_delay_ns = params.delay_ns;
  fabric.srd_reorder_window_ns = params.reorder_window_ns;
  fabric.nics.clear();
  for (double gbps : scenario.cluster.nic_gbps) {
    emu::NicConfig nic;
    nic.link_gbps = gbps;
    nic.loss_probability = params.loss;
    fabric.nics.push_back(nic);
  }
  FabricMapping out;
  out.seed = seed;
  try {
    out.fabric = std::make_unique<emu::Fabric>(fabric);
  } catch (const std::exception& e) {
    out.error = std::string("building the emu fabric: ") + e.what();
    return out;
  }
  for (uint32_t r = 0; r < ranks; ++r) out.rank_nodes.push_back(r / scenario.cluster.gpus_per_node);
  for (uint32_t node = 0; node < nodes; ++node) out.fault_nodes.push_back({node});
  // Failures surface within milliseconds of virtual time rather than seconds.
  out.engine = replay_engine_config();
  out.engine.endpoint.retry_count = 3;
  out.engine.endpoint.retry_timeout_ns = 200'000;
  out.engine.endpoint.rnr_timer_ns = 10'000;
  return out;
}

}  // namespace ferry::replay
