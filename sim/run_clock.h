// Simulated time against wall-clock time over a stretch of a run: how much virtual time
// the simulation covered, how long the machine took for it, and their ratio. Tests
// record both (RecordProperty); sim_bench reports them as counters.
#pragma once

#include <chrono>
#include <cstdint>

#include "sim/simulation.h"

namespace ferry::sim {

class RunClock {
 public:
  // Starts both clocks now.
  explicit RunClock(const Simulation& sim)
      : sim_(&sim), simulated_start_ns_(sim.now_ns()), wall_start_(std::chrono::steady_clock::now()) {}

  // Virtual time since the start.
  uint64_t simulated_ns() const { return sim_->now_ns() - simulated_start_ns_; }
  // Wall-clock time since the start.
  double wall_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  }
  // Simulated nanoseconds per wall-clock second (0 before any wall time passed).
  double simulated_ns_per_wall_s() const {
    const double wall = wall_s();
    return wall > 0 ? static_cast<double>(simulated_ns()) / wall : 0;
  }

 private:
  const Simulation* sim_;
  uint64_t simulated_start_ns_;
  std::chrono::steady_clock::time_point wall_start_;
};

}  // namespace ferry::sim
