// Weight broadcast from and into GPU memory (on a GPU; skipped, saying why, without one):
// chains and trees over emu and sim, every rank's bytes and checksum verified, and a
// corrupted GPU payload caught by the checksum on every other rank.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "transport/gpu/testing/gpu_test.h"
#include "transport/workloads/weights/broadcast.h"
#include "transport/workloads/weights/testing/broadcast_world.h"

namespace ferry::weights::testing {
namespace {

class GpuBroadcasts : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind>> {
 protected:
  void SetUp() override { FERRY_REQUIRE_GPU(); }

  ferry::testing::WorldOptions options(size_t ranks) const {
    ferry::testing::WorldOptions o;
    o.provider = std::get<0>(GetParam());
    o.kind = std::get<1>(GetParam());
    o.ranks = ranks;
    o.bytes = 2 << 20;
    o.memory = MemoryKind::kDevice;
    return o;
  }
};

TEST_P(GpuBroadcasts, EveryRankHoldsTheRootsGpuBytes) {
  for (size_t ranks : {2, 5}) {
    BroadcastWorld w(options(ranks));
    ASSERT_EQ(w.memory.kind(), MemoryKind::kDevice);
    uint64_t round = 0;
    for (uint32_t fanout : {1u, 2u}) {
      const uint32_t root = static_cast<uint32_t>((ranks + fanout) % ranks);
      const uint64_t bytes = (1 << 20) + 12'345 + fanout;  // a short last chunk
      w.fill(root, bytes, ++round);
      w.start(root, bytes, {.fanout = fanout, .chunk_bytes = 64 << 10});
      ASSERT_TRUE(w.run()) << ranks << " ranks, fanout " << fanout;
      for (uint32_t r = 0; r < ranks; ++r) {
        EXPECT_TRUE(w.tasks[r].result().ok()) << w.tasks[r].result().error().message;
        EXPECT_TRUE(w.holds(r, root, bytes, round));
      }
    }
  }
}

// The root's GPU payload changes after the root hashed it: the other ranks hash what
// arrived and refuse it.
TEST_P(GpuBroadcasts, ACorruptedGpuPayloadFailsTheOtherRanks) {
  ferry::testing::WorldOptions o = options(3);
  o.engine.transfer_timeout_ns = 50'000'000;
  BroadcastWorld w(o);
  w.fill(0, 64 << 10, 1);
  w.start(0, 64 << 10, {.chunk_bytes = 8 << 10});  // chunk 0 is hashed as it is queued
  const std::vector<uint8_t> flipped{static_cast<uint8_t>(w.memory.read(0, 100, 1)[0] ^ 0xff)};
  w.memory.write(0, 100, flipped);
  ASSERT_TRUE(w.run());
  for (uint32_t r = 1; r < 3; ++r) {
    const TransferResult& result = w.tasks[r].result();
    ASSERT_FALSE(result.ok()) << "rank " << r;
    EXPECT_NE(result.error().message.find("checksum mismatch"), std::string::npos) << result.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(All, GpuBroadcasts, ::testing::ValuesIn(ferry::testing::gpu_test_fabrics()),
                         [](const auto& info) { return ferry::testing::provider_kind_name(info.param); });

}  // namespace
}  // namespace ferry::weights::testing
