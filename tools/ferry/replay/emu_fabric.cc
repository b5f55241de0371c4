// The emu side of a replay: every rank is an emu node of its own with its cluster node's
// NICs (emu cannot share a node's NICs between engines).
#include <algorithm>
#include <memory>

#include "emu/fabric.h"
#include "tools/ferry/replay/replay_fabric.h"

namespace ferry::replay {
namespace {

using namespace scenarios;

class EmuReplayFabric final : public ReplayFabric {
 public:
  explicit EmuReplayFabric(const emu::FabricConfig& config) : fabric_(config), origin_ns_(fabric_.now_ns()) {}

  const char* provider_name() const override { return "emu"; }
  std::string mode() const override { return virtual_time() ? "deterministic" : "fast"; }
  Provider& provider_for(uint32_t rank) override { return fabric_.node(rank); }
  uint64_t now_ns() const override { return fabric_.now_ns() - origin_ns_; }
  bool virtual_time() const override { return fabric_.config().mode == emu::Mode::kDeterministic; }

  void advance(uint64_t limit_ns) override {
    if (!virtual_time()) {
      fabric_.step();
      return;
    }
    if (!fabric_.step_until(origin_ns_ + limit_ns)) fabric_.run_until(origin_ns_ + limit_ns);
  }

  // A cluster node is every rank (emu node) of that node.
  void schedule_faults(const std::vector<FaultSpec>& faults, const ClusterSpec& cluster, uint32_t ranks,
                       std::vector<std::string>&) override {
    for (const FaultSpec& f : faults) {
      const uint32_t first = f.node * cluster.gpus_per_node;
      const uint32_t last = std::min(ranks, first + cluster.gpus_per_node);
      if (first >= ranks) continue;  // a node no workload uses
      fabric_.at(origin_ns_ + f.at_ns, [this, f, first, last] {
        ++applied_;
        for (uint32_t r = first; r < last; ++r) {
          switch (f.kind) {
            case FaultKind::kLinkDown: fabric_.set_link_up(r, f.nic.value_or(0), false); break;
            case FaultKind::kLinkUp: fabric_.set_link_up(r, f.nic.value_or(0), true); break;
            case FaultKind::kNicDeath: fabric_.kill_nic(r, f.nic.value_or(0)); break;
            case FaultKind::kNodeLoss: fabric_.vanish_node(r); break;
            case FaultKind::kLossRate: fabric_.set_loss_probability(r, f.nic.value_or(0), f.value); break;
          }
        }
      });
    }
  }
  uint64_t faults_applied() const override { return applied_; }
  uint64_t trace_hash() const override { return fabric_.trace_hash(); }

 private:
  emu::Fabric fabric_;
  uint64_t origin_ns_;
  uint64_t applied_ = 0;
};

}  // namespace

std::unique_ptr<ReplayFabric> make_emu_fabric(const Scenario& scenario, uint64_t seed, uint32_t ranks,
                                              std::vector<std::string>&, std::string& error) {
  EmuFabric params;
  if (const auto* emu = std::get_if<EmuFabric>(&scenario.fabric.params)) params = *emu;
  emu::FabricConfig fabric;
  fabric.mode = params.mode == EmuMode::kFast ? emu::Mode::kFast : emu::Mode::kDeterministic;
  fabric.seed = seed;
  fabric.nodes = ranks;
  fabric.propagation_delay_ns = params.delay_ns;
  fabric.srd_reorder_window_ns = params.reorder_window_ns;
  fabric.nics.clear();
  for (double gbps : scenario.cluster.nic_gbps) {
    emu::NicConfig nic;
    nic.link_gbps = gbps;
    nic.loss_probability = params.loss;
    fabric.nics.push_back(nic);
  }
  try {
    return std::make_unique<EmuReplayFabric>(fabric);
  } catch (const std::exception& e) {
    error = std::string("building the emu fabric: ") + e.what();
    return nullptr;
  }
}

}  // namespace ferry::replay
