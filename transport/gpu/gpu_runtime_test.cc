// The CUDA runtime wrapper and the paged copy kernel, on a GPU (skipped without one).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "transport/gpu/paged_copy.h"
#include "transport/gpu/runtime.h"
#include "transport/gpu/testing/gpu_test.h"

namespace ferry::gpu {
namespace {

using testing::download;
using testing::pattern_bytes;
using testing::upload;

// Runs everywhere: without a GPU the runtime says why, and nothing crashes.
TEST(GpuRuntime, SaysWhyWhenThereIsNoGpu) {
  const VoidResult here = available();
  if (here.ok()) {
    EXPECT_GT(device_count(), 0);
    auto name = device_name(0);
    ASSERT_TRUE(name.ok());
    EXPECT_FALSE(name->empty());
    std::printf("GPU: %s\n", name->c_str());
  } else {
    EXPECT_EQ(here.error().code, ErrorCode::kUnavailable);
    EXPECT_FALSE(here.error().message.empty());
    EXPECT_EQ(device_count(), 0);
    EXPECT_FALSE(DeviceBuffer::allocate(1024).ok());
    // Host memory stays host memory; GPU memory cannot be claimed.
    std::vector<uint8_t> host(64);
    EXPECT_EQ(query_pointer(host.data()).kind, MemoryKind::kHost);
    EXPECT_TRUE(check_memory_kind(host.data(), host.size(), MemoryKind::kHost).ok());
    const VoidResult claimed = check_memory_kind(host.data(), host.size(), MemoryKind::kDevice);
    ASSERT_FALSE(claimed.ok());
    EXPECT_EQ(claimed.error().code, ErrorCode::kUnsupported);
  }
}

TEST(GpuRuntime, KnowsWhatKindOfMemoryAPointerIs) {
  FERRY_REQUIRE_GPU();
  auto gpu = DeviceBuffer::allocate(1 << 20);
  ASSERT_TRUE(gpu.ok());
  auto pinned = PinnedBuffer::allocate(4096);
  ASSERT_TRUE(pinned.ok());
  std::vector<uint8_t> host(4096);

  EXPECT_EQ(query_pointer(gpu->data()).kind, MemoryKind::kDevice);
  EXPECT_EQ(query_pointer(gpu->data()).device, 0);
  EXPECT_EQ(query_pointer(host.data()).kind, MemoryKind::kHost);
  EXPECT_TRUE(query_pointer(pinned->data()).pinned);

  EXPECT_TRUE(check_memory_kind(gpu->data(), gpu->size(), MemoryKind::kDevice).ok());
  EXPECT_TRUE(check_memory_kind(host.data(), host.size(), MemoryKind::kHost).ok());
  const VoidResult gpu_as_host = check_memory_kind(gpu->data(), 4096, MemoryKind::kHost);
  ASSERT_FALSE(gpu_as_host.ok());
  EXPECT_NE(gpu_as_host.error().message.find("GPU pointer"), std::string::npos) << gpu_as_host.error().message;
  const VoidResult host_as_gpu = check_memory_kind(host.data(), host.size(), MemoryKind::kDevice);
  ASSERT_FALSE(host_as_gpu.ok());
  EXPECT_NE(host_as_gpu.error().message.find("host pointer"), std::string::npos) << host_as_gpu.error().message;
  const VoidResult past_end = check_memory_kind(gpu->data(), gpu->size() + 1, MemoryKind::kDevice);
  ASSERT_FALSE(past_end.ok());
  EXPECT_EQ(past_end.error().code, ErrorCode::kOutOfRange);

  // Freed GPU memory is no longer GPU memory.
  void* freed = gpu->data();
  *gpu = DeviceBuffer();
  EXPECT_FALSE(check_memory_kind(freed, 4096, MemoryKind::kDevice).ok());
}

TEST(GpuRuntime, CopiesEveryDirection) {
  FERRY_REQUIRE_GPU();
  const std::vector<uint8_t> bytes = pattern_bytes(1, (1 << 20) + 13);
  DeviceBuffer a = upload(bytes);
  auto b = DeviceBuffer::allocate(bytes.size());
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(copy(b->data(), a.data(), bytes.size()).ok());
  EXPECT_EQ(download(b->data(), bytes.size()), bytes);
}

// A CPU reference of PagedCopy.
void paged_copy_on_cpu(uint8_t* dst, const uint8_t* src, const std::vector<uint32_t>& dst_pages,
                       const std::vector<uint32_t>& src_pages, const PagedCopy& c) {
  for (uint32_t q = 0; q < c.parts; ++q) {
    for (uint32_t i = 0; i < c.pages; ++i) {
      const uint64_t dp = dst_pages.empty() ? i : dst_pages[i];
      const uint64_t sp = src_pages.empty() ? i : src_pages[i];
      for (uint32_t r = 0; r < c.rows; ++r) {
        std::copy_n(src + q * c.src_part_stride + sp * c.src_page_stride + r * c.src_row_stride, c.row_bytes,
                    dst + q * c.dst_part_stride + dp * c.dst_page_stride + r * c.dst_row_stride);
      }
    }
  }
}

struct PagedCase {
  uint32_t pages;
  uint64_t page_bytes;
  uint32_t rows;
  uint64_t row_bytes;
  uint64_t src_offset;  // an unaligned start makes the kernel fall back to narrower accesses
  uint32_t parts = 1;   // the pool holds `parts` arrays of 2 * pages pages, one after another
};

// The default, a grid of blocks taking page after page, and the widest blocks.
const PagedCopyShape kShapes[] = {{}, {4, 128}, {0, 1024}};

class PagedCopyTest : public ::testing::TestWithParam<std::tuple<PagedCase, PagedCopyShape>> {};

TEST_P(PagedCopyTest, GathersAndScattersAsTheCpuDoes) {
  FERRY_REQUIRE_GPU();
  const PagedCase p = std::get<0>(GetParam());
  const PagedCopyShape shape = std::get<1>(GetParam());
  const uint32_t pool_pages = p.pages * 2;
  const uint64_t part_bytes = pool_pages * p.page_bytes;
  const uint64_t pool_bytes = p.parts * part_bytes + p.src_offset;
  // A shuffled table: every page of the pool at most once.
  std::vector<uint32_t> table(pool_pages);
  std::iota(table.begin(), table.end(), 0);
  for (uint32_t i = pool_pages - 1; i > 0; --i) std::swap(table[i], table[(i * 7919u + 13) % (i + 1)]);
  table.resize(p.pages);

  PagedCopy c;
  c.pages = p.pages;
  c.src_page_stride = p.page_bytes;
  c.dst_page_stride = uint64_t{p.rows} * p.row_bytes;
  c.rows = p.rows;
  c.row_bytes = p.row_bytes;
  c.src_row_stride = p.rows == 1 ? 0 : p.page_bytes / p.rows;
  c.dst_row_stride = p.row_bytes;
  c.parts = p.parts;
  c.src_part_stride = part_bytes;
  c.dst_part_stride = uint64_t{p.pages} * c.dst_page_stride;

  const std::vector<uint8_t> pool = pattern_bytes(2, pool_bytes);
  const uint64_t packed_bytes = uint64_t{p.parts} * c.dst_part_stride;
  std::vector<uint8_t> want(packed_bytes, 0);
  paged_copy_on_cpu(want.data(), pool.data() + p.src_offset, {}, table, c);

  DeviceBuffer gpu_pool = upload(pool);
  DeviceBuffer gpu_table = upload(table);
  auto packed = DeviceBuffer::allocate(packed_bytes);
  ASSERT_TRUE(packed.ok());
  c.src = gpu_pool.as<uint8_t>() + p.src_offset;
  c.dst = packed->data();
  c.src_pages = gpu_table.as<uint32_t>();
  ASSERT_TRUE(launch_paged_copy(c, nullptr, shape).ok());
  EXPECT_EQ(download(packed->data(), packed_bytes), want) << "gather";

  // And back: scatter into a zeroed pool, which must then hold exactly the gathered rows.
  std::vector<uint8_t> zero(pool_bytes, 0);
  DeviceBuffer back = upload(zero);
  PagedCopy s = c;
  s.src = packed->data();
  s.src_pages = nullptr;
  s.src_page_stride = c.dst_page_stride;
  s.src_row_stride = c.dst_row_stride;
  s.dst = back.as<uint8_t>() + p.src_offset;
  s.dst_pages = gpu_table.as<uint32_t>();
  s.dst_page_stride = c.src_page_stride;
  s.dst_row_stride = c.src_row_stride;
  s.src_part_stride = c.dst_part_stride;
  s.dst_part_stride = c.src_part_stride;
  ASSERT_TRUE(launch_paged_copy(s, nullptr, shape).ok());
  std::vector<uint8_t> scattered(pool_bytes, 0);
  paged_copy_on_cpu(scattered.data() + p.src_offset, want.data(), table, {}, s);
  EXPECT_EQ(download(back.data(), pool_bytes), scattered) << "scatter";
}

INSTANTIATE_TEST_SUITE_P(Shapes, PagedCopyTest,
                         ::testing::Combine(::testing::Values(PagedCase{64, 16 << 10, 1, 16 << 10, 0},
                                           PagedCase{33, 64 << 10, 1, 64 << 10, 0},
                                           PagedCase{7, 100 << 10, 1, 100 << 10, 0},  // pieces of 16 KiB and a rest
                                           PagedCase{40, 16 << 10, 1, 16 << 10, 0, 2},  // K and V: two parts
                                           PagedCase{13, 4096, 16, 128, 0, 2},
                                           PagedCase{17, 4096, 16, 128, 0},    // head slices of token rows
                                           PagedCase{9, 4096, 16, 96, 0},      // 32-byte aligned rows
                                           PagedCase{11, 1000, 1, 1000, 3},    // unaligned: byte accesses
                                           PagedCase{5, 4100, 1, 4100, 2}),   // 2-byte aligned
                                           ::testing::ValuesIn(kShapes)));

TEST(PagedCopy, RefusesABlockSizeItHasNoKernelFor) {
  std::vector<uint8_t> a(16), b(16);
  PagedCopy c;
  c.pages = 1;
  c.row_bytes = 16;
  c.src = a.data();
  c.dst = b.data();
  const VoidResult r = launch_paged_copy(c, nullptr, PagedCopyShape{0, 100});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("100 threads"), std::string::npos) << r.error().message;
}

TEST(PagedCopy, RefusesNullPointers) {
  PagedCopy c;
  c.pages = 1;
  c.row_bytes = 16;
  const VoidResult r = launch_paged_copy(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry::gpu
