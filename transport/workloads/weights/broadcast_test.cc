// Broadcasts over chains and trees of 1 to 9 ranks, on RC and SRD, in both emu modes:
// every rank's bytes and checksum verified; chunks pipelined down a chain; a checksum
// mismatch caught; a seed fixes the run.
#include "transport/workloads/weights/broadcast.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <tuple>

#include "transport/workloads/weights/testing/broadcast_world.h"

namespace ferry::weights::testing {
namespace {

using ferry::testing::provider_kind_name;

void expect_everyone_holds(BroadcastWorld& w, uint32_t root, uint64_t bytes, uint64_t round,
                           uint64_t offset = 0) {
  for (uint32_t r = 0; r < w.cluster.size(); ++r) {
    EXPECT_TRUE(w.tasks[r].result().ok()) << w.tasks[r].result().error().message;
    EXPECT_TRUE(w.holds(r, root, bytes, round, offset));
  }
}

class Broadcasts : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind>> {
 protected:
  ferry::testing::WorldOptions options(size_t ranks) const {
    ferry::testing::WorldOptions o;
    o.provider = std::get<0>(GetParam());
    o.kind = std::get<1>(GetParam());
    o.ranks = ranks;
    o.bytes = 128 << 10;
    return o;
  }
};

// Chain, binary and ternary trees, roots all over, sizes that are not a multiple of the
// chunk; one world per group size, so later broadcasts reuse it (new tags, same memory).
TEST_P(Broadcasts, EveryRankOfEveryTopologyGetsEveryByte) {
  for (size_t ranks = 2; ranks <= 9; ++ranks) {
    BroadcastWorld w(options(ranks));
    uint64_t round = 0;
    for (uint32_t fanout : {1u, 2u, 3u}) {
      const uint32_t root = static_cast<uint32_t>((ranks * 5 + fanout) % ranks);
      const uint64_t bytes = 100'000 + 977 * ranks + fanout;
      const BroadcastOptions b{.fanout = fanout, .chunk_bytes = 8 << 10};
      w.fill(root, bytes, ++round);
      for (uint32_t r = 0; r < ranks; ++r) w.memory.bytes(r)[bytes + kChecksumBytes] = 0xab;  // a sentinel
      w.start(root, bytes, b);
      ASSERT_TRUE(w.run()) << ranks << " ranks, fanout " << fanout;
      expect_everyone_holds(w, root, bytes, round);
      for (uint32_t r = 0; r < ranks; ++r) {
        EXPECT_EQ(w.memory.bytes(r)[bytes + kChecksumBytes], 0xab)
            << "rank " << r << " written past the checksum";
      }
    }
  }
}

TEST_P(Broadcasts, EmptyTinyAndOffsetPayloads) {
  for (size_t ranks : {1, 5}) {
    BroadcastWorld w(options(ranks));
    uint64_t round = 0;
    for (uint64_t bytes : {0, 1, 7, 8 << 10}) {
      const BroadcastOptions b{.fanout = 2, .chunk_bytes = 4 << 10, .offset = bytes % 2 ? 1000u : 0u};
      for (uint64_t i = 0; i < bytes; ++i) {
        w.memory.bytes(1 % ranks)[b.offset + i] = ferry::testing::pattern_byte(1 % ranks, round + 1, i);
      }
      ++round;
      w.start(1 % ranks, bytes, b);
      ASSERT_TRUE(w.run());
      expect_everyone_holds(w, 1 % ranks, bytes, round, b.offset);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, Broadcasts,
                         ::testing::Combine(::testing::Values(fabrics::kEmuFast, fabrics::kEmu),
                                            ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd)),
                         [](const auto& info) {
                           return provider_kind_name(std::get<0>(info.param), std::get<1>(info.param));
                         });

// In virtual time: a chain of 8 ranks moving 64 chunks takes about one full transfer
// plus 6 chunk times, far from the 7 full transfers of store-and-forward.
class BroadcastPipelining : public ::testing::TestWithParam<EndpointKind> {};

TEST_P(BroadcastPipelining, AChainCostsLittleMoreThanOneTransfer) {
  constexpr uint32_t kRanks = 8;
  constexpr uint64_t kBytes = 8 << 20;
  ferry::testing::WorldOptions o;
  o.kind = GetParam();
  o.ranks = kRanks;
  o.bytes = kBytes + kChecksumBytes;
  BroadcastWorld w(o);
  BroadcastOptions b;
  b.chunk_bytes = 128 << 10;
  // Connect every pair the measured runs use, so that handshakes are not measured.
  for (uint32_t fanout : {1u, 2u, 3u}) {
    b.fanout = fanout;
    w.start(0, 1, b);
    ASSERT_TRUE(w.run());
  }

  // One full-size transfer between two ranks, notification included.
  int done = 0;
  const uint64_t t0 = w.cluster.fabric().now_ns();
  ASSERT_TRUE(w.cluster.engine(1)
                  .expect("rank0", static_cast<uint16_t>(TagSpace::kUser), 1,
                          [&](const TransferResult& r) { done += r.ok(); })
                  .ok());
  ASSERT_TRUE(w.cluster.engine(0)
                  .write("rank1", w.memory.view(0).local, kBytes, w.memory.view(0).remote[1], 0,
                         Notify{static_cast<uint16_t>(TagSpace::kUser), 0},
                         [&](const TransferResult& r) { done += r.ok(); })
                  .ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return done == 2; }));
  const uint64_t one_transfer_ns = w.cluster.fabric().now_ns() - t0;

