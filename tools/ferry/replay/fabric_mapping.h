// A scenario's cluster mapped onto one provider's fabric, as a Cluster (transport/cluster.h):
// the fabric, which fabric node each rank's engine opens, which fabric nodes a fault on a
// scenario node hits, and the engine settings that suit the provider. The replay drives
// the result only through the seam. docs/cli.md lists each provider's choices.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "tools/ferry/replay/replay.h"
#include "transport/cluster.h"
#include "transport/engine/engine.h"

namespace ferry::replay {

struct FabricMapping {
  std::unique_ptr<Cluster> fabric;  // null when it cannot be built: `error` says why
  std::string error;
  uint64_t seed = 0;                // the seed the fabric runs with (0: none)
  std::vector<uint32_t> rank_nodes;  // [rank]: the fabric node its engine opens
  // [scenario node]: the fabric nodes a fault on it acts on (none: no rank lives there).
  std::vector<std::vector<uint32_t>> fault_nodes;
  bool injects_faults = true;  // false: a real fabric, whose faults cannot be injected
  EngineConfig engine;         // the replay's engine settings on this provider
};

// The scenario's fabric on `provider` (its fabric parameters when it names that provider,
// else the provider's defaults) for `ranks` ranks; `seed` overrides the scenario's.
// `estimated_bytes` is what the workloads move (sim sizes its packets from it). Choices
// made in the mapping go to `notes`. tcp and verbs take `choices`; spread over processes,
// `ranks` is this process's ranks only (a fabric node each).
FabricMapping map_fabric(const scenarios::Scenario& scenario, scenarios::ProviderKind provider,
                         std::optional<uint64_t> seed, uint32_t ranks, uint64_t estimated_bytes,
                         const FabricChoices& choices, std::vector<std::string>& notes);

// One provider each (emu_fabric.cc, sim_fabric.cc, verbs_fabric.cc).
FabricMapping make_emu_fabric(const scenarios::Scenario& scenario, uint64_t seed, uint32_t ranks,
                              std::vector<std::string>& notes);
FabricMapping make_sim_fabric(const scenarios::Scenario& scenario, uint64_t seed, uint32_t ranks,
                              uint64_t estimated_bytes, std::vector<std::string>& notes);
FabricMapping make_verbs_fabric(const scenarios::Scenario& scenario, uint32_t ranks, const FabricChoices& choices,
                                std::vector<std::string>& notes);
FabricMapping make_tcp_fabric(const scenarios::Scenario& scenario, uint32_t ranks, const FabricChoices& choices,
                              std::vector<std::string>& notes);

// What every replay's engines share, whichever the provider.
EngineConfig replay_engine_config();

}  // namespace ferry::replay
