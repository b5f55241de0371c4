// The engine moving GPU memory (on a GPU; skipped, saying why, without one): the kind is
// known from the pointer, carried by the region descriptor, and writes and paged writes
// run between host and GPU memory in every direction, every byte checked.
#include <gtest/gtest.h>

#include <vector>

#include "fabrics/cluster_factory.h"
#include "transport/engine/engine_cluster.h"
#include "transport/gpu/testing/gpu_test.h"

namespace ferry {
namespace {

using gpu::DeviceBuffer;
using gpu::testing::download;
using gpu::testing::pattern_bytes;
using gpu::testing::upload;

class EngineGpu : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_GPU();
    fabrics::ClusterOptions o;
    o.provider = GetParam();
    o.nic_gbps = {100, 100};  // two rails: large writes stripe
    auto fabric = fabrics::make_cluster(o);
    ASSERT_TRUE(fabric.ok()) << fabric.error().to_string();
    cluster_ = std::make_unique<EngineCluster>(std::move(*fabric), EngineConfig{});
    ASSERT_TRUE(cluster_->opened().ok()) << cluster_->opened().error().to_string();
  }

  // Registers on rank 1 and imports it on rank 0.
  RemoteRegion target(void* memory, size_t bytes, MemoryKind expected) {
    auto reg = cluster_->engine(1).register_memory(memory, bytes);
    EXPECT_TRUE(reg.ok()) << reg.error().to_string();
    if (!reg.ok()) return {};
    EXPECT_EQ((*reg)->kind(), expected);
    const RegionDescriptor d = (*reg)->descriptor();
    EXPECT_EQ(d.kind, expected);
    EXPECT_EQ(d.device, expected == MemoryKind::kDevice ? 0 : -1);
    auto region = cluster_->engine(0).import_region(rank_name(1), d.serialize());
    EXPECT_TRUE(region.ok()) << region.error().to_string();
    return region.ok() ? *region : RemoteRegion{};
  }

  void write(const void* src, size_t bytes, RemoteRegion dst, uint64_t offset) {
    bool done = false;
    bool ok = false;
    auto id = cluster_->engine(0).write(rank_name(1), src, bytes, dst, offset, std::nullopt,
                                        [&](const TransferResult& r) {
                                          done = true;
                                          ok = r.ok();
                                        });
    ASSERT_TRUE(id.ok()) << id.error().to_string();
    ASSERT_TRUE(cluster_->run_until([&] { return done; }));
    EXPECT_TRUE(ok);
  }

  std::unique_ptr<EngineCluster> cluster_;
};

TEST_P(EngineGpu, WritesBetweenHostAndGpuMemoryInEveryDirection) {
  const size_t bytes = (3 << 20) + 123;  // several pieces, an odd tail
  const std::vector<uint8_t> want = pattern_bytes(5, bytes);
  std::vector<uint8_t> host_src = want;
  DeviceBuffer gpu_src = upload(want);
  ASSERT_TRUE(cluster_->engine(0).register_memory(host_src.data(), bytes).ok());
  auto src_reg = cluster_->engine(0).register_memory(gpu_src.data(), bytes);
  ASSERT_TRUE(src_reg.ok());
  EXPECT_EQ((*src_reg)->kind(), MemoryKind::kDevice);

  for (bool from_gpu : {false, true}) {
    for (bool to_gpu : {false, true}) {
      SCOPED_TRACE(std::string(from_gpu ? "GPU" : "host") + " to " + (to_gpu ? "GPU" : "host"));
      std::vector<uint8_t> zero(bytes + 4096, 0);
      DeviceBuffer gpu_dst = upload(zero);
      std::vector<uint8_t> host_dst = zero;
      void* dst = to_gpu ? gpu_dst.data() : static_cast<void*>(host_dst.data());
      const RemoteRegion region = target(dst, zero.size(), to_gpu ? MemoryKind::kDevice : MemoryKind::kHost);
      write(from_gpu ? gpu_src.data() : static_cast<const void*>(host_src.data()), bytes, region, 4096);
      const std::vector<uint8_t> got = to_gpu ? download(gpu_dst.data(), zero.size()) : host_dst;
      EXPECT_TRUE(std::equal(got.begin(), got.begin() + 4096, zero.begin())) << "bytes before the offset written";
      EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin() + 4096)) << "payload differs";
      ASSERT_TRUE(cluster_->engine(1).deregister_memory(dst).ok());
    }
  }
}

TEST_P(EngineGpu, PagedWritesGatherGpuPagesIntoGpuPages) {
  const uint64_t page = 16 << 10;
  const uint32_t pages = 48;
  const std::vector<uint8_t> pool = pattern_bytes(9, page * pages);
  DeviceBuffer src = upload(pool);
  DeviceBuffer dst = upload(std::vector<uint8_t>(page * pages, 0));
  ASSERT_TRUE(cluster_->engine(0).register_memory(src.data(), pool.size()).ok());
  const RemoteRegion region = target(dst.data(), pool.size(), MemoryKind::kDevice);
  std::vector<uint32_t> src_pages, dst_pages;
  for (uint32_t i = 0; i < 20; ++i) {
    src_pages.push_back((i * 7) % pages);
    dst_pages.push_back(pages - 1 - i);
  }
  PagedTransfer t;
  t.src_pages = src_pages;
  t.dst_pages = dst_pages;
  t.page_bytes = page;
  t.src_base = src.data();
  t.src_stride = page;
  t.dst = region;
  t.dst_stride = page;
  bool done = false, ok = false;
  ASSERT_TRUE(cluster_->engine(0)
                  .write_paged(rank_name(1), t, std::nullopt,
                               [&](const TransferResult& r) {
                                 done = true;
                                 ok = r.ok();
                               })
                  .ok());
  ASSERT_TRUE(cluster_->run_until([&] { return done; }));
  ASSERT_TRUE(ok);
  const std::vector<uint8_t> got = download(dst.data(), pool.size());
  std::vector<uint8_t> want(pool.size(), 0);
  for (size_t i = 0; i < src_pages.size(); ++i) {
    std::copy_n(pool.begin() + src_pages[i] * page, page, want.begin() + dst_pages[i] * page);
  }
  EXPECT_EQ(got, want);
}

TEST_P(EngineGpu, RefusesGpuMemoryRegisteredAsHostAndHostAsGpu) {
  DeviceBuffer gpu = upload(std::vector<uint8_t>(4096, 1));
  std::vector<uint8_t> host(4096);
  auto as_host = cluster_->engine(0).register_memory(gpu.data(), 4096, kAccessLocalWrite, MemoryKind::kHost);
  ASSERT_FALSE(as_host.ok());
  EXPECT_NE(as_host.error().message.find("GPU pointer"), std::string::npos) << as_host.error().message;
  auto as_gpu = cluster_->engine(0).register_memory(host.data(), 4096, kAccessLocalWrite, MemoryKind::kDevice);
  ASSERT_FALSE(as_gpu.ok());
  EXPECT_NE(as_gpu.error().message.find("host pointer"), std::string::npos) << as_gpu.error().message;
}

INSTANTIATE_TEST_SUITE_P(Providers, EngineGpu, ::testing::Values("emu", "emu-fast"),
                         [](const auto& info) { return info.param == "emu-fast" ? std::string("emu_fast") : info.param; });

}  // namespace
}  // namespace ferry
