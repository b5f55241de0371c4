// A rank vanishes mid-broadcast: every other rank's call ends with an error within
// bounded virtual time, including the ranks below it that will never get the rest.
#include <gtest/gtest.h>

#include <cstring>
#include <tuple>

#include "transport/workloads/weights/testing/broadcast_world.h"

namespace ferry::weights::testing {
namespace {

constexpr uint64_t kTimeoutNs = 50'000'000;  // the engine's deadline: 50 ms
// A wait on a rank that is alive (it answers probes) but failed lasts this long.
constexpr uint64_t kPeerWaitNs = 2 * kTimeoutNs;
constexpr uint64_t kBytes = 4 << 20;
constexpr uint64_t kChunk = 16 << 10;

class BroadcastFaults : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind, uint32_t>> {};

TEST_P(BroadcastFaults, AVanishedRankEndsEveryonesCall) {
  const auto [mode, kind, fanout] = GetParam();
  ferry::testing::WorldOptions o;
  o.provider = mode;
  o.kind = kind;
  o.ranks = 7;
  o.bytes = kBytes + kChecksumBytes;
  o.engine.transfer_timeout_ns = kTimeoutNs;
  o.engine.keepalive_interval_ns = kTimeoutNs / 10;
  o.engine.peer_wait_timeout_ns = kPeerWaitNs;
  BroadcastWorld w(o);
  const BroadcastOptions b{.fanout = fanout, .chunk_bytes = kChunk};
  w.fill(0, kBytes, 1);
  w.start(0, kBytes, b);

  // Rank 1 forwards to the ranks below it; it vanishes once one of them (the chain's
  // last rank, or its first child in a binary tree) holds a first chunk.
  constexpr uint32_t kVictim = 1;
  const uint32_t below = fanout == 1 ? 6 : 3;
  ASSERT_TRUE(w.cluster.run_until(
      [&] { return std::memcmp(w.memory.bytes(below).data(), w.memory.bytes(0).data(), kChunk) == 0; }));
  ASSERT_FALSE(w.all_done()) << "the broadcast ended before the fault";
  const uint64_t vanished_at = w.cluster.fabric().now_ns();
  ferry::testing::vanish_node(w.cluster.fabric(), kVictim);

  ASSERT_TRUE(w.run()) << "a rank hung after rank 1 vanished";
  for (uint32_t r = 0; r < 7; ++r) {
    if (r == kVictim) continue;
    const TransferResult& result = w.tasks[r].result();
    EXPECT_FALSE(result.ok()) << "rank " << r << " returned ok";
    EXPECT_NE(result.error().message.find("weights broadcast from rank 0, at rank " + std::to_string(r)),
              std::string::npos)
        << result.error().message;
    if (mode == fabrics::kEmu) {
      EXPECT_LE(w.finished_ns[r] - vanished_at, kPeerWaitNs + 2 * kTimeoutNs)
          << "rank " << r << ": " << result.error().message;
    }
  }
  // The parent of the victim names it; the rank below it was cut off.
  EXPECT_NE(w.tasks[0].result().error().message.find("'rank1'"), std::string::npos) << w.tasks[0].result().error().message;
  EXPECT_FALSE(w.holds(below, 0, kBytes, 1));
}

INSTANTIATE_TEST_SUITE_P(All, BroadcastFaults,
                         ::testing::Combine(::testing::Values(fabrics::kEmuFast, fabrics::kEmu),
                                            ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd),
                                            ::testing::Values(1u, 2u)),
                         [](const auto& info) {
                           return ferry::testing::provider_kind_name(std::get<0>(info.param),
                                                                 std::get<1>(info.param)) +
                                  (std::get<2>(info.param) == 1 ? "_Chain" : "_BinaryTree");
                         });

}  // namespace
}  // namespace ferry::weights::testing
