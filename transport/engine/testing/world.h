// An EngineCluster with one registered buffer per rank, each imported by every other
// rank: the common setup of engine tests, on any provider.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "transport/engine/testing/world_options.h"

namespace ferry::testing {

class World {
 public:
  explicit World(const WorldOptions& o) : World(o, make_fabric(o)) {}
  // On a fabric built by the test (one node per rank).
  World(const WorldOptions& o, std::unique_ptr<Cluster> fabric)
      : options(o), cluster(std::move(fabric), engine_config(o)), buffers(o.ranks), regions(o.ranks) {
    EXPECT_TRUE(cluster.opened().ok()) << cluster.opened().error().to_string();
    std::vector<std::vector<uint8_t>> descriptors;
    for (size_t r = 0; r < o.ranks; ++r) {
      buffers[r].assign(o.bytes, 0);
      auto reg = cluster.engine(r).register_memory(buffers[r].data(), buffers[r].size());
      EXPECT_TRUE(reg.ok()) << reg.error().to_string();
      descriptors.push_back((*reg)->descriptor().serialize());
    }
    for (size_t a = 0; a < o.ranks; ++a) {
      regions[a].resize(o.ranks);
      for (size_t b = 0; b < o.ranks; ++b) {
        if (a == b) continue;
        auto region = cluster.engine(a).import_region(rank_name(b), descriptors[b]);
        EXPECT_TRUE(region.ok()) << region.error().to_string();
        regions[a][b] = *region;
      }
    }
  }

  Engine& engine(size_t rank) { return cluster.engine(rank); }

  // Payload bytes that landed on rank's NICs (every copy: a resend counts again).
  uint64_t rx_bytes(size_t rank) {
    uint64_t total = 0;
    for (uint32_t nic = 0; nic < cluster.fabric().nics_per_node(); ++nic) {
      auto counters = cluster.fabric().nic_counters(static_cast<uint32_t>(rank), nic);
      EXPECT_TRUE(counters.ok()) << counters.error().to_string();
      if (counters.ok()) total += counters->rx_bytes;
    }
    return total;
  }
  // Notifications `to` counted from `from`: each one the application can wait for.
  uint64_t notifications(size_t to, size_t from) {
    return engine(to).stats().peers[rank_name(from)].notifications;
  }
  // Keeps the fabric going, so that a late second delivery would show.
  void linger(int rounds = 2000) {
    for (int i = 0; i < rounds; ++i) cluster.round();
  }

  // Fills [offset, offset+n) of rank's buffer with its pattern for `round`.
  void fill(size_t rank, uint64_t offset, uint64_t n, uint64_t round) {
    for (uint64_t i = 0; i < n; ++i) buffers[rank][offset + i] = pattern_byte(rank, round, offset + i);
  }
  // Checks that dst's [dst_offset, +n) holds src's pattern from src_offset.
  ::testing::AssertionResult holds(size_t dst, uint64_t dst_offset, size_t src, uint64_t src_offset,
                                   uint64_t n, uint64_t round) const {
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t want = pattern_byte(src, round, src_offset + i);
      if (buffers[dst][dst_offset + i] != want) {
        return ::testing::AssertionFailure()
               << "rank " << dst << " byte " << dst_offset + i << " is "
               << int(buffers[dst][dst_offset + i]) << ", expected " << int(want)
               << " (from rank " << src << " offset " << src_offset + i << ")";
      }
    }
    return ::testing::AssertionSuccess();
  }

  WorldOptions options;
  EngineCluster cluster;
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<std::vector<RemoteRegion>> regions;  // regions[a][b]: b's buffer as a sees it
};

// Records how a transfer ended.
struct Outcome {
  int calls = 0;
  TransferResult result;
  TransferDone callback() {
    return [this](const TransferResult& r) {
      ++calls;
      result = r;
    };
  }
  bool done() const { return calls > 0; }
};

}  // namespace ferry::testing
