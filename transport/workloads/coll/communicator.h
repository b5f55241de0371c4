// Communicator: what the collectives of one group share on one rank.
//
// It holds the group (and so the engine and the tag counter), the symmetric scratch
// region that peers write into, the count of rounds (rounds alternate between the two
// halves of the scratch), and whether an earlier call failed. One collective at a time
// runs on a communicator; every rank makes the same calls in the same order.
#pragma once

#include <cstdint>

#include "transport/engine/engine.h"
#include "transport/workloads/coll/algorithm.h"
#include "transport/workloads/group.h"

namespace ferry::coll {

// A scratch size that keeps every algorithm in few rounds up to messages of hundreds of MiB.
constexpr uint64_t kDefaultScratchBytes = 64ull << 20;

class Communicator {
 public:
  // `scratch`: the same number of bytes on every rank, registered on each, with every
  // peer's region imported (testing::SymmetricAllocation builds one in process); host
  // or GPU memory.
  Communicator(Group& group, SymmetricRegion scratch);

  Group& group() const { return *group_; }
  Engine& engine() const { return group_->engine(); }
  uint32_t rank() const { return group_->rank(); }
  uint32_t size() const { return group_->size(); }
  const SymmetricRegion& scratch() const { return scratch_; }
  // Where the scratch lives; the buffers of every call must live there too.
  MemoryKind memory() const { return memory_; }

  // Bytes of scratch one round may use: half of it, 64-byte aligned.
  uint64_t round_bytes() const { return round_bytes_; }
  // Offset of the half the next round uses. Rounds alternate halves, so a peer that is
  // one round ahead never writes where this rank still reads.
  uint64_t begin_round() { return (rounds_++ % 2) * round_bytes_; }

  // The algorithm a call runs: `requested` unless it is kAuto; then the measured
  // choice, except that one-shot all-reduce is only chosen when it fits in one round.
  Algorithm resolve(Collective collective, Algorithm requested, uint64_t bytes) const;

  // A failed call leaves the ranks at different points (tags, rounds, scratch), so every
  // later call fails at once with the first failure.
  bool broken() const { return !failure_.ok(); }
  const TransferResult& failure() const { return failure_; }
  void mark_broken(const TransferResult& failure) {
    if (failure_.ok()) failure_ = failure;
  }

 private:
  Group* group_;
  SymmetricRegion scratch_;
  MemoryKind memory_;
  uint64_t round_bytes_;
  uint64_t rounds_ = 0;
  TransferResult failure_;
};

}  // namespace ferry::coll
