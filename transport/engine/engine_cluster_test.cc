// EngineCluster over the fabrics it is built on: placement, rail views, the horizon, and
// one verified write on every virtual-time provider.
#include "transport/engine/engine_cluster.h"

#include <gtest/gtest.h>

#include <vector>

#include "fabrics/cluster_factory.h"

namespace ferry {
namespace {

std::unique_ptr<Cluster> fabric(const std::string& provider, uint32_t nodes, std::vector<double> nics = {100}) {
  fabrics::ClusterOptions o;
  o.provider = provider;
  o.nodes = nodes;
  o.nic_gbps = std::move(nics);
  auto made = fabrics::make_cluster(o);
  EXPECT_TRUE(made.ok()) << made.error().to_string();
  return std::move(*made);
}

TEST(RankName, IsRankAndTheNumber) {
  EXPECT_EQ(rank_name(0), "rank0");
  EXPECT_EQ(rank_name(17), "rank17");
}

TEST(RailsOfGpu, SplitsNicsAmongGpusOrSharesThem) {
  EXPECT_EQ(rails_of_gpu(1, 2, 4), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(rails_of_gpu(3, 4, 2), (std::vector<uint32_t>{1}));
}

TEST(EngineCluster, OneRankPerNodeByDefault) {
  EngineCluster c(fabric("emu", 3), EngineConfig{});
  ASSERT_TRUE(c.opened().ok()) << c.opened().error().to_string();
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.placement(2).node, 2u);
  EXPECT_STREQ(c.fabric().provider_name(), "emu");
}

TEST(EngineCluster, RanksShareANodeOnTheirOwnRails) {
  EngineCluster c(fabric("emu", 1, {100, 100}), EngineConfig{}, {{0, {0}}, {0, {1}}});
  ASSERT_TRUE(c.opened().ok()) << c.opened().error().to_string();
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.placement(1).rails, (std::vector<uint32_t>{1}));
}

TEST(EngineCluster, APlacementOutsideTheFabricNamesTheRank) {
  EngineCluster bad_node(fabric("emu", 2), EngineConfig{}, {{0, {}}, {5, {}}});
  ASSERT_FALSE(bad_node.opened().ok());
  EXPECT_NE(bad_node.opened().error().message.find("rank1"), std::string::npos) << bad_node.opened().error().message;
  EXPECT_NE(bad_node.opened().error().message.find("node 5"), std::string::npos) << bad_node.opened().error().message;

  EngineCluster bad_rail(fabric("emu", 2), EngineConfig{}, {{0, {3}}, {1, {}}});
  ASSERT_FALSE(bad_rail.opened().ok());
  EXPECT_NE(bad_rail.opened().error().message.find("rank0"), std::string::npos) << bad_rail.opened().error().message;
}

TEST(EngineCluster, RunUntilGivesUpAtTheHorizon) {
  EngineCluster c(fabric("emu", 2), EngineConfig{});
  c.horizon_ns = 5'000'000;
  EXPECT_FALSE(c.run_until([] { return false; }));
  EXPECT_GT(c.fabric().now_ns(), c.horizon_ns);
}

TEST(EngineCluster, RoundAdvancesAtMostToTheLimit) {
  EngineCluster c(fabric("emu", 2), EngineConfig{});
  const uint64_t start = c.fabric().now_ns();
  // Idle rounds: nothing pending, so time moves by the limit, not the idle tick.
  for (int i = 0; i < 100 && c.fabric().now_ns() == start; ++i) ASSERT_TRUE(c.round(start + 1000));
  EXPECT_EQ(c.fabric().now_ns(), start + 1000);
}

class EngineClusterWrite : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineClusterWrite, LandsEveryByte) {
  EngineCluster c(fabric(GetParam(), 2, {100, 100}), EngineConfig{});
  ASSERT_TRUE(c.opened().ok()) << c.opened().error().to_string();
  std::vector<uint8_t> src(200'000), dst(200'000, 0);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
  ASSERT_TRUE(c.engine(0).register_memory(src.data(), src.size()).ok());
  auto reg = c.engine(1).register_memory(dst.data(), dst.size());
  ASSERT_TRUE(reg.ok()) << reg.error().to_string();
  auto region = c.engine(0).import_region(rank_name(1), (*reg)->descriptor().serialize());
  ASSERT_TRUE(region.ok()) << region.error().to_string();
  TransferResult result;
  bool done = false;
  ASSERT_TRUE(c.engine(0)
                  .write(rank_name(1), src.data(), src.size(), *region, 0, std::nullopt,
                         [&](const TransferResult& r) {
                           result = r;
                           done = true;
                         })
                  .ok());
  ASSERT_TRUE(c.run_until([&] { return done; }));
  EXPECT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(dst, src);
  if (c.fabric().virtual_time()) {
    EXPECT_NE(c.fabric().trace_hash(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Providers, EngineClusterWrite, ::testing::Values("emu", "emu-fast", "sim"),
                         [](const auto& info) { return info.param == "emu-fast" ? std::string("emu_fast") : info.param; });

}  // namespace
}  // namespace ferry
