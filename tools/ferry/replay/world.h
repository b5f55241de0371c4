// World: the emu fabric of a replay and one engine per rank, driven by one thread.
//
// Each rank (GPU) gets an emu node of its own with its node's NICs: emu cannot share a
// node's NICs between several engines, so every GPU sees the whole node's rails.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "emu/fabric.h"
#include "scenarios/scenario.h"
#include "transport/engine/engine.h"
#include "transport/engine/exchange.h"
#include "transport/workloads/group.h"

namespace ferry::replay {

inline std::string rank_name(uint32_t rank) { return "rank" + std::to_string(rank); }

class World {
 public:
  World(const emu::FabricConfig& fabric_config, const EngineConfig& engine_config, uint32_t ranks);

  bool opened(std::string& error) const;
  emu::Fabric& fabric() { return fabric_; }
  Engine& engine(uint32_t rank) { return *engines_.at(rank); }
  uint32_t size() const { return static_cast<uint32_t>(engines_.size()); }
  uint64_t now_ns() const { return fabric_.now_ns(); }
  bool deterministic() const { return fabric_.config().mode == emu::Mode::kDeterministic; }

  // Drives every engine and the fabric until done() holds or virtual time passes
  // `horizon_ns` or wall time passes `wall_deadline`; returns done().
  bool run_until(const std::function<bool()>& done, uint64_t horizon_ns,
                 std::chrono::steady_clock::time_point wall_deadline);

  // The groups of one set of ranks, one per member, kept for the whole replay so that
  // notification tags keep counting across workloads over the same ranks.
  std::vector<Group>& groups(const std::vector<uint32_t>& ranks);

  // A registered buffer of `bytes` on each of `ranks`, each imported by the others;
  // the memory lives as long as the world.
  SymmetricRegion* symmetric(const std::vector<uint32_t>& ranks, uint64_t bytes, std::string& error);
  // A registered buffer on one rank.
  uint8_t* registered(uint32_t rank, uint64_t bytes, std::string& error);
  // Imports `owner`'s registered buffer starting at `addr` for `importer`.
  bool import(uint32_t importer, uint32_t owner, const uint8_t* addr, RemoteRegion& out, std::string& error);

 private:
  emu::Fabric fabric_;
  InProcessExchange exchange_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<VoidResult> open_results_;
  std::vector<std::pair<std::vector<uint32_t>, std::unique_ptr<std::vector<Group>>>> groups_;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  std::vector<std::pair<const uint8_t*, std::vector<uint8_t>>> descriptors_;  // by buffer start
  std::vector<std::unique_ptr<std::vector<SymmetricRegion>>> regions_;
};

}  // namespace ferry::replay
