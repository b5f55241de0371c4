// The sim side of a replay: one simulated host per cluster node with the node's NICs, and
// the engines of that node's ranks all open that host, so that a node's GPUs share its
// rails as on hardware. docs/cli.md lists how the scenario maps onto SimulationConfig.
#include <algorithm>
#include <cmath>
#include <memory>

#include "scenarios/workload_volume.h"
#include "sim/simulation.h"
#include "tools/ferry/replay/replay_fabric.h"

namespace ferry::replay {
namespace {

using namespace scenarios;

// Above this many MTU frames for the whole replay, one simulated packet carries several
// frames (sim's aggregated frames), keeping a replay to about this many packets.
constexpr uint64_t kFullFidelityFrames = 4'000'000;
constexpr uint32_t kMaxFramesPerPacket = 16;

// A generous estimate of the bytes a scenario moves (KV contexts at their largest).
uint64_t estimated_bytes(const Scenario& s) {
  uint64_t total = 0;
  for (const WorkloadSpec& w : s.workloads) {
    std::visit(
        [&](const auto& p) {
          using T = std::decay_t<decltype(p)>;
          if constexpr (std::is_same_v<T, TpDecodeSpec>) {
            total += 2 * tp_decode_allreduce_bytes(p, s.model) * p.tp * std::min<uint64_t>(128, p.tokens * tp_decode_allreduces_per_token(s.model));
          } else if constexpr (std::is_same_v<T, PdDisaggSpec>) {
            total += pd_request_kv_bytes(p.context.largest(), s.model) * p.requests;
          } else if constexpr (std::is_same_v<T, MoeSpec>) {
            total += 2 * moe_dispatch_bytes_per_rank(p, s.model) * p.ep * p.rounds;
          } else if constexpr (std::is_same_v<T, PipelineSpec>) {
            total += pipeline_micro_batch_bytes(p, s.model) * p.micro_batches * (p.stages - 1);
          } else if constexpr (std::is_same_v<T, WeightLoadSpec>) {
            total += p.bytes * (p.ranks - 1);
          }
        },
        w.params);
  }
  return total;
}

class SimReplayFabric final : public ReplayFabric {
 public:
  SimReplayFabric(const sim::SimulationConfig& config, uint32_t gpus_per_node, std::string mode)
      : simulation_(config), gpus_per_node_(gpus_per_node), mode_(std::move(mode)) {}

  const char* provider_name() const override { return "sim"; }
  std::string mode() const override { return mode_; }
  Provider& provider_for(uint32_t rank) override { return simulation_.host(rank / gpus_per_node_); }
  uint64_t now_ns() const override { return simulation_.now_ns(); }
  bool virtual_time() const override { return true; }

  void advance(uint64_t limit_ns) override {
    if (limit_ns <= simulation_.now_ns()) limit_ns = simulation_.now_ns() + 1;
    if (!simulation_.run_until_completion(limit_ns) && simulation_.now_ns() < limit_ns) {
      simulation_.run_until(limit_ns);
    }
  }

  // Faults act on a node's access links: sim has no NIC or host to kill, so nic_death is
  // its link down for good and node_loss every link of the node down for good. Peers see
  // what they see on hardware (no answer, then kRetryExceeded); the dead node's own
  // engines time out too, where emu flushes their endpoints at once.
  void schedule_faults(const std::vector<FaultSpec>& faults, const ClusterSpec& cluster, uint32_t,
                       std::vector<std::string>& notes) override {
    bool approximated = false;
    for (const FaultSpec& f : faults) {
      if (f.node >= simulation_.host_count()) continue;
      approximated |= f.kind == FaultKind::kNicDeath || f.kind == FaultKind::kNodeLoss;
      const uint32_t nics = cluster.nics_per_node();
      simulation_.at(f.at_ns, [this, f, nics] {
        ++applied_;
        const uint32_t nic = f.nic.value_or(0);
        switch (f.kind) {
          case FaultKind::kLinkDown:
          case FaultKind::kNicDeath: simulation_.set_link_up(sim::LinkId::access(f.node, nic), false); break;
          case FaultKind::kLinkUp: simulation_.set_link_up(sim::LinkId::access(f.node, nic), true); break;
          case FaultKind::kNodeLoss:
            for (uint32_t n = 0; n < nics; ++n) simulation_.set_link_up(sim::LinkId::access(f.node, n), false);
            break;
          case FaultKind::kLossRate: simulation_.set_link_loss(sim::LinkId::access(f.node, nic), f.value); break;
        }
      });
    }
    if (approximated) {
      notes.push_back("sim applies nic_death as the NIC's link going down for good and node_loss as all the "
                      "node's links going down for good (the node's own endpoints time out rather than flush)");
    }
  }
  uint64_t faults_applied() const override { return applied_; }
  uint64_t trace_hash() const override { return simulation_.trace_hash(); }

 private:
  sim::Simulation simulation_;  // engines die before it: the World destroys them first
  uint32_t gpus_per_node_;
  std::string mode_;
  uint64_t applied_ = 0;
};

}  // namespace

std::unique_ptr<ReplayFabric> make_sim_fabric(const Scenario& scenario, uint64_t seed, uint32_t ranks,
                                              std::vector<std::string>& notes, std::string& error) {
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
  const uint64_t frames = estimated_bytes(scenario) / config.mtu;
  while (config.frames_per_packet < kMaxFramesPerPacket &&
         frames / config.frames_per_packet > kFullFidelityFrames) {
    config.frames_per_packet *= 2;
  }
  if (config.frames_per_packet > 1) {
    notes.push_back("sim carries " + std::to_string(config.frames_per_packet) +
                    " MTU frames per simulated packet (aggregated frames) to keep this large replay fast");
  }
  std::string mode = roce ? "roce" : "srd";
  if (roce) mode += params.pfc ? ", pfc" : ", lossy";
  if (config.congestion.enabled) mode += ", dcqcn";
  if (config.frames_per_packet > 1) mode += ", " + std::to_string(config.frames_per_packet) + " frames/packet";
  try {
    return std::make_unique<SimReplayFabric>(config, cluster.gpus_per_node, mode);
  } catch (const std::exception& e) {
    error = std::string("building the simulation: ") + e.what();
    return nullptr;
  }
}

}  // namespace ferry::replay