  uint64_t elapsed_ns[4] = {};
  for (uint32_t fanout : {1u, 2u, 3u}) {
    b.fanout = fanout;
    w.fill(0, kBytes, fanout);
    w.start(0, kBytes, b);
    ASSERT_TRUE(w.run());
    expect_everyone_holds(w, 0, kBytes, fanout);
    elapsed_ns[fanout] = w.elapsed_ns();
  }
  const double ratio = double(elapsed_ns[1]) / double((kRanks - 1) * one_transfer_ns);
  std::printf(
      "figures: one 8 MiB transfer %.1f us; broadcast to 8 ranks, 64 chunks: chain %.1f us, "
      "binary tree %.1f us, ternary tree %.1f us; chain / (7 x one transfer) = %.3f\n",
      one_transfer_ns / 1e3, elapsed_ns[1] / 1e3, elapsed_ns[2] / 1e3, elapsed_ns[3] / 1e3, ratio);
  EXPECT_LT(ratio, 0.25);
  EXPECT_LT(elapsed_ns[1], 1.3 * one_transfer_ns);
}

INSTANTIATE_TEST_SUITE_P(Kinds, BroadcastPipelining, ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// The root's first chunk changes after it was hashed and before its writes copied it:
// every other rank computes a different checksum than the root sent, and no rank
// returns ok.
TEST(BroadcastChecksum, AMismatchFailsEveryRank) {
  ferry::testing::WorldOptions o;
  o.ranks = 4;
  o.engine.transfer_timeout_ns = 50'000'000;
  BroadcastWorld w(o);
  const BroadcastOptions b{.chunk_bytes = 8 << 10};
  w.fill(0, 64 << 10, 1);
  w.start(0, 64 << 10, b);  // the root hashes chunk 0 as it queues it: peers are not connected yet
  w.memory.bytes(0)[100] ^= 0xff;
  ASSERT_TRUE(w.run());
  for (uint32_t r = 0; r < 4; ++r) {
    const TransferResult& result = w.tasks[r].result();
    EXPECT_FALSE(result.ok()) << "rank " << r;
    if (r > 0) {
      EXPECT_EQ(result.error().code, ErrorCode::kInternal) << result.error().message;
      EXPECT_NE(result.error().message.find("checksum mismatch"), std::string::npos) << result.error().message;
    }
  }
}

uint64_t trace_hash_of_run(uint64_t seed) {
  ferry::testing::WorldOptions o;
  o.kind = EndpointKind::kSrd;
  o.ranks = 6;
  o.seed = seed;
  o.bytes = 128 << 10;
  BroadcastWorld w(o);
  const BroadcastOptions b{.fanout = 2, .chunk_bytes = 8 << 10};
  w.fill(2, 100'000, 1);
  w.start(2, 100'000, b);
  EXPECT_TRUE(w.run());
  expect_everyone_holds(w, 2, 100'000, 1);
  return w.cluster.fabric().trace_hash();
}

TEST(BroadcastDeterminism, SameSeedSameTrace) {
  const uint64_t first = trace_hash_of_run(5);
  EXPECT_EQ(first, trace_hash_of_run(5));
  EXPECT_NE(first, trace_hash_of_run(6));
}

TEST(BroadcastArguments, AreCheckedBeforeAnyTagIsTaken) {
  ferry::testing::WorldOptions o;
  o.ranks = 3;
  o.bytes = 4096;
  BroadcastWorld w(o);
  auto refused = [&](uint32_t root, uint64_t bytes, BroadcastOptions b) {
    Task<TransferResult> t = broadcast(w.groups[0], root, w.memory.view(0), bytes, b);
    t.start();
    EXPECT_TRUE(t.done());
    return t.result();
  };
  EXPECT_EQ(refused(3, 100, {}).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(refused(0, 4096 - kChecksumBytes + 1, {}).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(refused(0, 100, {.fanout = 0}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused(0, 5000, {}).error().message.find("do not fit"), std::string::npos);
  EXPECT_EQ(w.groups[0].next_tag(TagSpace::kWeights), static_cast<uint16_t>(TagSpace::kWeights));
}

}  // namespace
}  // namespace ferry::weights::testing
