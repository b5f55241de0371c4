// The transport engine, unchanged, on simulated hosts: a write with a notification, a
// paged write between block tables, and a write striped over two rails, on RoCE RC and
// on SRD, bytes verified.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "sim/simulation.h"
#include "transport/engine/engine_cluster.h"
#include "transport/engine/testing/world.h"

namespace ferry::sim::testing {
namespace {

using ::ferry::testing::Outcome;

uint8_t pattern(uint64_t i) { return ::ferry::testing::pattern_byte(0, 0, i); }

// Two hosts with a registered buffer each, imported by the other.
class EngineOnSim : public ::testing::TestWithParam<Transport> {
 protected:
  void start(uint64_t bytes, uint32_t nics = 1) {
    SimulationConfig config;
    config.transport = GetParam();
    config.nics.assign(nics, NicConfig{});
    EngineConfig engine;
    engine.endpoint.retry_timeout_ns = 200'000;
    engine.endpoint.rnr_timer_ns = 10'000;
    auto sim = std::make_unique<Simulation>(config);
    sim_ = sim.get();
    cluster_ = std::make_unique<EngineCluster>(std::move(sim), engine);
    ASSERT_TRUE(cluster_->opened().ok()) << cluster_->opened().error().to_string();
    for (size_t rank = 0; rank < 2; ++rank) {
      buffers_[rank].assign(bytes, 0);
      auto registration = cluster_->engine(rank).register_memory(buffers_[rank].data(), bytes);
      ASSERT_TRUE(registration.ok()) << registration.error().to_string();
      descriptors_[rank] = (*registration)->descriptor().serialize();
    }
    auto region = cluster_->engine(0).import_region(rank_name(1), descriptors_[1]);
    ASSERT_TRUE(region.ok()) << region.error().to_string();
    remote_ = *region;
    for (uint64_t i = 0; i < bytes; ++i) buffers_[0][i] = pattern(i);
  }

  void TearDown() override {
    cluster_.reset();  // engines (and their registrations) before the buffers
  }

  Simulation* sim_ = nullptr;  // owned by cluster_
  std::unique_ptr<EngineCluster> cluster_;
  std::vector<uint8_t> buffers_[2];
  std::vector<uint8_t> descriptors_[2];
  RemoteRegion remote_;
};

TEST_P(EngineOnSim, WriteWithNotificationLandsAndNotifies) {
  start(1 << 20);
  int notified = 0;
  ASSERT_TRUE(cluster_->engine(1).expect(rank_name(0), 5, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  Outcome out;
  auto id = cluster_->engine(0).write(rank_name(1), buffers_[0].data(), 300'000, remote_, 4096,
                                      Notify{5, 0}, out.callback());
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  ASSERT_TRUE(cluster_->run_until([&] { return out.calls > 0 && notified == 1; }));
  EXPECT_TRUE(out.result.ok()) << out.result.error().message;
  EXPECT_EQ(out.calls, 1);
  for (uint64_t i = 0; i < 300'000; ++i) ASSERT_EQ(buffers_[1][4096 + i], pattern(i)) << i;
  EXPECT_EQ(buffers_[1][4095], 0);
  EXPECT_EQ(buffers_[1][4096 + 300'000], 0);
  EXPECT_GT(sim_->now_ns(), 0u);
}

TEST_P(EngineOnSim, PagedWriteFollowsBothBlockTables) {
  constexpr uint64_t kPage = 1024, kPages = 512;
  start(kPage * kPages);
  // Different block tables on both sides (128 pages of 512), from a fixed shuffle.
  std::vector<uint32_t> src(kPages), dst(kPages);
  std::iota(src.begin(), src.end(), 0u);
  std::iota(dst.begin(), dst.end(), 0u);
  uint64_t x = 12345;
  for (size_t i = kPages - 1; i > 0; --i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(src[i], src[(x >> 33) % (i + 1)]);
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(dst[i], dst[(x >> 33) % (i + 1)]);
  }
  src.resize(128);
  dst.resize(128);
  std::sort(dst.begin(), dst.begin() + 40);  // some contiguous runs to merge
  int notified = 0;
  ASSERT_TRUE(cluster_->engine(1).expect(rank_name(0), 1, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  PagedTransfer pages{src, dst, kPage, buffers_[0].data(), kPage, remote_, 0, kPage};
  Outcome out;
  auto id = cluster_->engine(0).write_paged(rank_name(1), pages, Notify{1, 0}, out.callback());
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  ASSERT_TRUE(cluster_->run_until([&] { return out.calls > 0 && notified == 1; }));
  ASSERT_TRUE(out.result.ok()) << out.result.error().message;
  std::vector<bool> used(kPages, false);
  for (size_t i = 0; i < src.size(); ++i) {
    used[dst[i]] = true;
    for (uint64_t b = 0; b < kPage; ++b) {
      ASSERT_EQ(buffers_[1][dst[i] * kPage + b], pattern(src[i] * kPage + b)) << "page " << i;
    }
  }
  for (uint32_t page = 0; page < kPages; ++page) {
    if (used[page]) continue;
    EXPECT_TRUE(std::all_of(buffers_[1].begin() + page * kPage, buffers_[1].begin() + (page + 1) * kPage,
                            [](uint8_t b) { return b == 0; }))
        << "page " << page << " is not in the table and must stay untouched";
  }
}

TEST_P(EngineOnSim, LargeWriteIsStripedOverTwoRails) {
  start(8 << 20, /*nics=*/2);
  int notified = 0;
  ASSERT_TRUE(cluster_->engine(1).expect(rank_name(0), 3, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  Outcome out;
  ASSERT_TRUE(cluster_->engine(0).write(rank_name(1), buffers_[0].data(), 8 << 20, remote_, 0,
                                        Notify{3, 7}, out.callback()).ok());
  ASSERT_TRUE(cluster_->run_until([&] { return out.calls > 0 && notified == 1; }));
  ASSERT_TRUE(out.result.ok()) << out.result.error().message;
  EXPECT_TRUE(buffers_[1] == buffers_[0]);
  const EngineStats stats = cluster_->engine(0).stats();
  ASSERT_EQ(stats.rails.size(), 2u);
  EXPECT_GT(stats.rails[0].bytes, 0u);
  EXPECT_GT(stats.rails[1].bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(Transports, EngineOnSim, ::testing::Values(Transport::kRoceRc, Transport::kSrd),
                         [](const auto& info) { return info.param == Transport::kRoceRc ? "Rc" : "Srd"; });

}  // namespace
}  // namespace ferry::sim::testing
