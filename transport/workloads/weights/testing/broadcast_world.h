// Ranks of an EngineCluster with a symmetric region and a group each: what the broadcast tests
// start from. The root's payload is a pattern; every rank's copy and its checksum are
// checked against it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "transport/engine/task.h"
#include "transport/engine/testing/world.h"
#include "transport/workloads/testing/symmetric.h"
#include "transport/workloads/weights/broadcast.h"
#include "transport/workloads/weights/checksum.h"

namespace ferry::weights::testing {

class BroadcastWorld {
 public:
  // o.bytes: the region on every rank.
  explicit BroadcastWorld(const ferry::testing::WorldOptions& o)
      : options(o),
        cluster(ferry::testing::make_fabric(o), ferry::testing::engine_config(o)),
        memory(cluster, o.bytes, o.memory),
        groups(ferry::testing::make_groups(cluster)) {
    EXPECT_TRUE(cluster.opened().ok()) << cluster.opened().error().to_string();
  }

  // The root's payload for broadcast number `round`.
  void fill(uint32_t root, uint64_t bytes, uint64_t round, uint64_t offset = 0) {
    std::vector<uint8_t> payload(bytes);
    for (uint64_t i = 0; i < bytes; ++i) payload[i] = ferry::testing::pattern_byte(root, round, i);
    memory.write(root, offset, payload);
  }

  // Every rank calls broadcast() (in rank order: the calls allocate tags, not the starts).
  void start(uint32_t root, uint64_t bytes, const BroadcastOptions& broadcast_options) {
    tasks.clear();
    started_ns = cluster.fabric().now_ns();
    finished_ns.assign(cluster.size(), 0);
    for (uint32_t r = 0; r < cluster.size(); ++r) {
      tasks.push_back(timed(r, broadcast(groups[r], root, memory.view(r), bytes, broadcast_options)));
    }
    for (auto& t : tasks) t.start();
  }
  bool all_done() const {
    for (const auto& t : tasks) {
      if (!t.done()) return false;
    }
    return true;
  }
  bool run() {
    return cluster.run_until([&] { return all_done(); });
  }
  // Virtual time from start() to the last rank's return.
  uint64_t elapsed_ns() const {
    uint64_t last = started_ns;
    for (uint64_t t : finished_ns) last = std::max(last, t);
    return last - started_ns;
  }

  // Rank `rank` holds the root's payload of `round`, and the checksum after it.
  ::testing::AssertionResult holds(uint32_t rank, uint32_t root, uint64_t bytes, uint64_t round,
                                   uint64_t offset = 0) {
    const std::vector<uint8_t> b = memory.read(rank, offset, bytes + kChecksumBytes);
    for (uint64_t i = 0; i < bytes; ++i) {
      if (b[i] != ferry::testing::pattern_byte(root, round, i)) {
        return ::testing::AssertionFailure() << "rank " << rank << " byte " << i << " differs";
      }
    }
    uint64_t checksum = 0;
    std::memcpy(&checksum, b.data() + bytes, kChecksumBytes);
    if (checksum != Checksum::of({b.data(), bytes})) {
      return ::testing::AssertionFailure() << "rank " << rank << " holds a wrong checksum";
    }
    return ::testing::AssertionSuccess();
  }

  ferry::testing::WorldOptions options;
  EngineCluster cluster;
  ferry::testing::SymmetricAllocation memory;
  std::vector<Group> groups;
  std::vector<Task<TransferResult>> tasks;
  uint64_t started_ns = 0;
  std::vector<uint64_t> finished_ns;

 private:
  Task<TransferResult> timed(uint32_t rank, Task<TransferResult> call) {
    TransferResult result = co_await call;
    finished_ns[rank] = cluster.fabric().now_ns();
    co_return result;
  }
};

}  // namespace ferry::weights::testing
