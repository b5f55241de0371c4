// The engine over the null provider, which moves nothing but completes every request:
// writes and paged writes finish, each work request counted once, so the engine's
// overhead benchmarks (benchmarks/engine_bench.cc) measure a working engine.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "transport/engine/testing/world.h"

namespace ferry::testing {
namespace {

WorldOptions null_world(std::vector<double> rails) {
  WorldOptions o;
  o.provider = fabrics::kNull;
  o.rail_gbps = std::move(rails);
  o.bytes = 8 << 20;
  return o;
}

TEST(EngineOverNull, WritesFinishAndCountEveryPiece) {
  World w(null_world({100, 100}));
  for (uint64_t bytes : {uint64_t{4096}, uint64_t{512} << 10, uint64_t{8} << 20}) {
    Outcome out;
    ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), bytes, w.regions[0][1], 0, Notify{1, 0},
                                  out.callback()).ok());
    ASSERT_TRUE(w.cluster.run_until([&] { return out.done(); }));
    EXPECT_TRUE(out.result.ok()) << out.result.error().message;
  }
  const EngineStats stats = w.engine(0).stats();
  EXPECT_EQ(stats.transfers_done, 3u);
  EXPECT_EQ(stats.peers.at("rank1").bytes, 4096u + (512u << 10) + (8u << 20));
  EXPECT_GT(stats.rails[0].operations, 0u);
  EXPECT_GT(stats.rails[1].operations, 0u);
}

TEST(EngineOverNull, PagedWriteOfManyDescriptorsFinishes) {
  World w(null_world({100}));
  constexpr uint32_t kPages = 5000;  // ten times the send queue: most post from progress()
  std::vector<uint32_t> src(kPages), dst(kPages);
  std::iota(src.begin(), src.end(), 0u);
  for (uint32_t i = 0; i < kPages; ++i) dst[i] = (kPages - 1 - i);  // reversed: nothing merges
  PagedTransfer pages{src, dst, 1024, w.buffers[0].data(), 1024, w.regions[0][1], 0, 1024};
  Outcome out;
  ASSERT_TRUE(w.engine(0).write_paged("rank1", pages, std::nullopt, out.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done(); }));
  EXPECT_TRUE(out.result.ok()) << out.result.error().message;
  EXPECT_EQ(w.engine(0).stats().rails[0].operations, kPages);
  EXPECT_EQ(w.engine(0).transfers_in_flight(), 0u);
}

}  // namespace
}  // namespace ferry::testing
