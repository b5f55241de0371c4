// The scenario's faults on the replay's fabric: each FaultSpec becomes FabricFaults
// (transport/cluster.h) on the fabric nodes that carry its cluster node, injected through
// Cluster::at at its time since the replay's start. What a fabric applies only
// approximately, or not at all, is said in the notes (docs/cli.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "tools/ferry/replay/fabric_mapping.h"
#include "tools/ferry/replay/world.h"

namespace ferry::replay {

// What the scheduled faults did, filled in as the fabric reaches their times.
struct FaultLog {
  uint64_t applied = 0;             // scenario faults applied (one per FaultSpec)
  std::vector<AppliedFault> faults;  // each as applied, for the report's fault markers
  std::vector<std::string> errors;  // faults the fabric refused
};

// Schedules `faults` on the world's fabric as `mapping` places them; the log must outlive
// the fabric's pending events.
void schedule_faults(World& world, const std::vector<scenarios::FaultSpec>& faults, const FabricMapping& mapping,
                     std::shared_ptr<FaultLog> log, std::vector<std::string>& notes);

}  // namespace ferry::replay
