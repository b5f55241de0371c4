// A cluster of engines over one simulation, driven by one thread: the harness that runs
// the transport engine (//transport/engine), unchanged, on simulated hosts. The sim
// counterpart of transport/engine/testing/cluster.h (which is built on emu).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/simulation.h"
#include "transport/engine/engine.h"
#include "transport/engine/exchange.h"

namespace ferry::sim::testing {

inline std::string rank_name(size_t rank) { return "rank" + std::to_string(rank); }

class SimCluster {
 public:
  // One engine per host of the simulation, named rank0, rank1, ..., all peers of each
  // other.
  SimCluster(const SimulationConfig& sim_config, const EngineConfig& engine_config)
      : sim_(sim_config) {
    for (size_t rank = 0; rank < sim_.host_count(); ++rank) {
      exchange_.add(rank_name(rank));
      engines_.push_back(
          std::make_unique<Engine>(rank_name(rank), sim_.host(rank), exchange_, engine_config));
      open_results_.push_back(engines_.back()->open());
    }
    for (size_t a = 0; a < engines_.size(); ++a) {
      for (size_t b = 0; b < engines_.size(); ++b) {
        if (a != b) (void)engines_[a]->add_peer(rank_name(b));
      }
    }
  }

  bool opened() const {
    for (const auto& result : open_results_) {
      if (!result.ok()) return false;
    }
    return true;
  }
  Simulation& sim() { return sim_; }
  Engine& engine(size_t rank) { return *engines_.at(rank); }
  size_t size() const { return engines_.size(); }

  // One round: every engine makes progress; when none can, the simulation runs until
  // the next completion, or, with nothing pending, idle_tick_ns of virtual time passes
  // (so that deadlines expire). Engines only ever react to completions, the exchange
  // (in process, instant) and time. False once virtual time passed horizon_ns.
  bool round() {
    bool any = false;
    for (auto& engine : engines_) any |= engine->progress();
    if (any) return true;
    const uint64_t tick_end = sim_.now_ns() + idle_tick_ns;
    if (!sim_.run_until_completion(tick_end) && sim_.now_ns() < tick_end) {
      sim_.run_until(tick_end);
    }
    return sim_.now_ns() <= horizon_ns;
  }

  // Runs rounds until done() holds; false if it never did within the bounds (a bug in
  // the code under test must fail the test, not hang it).
  bool run_until(const std::function<bool()>& done, size_t max_rounds = 10'000'000) {
    for (size_t i = 0; i < max_rounds; ++i) {
      if (done()) return true;
      if (!round()) return done();
    }
    return done();
  }

  uint64_t idle_tick_ns = 1'000'000;      // 1 ms of virtual time
  uint64_t horizon_ns = 120'000'000'000;  // 2 minutes of virtual time

 private:
  // Engines die before the simulation they run on.
  Simulation sim_;
  InProcessExchange exchange_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<VoidResult> open_results_;
};

}  // namespace ferry::sim::testing
