// Runs one SeedPlan on emu's deterministic mode and checks the swarm's invariants
// (docs/reliability.md, "Swarm"):
//  - every byte of every transfer reported successful is in place at its target, and a
//    notification's wait ends only once its bytes are;
//  - a failure is an error result, and only where a disruptive fault struck (a rank of
//    the transfer for engine transfers; a rank of the workload for the collective, the
//    migration, the broadcast and the pipeline link);
//  - every operation ends exactly once, within its bound of virtual time;
//  - the run ends within bounded virtual time and rounds (no hang), and nothing calls
//    back once the cluster is torn down.
// The same plan gives the same outcome and trace hash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/ferry/swarm/seed_plan.h"

namespace ferry::swarm {

struct SeedOutcome {
  uint64_t seed = 0;
  std::vector<std::string> violations;  // each names the invariant and the operation
  std::vector<std::string> events;      // how each operation ended, in the order they did
  uint64_t trace_hash = 0;              // the fabric's trace hash mixed with every ending
  uint64_t end_ns = 0;                  // virtual time when the last operation ended
  size_t operations = 0;
  size_t failed = 0;  // operations that ended in an error (allowed ones included)

  bool passed() const { return violations.empty(); }
};

SeedOutcome run_plan(const SeedPlan& plan);
inline SeedOutcome run_seed(uint64_t seed) { return run_plan(draw_plan(seed)); }

}  // namespace ferry::swarm
