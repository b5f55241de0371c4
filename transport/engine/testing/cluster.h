// A cluster of engines over one emu fabric, driven by one thread: the harness of the
// engine's tests and benchmarks (and of the workloads' tests above it).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "emu/fabric.h"
#include "transport/engine/engine.h"
#include "transport/engine/exchange.h"

namespace ferry::testing {

inline std::string rank_name(size_t rank) { return "rank" + std::to_string(rank); }

class Cluster {
 public:
  Cluster(const emu::FabricConfig& fabric_config, const EngineConfig& engine_config)
      : fabric_(fabric_config) {
    for (size_t rank = 0; rank < fabric_.node_count(); ++rank) {
      exchange_.add(rank_name(rank));
      engines_.push_back(std::make_unique<Engine>(rank_name(rank), fabric_.node(rank), exchange_,
                                                  engine_config));
      open_results_.push_back(engines_.back()->open());
    }
    for (size_t a = 0; a < engines_.size(); ++a) {
      for (size_t b = 0; b < engines_.size(); ++b) {
        if (a != b) (void)engines_[a]->add_peer(rank_name(b));
      }
    }
  }

  bool opened() const {
    for (const auto& r : open_results_) {
      if (!r.ok()) return false;
    }
    return true;
  }
  emu::Fabric& fabric() { return fabric_; }
  InProcessExchange& exchange() { return exchange_; }
  Engine& engine(size_t rank) { return *engines_.at(rank); }
  size_t size() const { return engines_.size(); }
  bool deterministic() const { return fabric_.config().mode == emu::Mode::kDeterministic; }

  // One round: every engine makes progress; when none can, the fabric moves (virtual
  // time jumps to its next event, or by `idle_tick_ns` when it has none, so that
  // deadlines can expire). Returns false once virtual time passed `horizon_ns`.
  bool round() {
    bool any = false;
    for (auto& engine : engines_) any |= engine->progress();
    if (any) return true;
    if (!deterministic()) return fabric_.step() || true;
    if (!fabric_.step()) fabric_.run_until(fabric_.now_ns() + idle_tick_ns);
    return fabric_.now_ns() <= horizon_ns;
  }

  // Runs rounds until done() holds; false if it never did within the bounds (a bug in
  // the code under test must fail the test, not hang it).
  bool run_until(const std::function<bool()>& done, size_t max_rounds = 20'000'000) {
    for (size_t i = 0; i < max_rounds; ++i) {
      if (done()) return true;
      if (!round()) return done();
    }
    return done();
  }

  uint64_t idle_tick_ns = 1'000'000;        // 1 ms of virtual time
  uint64_t horizon_ns = 120'000'000'000;    // 2 minutes of virtual time

 private:
  emu::Fabric fabric_;
  InProcessExchange exchange_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<VoidResult> open_results_;
};

// Byte i of a buffer that `rank` fills for transfer `round`.
inline uint8_t pattern_byte(size_t rank, uint64_t round, uint64_t i) {
  return static_cast<uint8_t>((i * 2654435761u >> 7) ^ (rank * 37) ^ (round * 101) ^ (i >> 12));
}

}  // namespace ferry::testing
