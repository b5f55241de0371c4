// The scenario on sim: one simulated host per cluster node with the node's NICs, and the
// engines of that node's ranks all open that host, so that a node's GPUs share its rails
// as on hardware; a fault on a cluster node acts on its host. docs/cli.md lists how the
// scenario maps onto SimulationConfig.
#include <algorithm>
#include <memory>

#include "sim/simulation.h"
#include "tools/ferry/replay/fabric_mapping.h"

namespace ferry::replay {

using namespace scenarios;

namespace {

// Above this many MTU frames for the whole replay, one simulated packet carries several
// frames (sim's aggregated frames), keeping a replay to about this many packets.
constexpr uint64_t kFullFidelityFrames = 4'000'000;
constexpr uint32_t kMaxFramesPerPacket = 16;

}  // namespace

FabricMapping make_sim_fabric(const Scenario& scenario, uint64_t seed, uint32_t ranks, uint64_t estimated_bytes,
                              std::vector<std::string>& notes) {
  SimFabric params;
  if (const auto* s = std::get_if<SimFabric>(&scenario.fabric.params)) params = *s;
  const ClusterSpec& cluster = scenario.cluster;
  sim::SimulationConfig config;
  // ns-3 wants a seed of at least 1: a bijection from the 64-bit seed onto (seed, run).
  config.seed = static_cast<uint32_t>(seed % 0xFFFFFFFFull) + 1;
  config.run = seed / 0xFFFFFFFFull + 1;
  config.hosts = std::max(cluster.nodes, cluster.nodes_for(ranks));
  config.nics.clear();
  for (double gbps : cluster.nic_gbps) config.nics.push_back(sim::NicConfig{gbps});
  if (cluster.topology == Topology::kLeafSpine) {
    config.topology = sim::Topology::kLeafSpine;
    config.hosts_per_leaf = cluster.nodes_per_leaf;
    config.spines = cluster.spines;
    config.oversubscription = cluster.oversubscription;
  }
  config.access_link.delay_ns = config.fabric_link.delay_ns = params.link_delay_ns;
  config.access_link.loss = config.fabric_link.loss = params.loss;
  const bool roce = params.transport == SimTransport::kRoce;
  config.transport = roce ? sim::Transport::kRoceRc : sim::Transport::kSrd;
  config.go_back_zero = roce && params.retransmit == Retransmit::kGoBackZero;
  config.pfc.enabled = roce && params.pfc;
  if (roce && params.dcqcn) {
    const EcnMarking ecn = params.ecn.value_or(EcnMarking{});
    const Dcqcn& d = *params.dcqcn;
    config.congestion.enabled = true;
    config.congestion.kmin_bytes = ecn.kmin_bytes;
    config.congestion.kmax_bytes = ecn.kmax_bytes;
    config.congestion.pmax = ecn.pmax;
    config.congestion.g = d.g;
    config.congestion.alpha_timer_ns = d.alpha_timer_ns;
    config.congestion.rate_increase_timer_ns = d.rate_timer_ns;
    config.congestion.byte_counter_bytes = d.byte_counter_bytes;
    config.congestion.additive_increase_gbps = d.rate_ai_gbps;
    config.congestion.hyper_increase_gbps = d.rate_hai_gbps;
    config.congestion.fast_recovery_steps = d.fast_recovery_steps;
    config.congestion.cnp_interval_ns = d.cnp_interval_ns;
  } else if (roce && params.ecn) {
    notes.push_back("ecn without dcqcn: sim marks only for DCQCN, so marking alone changes nothing and is off");
  }
  const uint64_t frames = estimated_bytes / config.mtu;
  while (config.frames_per_packet < kMaxFramesPerPacket &&
         frames / config.frames_per_packet > kFullFidelityFrames) {
    config.frames_per_packet *= 2;
  }
  if (config.frames_per_packet > 1) {
    notes.push_back("sim carries " + std::to_string(config.frames_per_packet) +
                    " MTU frames per simulated packet (aggregated frames) to keep this large replay fast");
  }
  FabricMapping out;
  out.seed = seed;
  try {
    out.fabric = std::make_unique<sim::Simulation>(config);
  } catch (const std::exception& e) {
    out.error = std::string("building the simulation: ") + e.what();
    return out;
  }
  for (uint32_t r = 0; r < ranks; ++r) out.rank_nodes.push_back(r / cluster.gpus_per_node);
  for (uint32_t node = 0; node < config.hosts; ++node) out.fault_nodes.push_back({node});
  // Packet-level queues and PFC pauses delay progress by more than emu's timing does:
  // retry over a millisecond, failures still surface within milliseconds.
  out.engine = replay_engine_config();
  out.engine.endpoint.retry_count = 7;
  out.engine.endpoint.retry_timeout_ns = 1'000'000;
  out.engine.endpoint.rnr_timer_ns = 10'000;
  // A sim endpoint holds its whole send queue: all-to-alls over many ranks keep it short.
  out.engine.max_send_wr = ranks <= 16 ? 512 : 128;
  return out;
}

}  // namespace ferry::replay
