#include "tools/ferry/replay/fabric_mapping.h"

namespace ferry::replay {

using namespace scenarios;

EngineConfig replay_engine_config() {
  EngineConfig engine;
  engine.transfer_timeout_ns = 1'000'000'000;
  // No workload sends control messages (notifications carry no payload): small receive
  // buffers keep the memory of all-to-alls over many ranks and rails (64 x 63 x 8 peer
  // rails for an EP-64 MoE) to megabytes.
  engine.control_bytes = 256;
  return engine;
}

FabricMapping map_fabric(const Scenario& scenario, ProviderKind provider, std::optional<uint64_t> seed,
                         uint32_t ranks, uint64_t estimated_bytes, const FabricChoices& choices,
                         std::vector<std::string>& notes) {
  switch (provider) {
    case ProviderKind::kEmu: {
      const auto* emu = std::get_if<EmuFabric>(&scenario.fabric.params);
      return make_emu_fabric(scenario, seed.value_or(emu ? emu->seed : EmuFabric{}.seed), ranks, notes);
    }
    case ProviderKind::kSim: {
      const auto* sim = std::get_if<SimFabric>(&scenario.fabric.params);
      return make_sim_fabric(scenario, seed.value_or(sim ? sim->seed : SimFabric{}.seed), ranks, estimated_bytes,
                             notes);
    }
    case ProviderKind::kVerbs:
      return make_verbs_fabric(scenario, ranks, choices, notes);
    case ProviderKind::kTcp:
      return make_tcp_fabric(scenario, ranks, choices, notes);
  }
  return {};
}

}  // namespace ferry::replay
