// KV pack and unpack on the GPU, element by element against the layout's own offsets:
// whole blocks, and head re-sharding between prefill and decode of different TP degrees.
#include "transport/workloads/kv/gpu/kv_pack.h"

#include <gtest/gtest.h>

#include <vector>

#include "transport/gpu/testing/gpu_test.h"
#include "transport/workloads/kv/kv_route.h"

namespace ferry::kv::gpu {
namespace {

using ferry::gpu::DeviceBuffer;
using ferry::gpu::testing::download;
using ferry::gpu::testing::pattern_bytes;
using ferry::gpu::testing::upload;

PagedKvLayout layout_of(uint32_t tp, uint32_t blocks) {
  PagedKvLayout l;
  l.layers = 3;
  l.block_tokens = 16;
  l.kv_heads = 8;
  l.head_dim = 128;
  l.dtype_bytes = 2;
  l.num_blocks = blocks;
  l.tp = tp;
  return l;
}

TEST(GpuKvPack, PacksAndUnpacksWholeBlocks) {
  FERRY_REQUIRE_GPU();
  const PagedKvLayout l = layout_of(2, 64);  // 4 heads a rank: 16 KiB blocks
  const KvBlockTable table = {17, 3, 60, 0, 41, 42, 9, 33, 28, 1};
  const uint32_t layer = 1;
  const std::vector<uint8_t> pool = pattern_bytes(7, l.pool_bytes());
  DeviceBuffer gpu_pool = upload(pool);
  DeviceBuffer gpu_table = upload(table);
  const HeadSlice heads = all_heads(l);
  const uint64_t staged = packed_bytes(l, table.size(), heads);
  auto staging = DeviceBuffer::allocate(staged);
  ASSERT_TRUE(staging.ok());
  ASSERT_TRUE(launch_pack(l, gpu_pool.data(), layer, gpu_table.as<uint32_t>(), table.size(), heads, staging->data()).ok());

  std::vector<uint8_t> want;
  for (KvPart part : {KvPart::kKey, KvPart::kValue}) {
    for (uint32_t block : table) {
      const uint64_t at = l.offset(layer, part, block);
      want.insert(want.end(), pool.begin() + at, pool.begin() + at + l.block_bytes());
    }
  }
  const std::vector<uint8_t> packed = download(staging->data(), staged);
  ASSERT_EQ(packed, want);

  // Unpack into another pool at other blocks: exactly those blocks of that layer change.
  const KvBlockTable decode_table = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  std::vector<uint8_t> decode_pool(l.pool_bytes(), 0xee);
  DeviceBuffer gpu_decode = upload(decode_pool);
  DeviceBuffer gpu_decode_table = upload(decode_table);
  ASSERT_TRUE(launch_unpack(l, gpu_decode.data(), layer, gpu_decode_table.as<uint32_t>(), decode_table.size(), heads,
                            staging->data())
                  .ok());
  size_t next = 0;
  for (KvPart part : {KvPart::kKey, KvPart::kValue}) {
    for (uint32_t block : decode_table) {
      std::copy_n(packed.begin() + next, l.block_bytes(), decode_pool.begin() + l.offset(layer, part, block));
      next += l.block_bytes();
    }
  }
  EXPECT_EQ(download(gpu_decode.data(), l.pool_bytes()), decode_pool);
}

// Prefill TP 2 (4 heads a rank) to decode TP 4 (2 heads a rank): each decode rank takes
// half of one prefill rank's heads. Pack the route's heads on the prefill side, unpack them
// at the route's heads on the decode side, and check every element against the layouts.
TEST(GpuKvPack, ReshardsHeadsBetweenTensorParallelDegrees) {
  FERRY_REQUIRE_GPU();
  const PagedKvLayout prefill = layout_of(2, 32);
  const PagedKvLayout decode = layout_of(4, 32);
  auto routes = plan_kv_routes(prefill, decode);
  ASSERT_TRUE(routes.ok());
  const KvBlockTable prefill_table = {4, 30, 2, 11};
  const KvBlockTable decode_table = {20, 21, 1, 0};
  const uint32_t layer = 2;
  std::vector<std::vector<uint8_t>> prefill_pools;
  std::vector<DeviceBuffer> gpu_prefill;
  for (uint32_t p = 0; p < prefill.tp; ++p) {
    prefill_pools.push_back(pattern_bytes(100 + p, prefill.pool_bytes()));
    gpu_prefill.push_back(upload(prefill_pools.back()));
  }
  std::vector<DeviceBuffer> gpu_decode;
  for (uint32_t d = 0; d < decode.tp; ++d) gpu_decode.push_back(upload(std::vector<uint8_t>(decode.pool_bytes(), 0)));
  DeviceBuffer gpu_prefill_table = upload(prefill_table);
  DeviceBuffer gpu_decode_table = upload(decode_table);

  for (const KvRoute& r : *routes) {
    const HeadSlice from{r.prefill_head, r.heads.count};
    const HeadSlice to{r.decode_head, r.heads.count};
    auto staging = DeviceBuffer::allocate(packed_bytes(prefill, prefill_table.size(), from));
    ASSERT_TRUE(staging.ok());
    ASSERT_TRUE(launch_pack(prefill, gpu_prefill[r.prefill_rank].data(), layer, gpu_prefill_table.as<uint32_t>(),
                            prefill_table.size(), from, staging->data())
                    .ok());
    ASSERT_TRUE(launch_unpack(decode, gpu_decode[r.decode_rank].data(), layer, gpu_decode_table.as<uint32_t>(),
                              decode_table.size(), to, staging->data())
                    .ok());
  }
  for (uint32_t d = 0; d < decode.tp; ++d) {
    const std::vector<uint8_t> got = download(gpu_decode[d].data(), decode.pool_bytes());
    const HeadRange mine = decode.heads_of(d);
    uint64_t checked = 0;
    for (KvPart part : {KvPart::kKey, KvPart::kValue}) {
      for (size_t i = 0; i < decode_table.size(); ++i) {
        for (uint32_t token = 0; token < decode.block_tokens; ++token) {
          for (uint32_t h = 0; h < mine.count; ++h) {
            const uint32_t model_head = mine.first + h;
            const uint32_t p = model_head / prefill.heads_per_rank();
            const uint32_t prefill_local = model_head - prefill.heads_of(p).first;
            const uint64_t src = prefill.offset(layer, part, prefill_table[i], token, prefill_local);
            const uint64_t dst = decode.offset(layer, part, decode_table[i], token, h);
            for (uint64_t b = 0; b < decode.head_bytes(); ++b) {
              ASSERT_EQ(got[dst + b], prefill_pools[p][src + b])
                  << "decode rank " << d << " block " << decode_table[i] << " token " << token << " head " << h;
            }
            checked += decode.head_bytes();
          }
        }
      }
    }
    EXPECT_EQ(checked, 2 * decode_table.size() * decode.block_bytes());
  }
}

TEST(GpuKvPack, RefusesALayerOrHeadsOutsideTheLayout) {
  const PagedKvLayout l = layout_of(2, 8);
  EXPECT_EQ(launch_pack(l, nullptr, 3, nullptr, 1, all_heads(l), nullptr).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(launch_pack(l, nullptr, 0, nullptr, 1, HeadSlice{2, 3}, nullptr).error().code, ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace ferry::kv::gpu
