// The GPU RowMover against the host one: the same headers, row copies, reads and
// weighted combine give the same bytes (on a GPU; skipped, saying why, without one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "transport/gpu/testing/gpu_test.h"
#include "transport/workloads/moe/bf16.h"
#include "transport/workloads/moe/row_mover.h"

namespace ferry::moe {
namespace {

using ferry::gpu::DeviceBuffer;
using ferry::gpu::testing::download;
using ferry::gpu::testing::pattern_bytes;
using ferry::gpu::testing::upload;

MoeConfig config(MemoryKind memory) {
  MoeConfig c;
  c.experts = 8;
  c.top_k = 3;
  c.hidden = 100;  // 200-byte bf16 rows: the copies' narrow accesses, combine's one-element path
  c.max_tokens = 16;
  c.mode = MoeMode::kLowLatency;
  c.memory = memory;
  return c;
}

struct Movers {
  std::unique_ptr<RowMover> host, gpu;
};

Movers make_movers() {
  Movers m;
  auto host = MoeGeometry::make(config(MemoryKind::kHost), 2);
  auto gpu = MoeGeometry::make(config(MemoryKind::kDevice), 2);
  EXPECT_TRUE(host.ok() && gpu.ok());
  auto host_mover = RowMover::make(*host);
  auto gpu_mover = RowMover::make(*gpu);
  EXPECT_TRUE(host_mover.ok()) << host_mover.error().to_string();
  EXPECT_TRUE(gpu_mover.ok()) << gpu_mover.error().to_string();
  if (!host_mover.ok() || !gpu_mover.ok()) return m;
  m.host = std::move(host_mover).value();
  m.gpu = std::move(gpu_mover).value();
  EXPECT_TRUE(m.host->reserve_worst_case().ok());
  EXPECT_TRUE(m.gpu->reserve_worst_case().ok());
  return m;
}

// Headers and copies of every shape (gather, scatter, both, neither, empty), queued
// together so that one upload carries every index array.
void stage(RowMover& mover, uint8_t* dst, const uint8_t* src, const std::vector<uint8_t>& header) {
  constexpr uint64_t kRow = 200;
  const std::vector<uint32_t> gather = {5, 0, 3, 3, 9}, scatter = {7, 2, 11}, from = {1, 8, 4};
  std::copy(header.begin(), header.end(), mover.header(dst + 3, header.size()));
  mover.copy(RowCopy{dst + 64, src, {}, gather, 5, kRow});
  mover.copy(RowCopy{dst + 64 + 5 * kRow, src + kRow, scatter, {}, 3, kRow});
  mover.copy(RowCopy{dst + 64 + 17 * kRow, src, scatter, from, 3, kRow});
  mover.copy(RowCopy{dst + 64 + 29 * kRow + 1, src + 7, {}, {}, 2, kRow - 1});  // odd sizes and addresses
  mover.copy(RowCopy{dst, src, {}, {}, 0, kRow});
  std::copy(header.begin(), header.end(), mover.header(dst + 64 + 32 * kRow, header.size()));
}

TEST(GpuRowMover, HeadersAndCopiesGiveTheHostMoversBytes) {
  FERRY_REQUIRE_GPU();
  Movers m = make_movers();
  ASSERT_TRUE(m.gpu);
  const std::vector<uint8_t> src = pattern_bytes(1, 12 * 200);
  const std::vector<uint8_t> header = pattern_bytes(2, 61);
  std::vector<uint8_t> want(64 + 33 * 200, 0);
  DeviceBuffer gpu_src = upload(src);
  DeviceBuffer gpu_dst = upload(want);
  stage(*m.host, want.data(), src.data(), header);
  stage(*m.gpu, gpu_dst.as<uint8_t>(), gpu_src.as<uint8_t>(), header);
  ASSERT_TRUE(m.host->finish().ok());
  const VoidResult done = m.gpu->finish();
  ASSERT_TRUE(done.ok()) << done.error().to_string();
  EXPECT_EQ(download(gpu_dst.data(), want.size()), want);

  // read(): GPU bytes on the host, each valid until finish().
  auto first = m.gpu->read(gpu_dst.as<uint8_t>() + 3, 61);
  auto second = m.gpu->read(gpu_dst.as<uint8_t>() + 64, 400);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(std::equal(header.begin(), header.end(), *first));
  EXPECT_TRUE(std::equal(want.begin() + 64, want.begin() + 464, *second));
  EXPECT_TRUE(m.gpu->finish().ok());
}

TEST(GpuRowMover, WeightedCombineGivesTheHostMoversBytes) {
  FERRY_REQUIRE_GPU();
  Movers m = make_movers();
  ASSERT_TRUE(m.gpu);
  constexpr uint32_t kTokens = 5, kK = 3, kHidden = 100;
  constexpr uint64_t kRow = 2 * kHidden;
  // Three replies of 4, 0 and 3 rows with 64 bytes between them, as in a combine area.
  std::vector<uint8_t> area(3 * 64 + 7 * kRow);
  for (uint64_t i = 0; i < area.size() / 2; ++i) {
    const uint16_t v = float_to_bf16(static_cast<float>(int(i % 37) - 18) / 8.0f);
    std::memcpy(area.data() + 2 * i, &v, 2);
  }
  const uint64_t at[3] = {64, 64 + 4 * kRow + 64, 64 + 4 * kRow + 64 + 64};
  // Token 2 has no expert; the others some of rows 0..6 in any slot.
  const std::vector<int32_t> slots = {3, -1, 0, 6, 4, 1, -1, -1, -1, 2, 5, -1, -1, -1, 5};
  std::vector<float> weights(kTokens * kK);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 0.1f + 0.07f * float(i);

  const RowRun host_runs[3] = {{area.data() + at[0], 4}, {area.data() + at[1], 0}, {area.data() + at[2], 3}};
  std::vector<uint16_t> want(kTokens * kHidden, 1);
  ASSERT_TRUE(m.host->weighted_combine(host_runs, slots, weights, kK, want).ok());

  DeviceBuffer gpu_area = upload(area);
  DeviceBuffer gpu_out = upload(std::vector<uint16_t>(want.size(), 1));
  const uint8_t* base = gpu_area.as<uint8_t>();
  const RowRun gpu_runs[3] = {{base + at[0], 4}, {base + at[1], 0}, {base + at[2], 3}};
  const VoidResult done =
      m.gpu->weighted_combine(gpu_runs, slots, weights, kK, std::span<uint16_t>(gpu_out.as<uint16_t>(), want.size()));
  ASSERT_TRUE(done.ok()) << done.error().to_string();
  EXPECT_EQ(download<uint16_t>(gpu_out.data(), want.size()), want);
  EXPECT_EQ(want[2 * kHidden], 0) << "a token with no expert combines to zeros";

  // One run (the expert outputs on the expert rank) is read in place; width 5 here.
  const std::vector<int32_t> wide = {3, -1, 0, 2, -1, -1, -1, -1, -1, -1, 1, 0, 2, 3, -1};
  const RowRun host_one[1] = {{area.data() + at[0], 4}};
  const RowRun gpu_one[1] = {{base + at[0], 4}};
  std::vector<uint16_t> want_one(3 * kHidden, 1);
  ASSERT_TRUE(m.host->weighted_combine(host_one, wide, weights, 5, want_one).ok());
  DeviceBuffer gpu_one_out = upload(std::vector<uint16_t>(want_one.size(), 1));
  const VoidResult one = m.gpu->weighted_combine(gpu_one, wide, weights, 5,
                                                 std::span<uint16_t>(gpu_one_out.as<uint16_t>(), want_one.size()));
  ASSERT_TRUE(one.ok()) << one.error().to_string();
  EXPECT_EQ(download<uint16_t>(gpu_one_out.data(), want_one.size()), want_one);
}

TEST(GpuRowMover, InputsOutsideGpuMemoryAreRefusedByName) {
  FERRY_REQUIRE_GPU();
  Movers m = make_movers();
  ASSERT_TRUE(m.gpu);
  std::vector<uint8_t> host(1 << 20);
  const VoidResult on_host = m.gpu->check_input(host.data(), host.size(), "hidden");
  ASSERT_FALSE(on_host.ok());
  EXPECT_NE(on_host.error().message.find("hidden is host memory"), std::string::npos) << on_host.error().message;
  DeviceBuffer gpu = upload(host);
  EXPECT_TRUE(m.gpu->check_input(gpu.data(), host.size(), "hidden").ok());
  const VoidResult past_end = m.gpu->check_input(gpu.data(), host.size() + 1, "combined");
  ASSERT_FALSE(past_end.ok());
  EXPECT_NE(past_end.error().message.find("combined: "), std::string::npos) << past_end.error().message;
}

}  // namespace
}  // namespace ferry::moe
