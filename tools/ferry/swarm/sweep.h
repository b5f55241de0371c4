// A sweep of swarm seeds over worker processes: a seed that crashes its worker is a
// failed seed like any other, and the sweep goes on without it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::swarm {

struct SeedFailure {
  uint64_t seed = 0;
  std::string why;  // the first violated invariant, or how the worker died
};

struct SweepResult {
  uint64_t seeds = 0;  // that ran (passed, failed or crashed)
  std::vector<SeedFailure> failures;  // by seed
};

// Seeds first .. first+count-1 over `jobs` forked worker processes.
SweepResult sweep(uint64_t first, uint64_t count, unsigned jobs);

}  // namespace ferry::swarm
