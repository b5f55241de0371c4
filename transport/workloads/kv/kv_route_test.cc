// The tensor-parallel mapping: the worked examples of docs/kv-migration.md, every decode
// head covered exactly once by a prefill rank that holds it for many TP pairs, and the
// pages a route moves.
#include "transport/workloads/kv/kv_route.h"

#include <gtest/gtest.h>

#include <map>

#include "transport/workloads/kv/kv_route_pages.h"

namespace ferry {
namespace {

PagedKvLayout layout(uint32_t tp, uint32_t kv_heads = 8, uint32_t num_blocks = 10) {
  return PagedKvLayout{.layers = 2, .block_tokens = 4, .kv_heads = kv_heads, .head_dim = 4,
                       .dtype_bytes = 2, .num_blocks = num_blocks, .tp = tp};
}

std::vector<KvRoute> routes(const PagedKvLayout& prefill, const PagedKvLayout& decode) {
  auto planned = plan_kv_routes(prefill, decode);
  EXPECT_TRUE(planned.ok()) << planned.error().to_string();
  return planned.ok() ? *planned : std::vector<KvRoute>{};
}

TEST(KvRoute, Tp4ToTp8SendsEachDecodeRankOneHeadFromHalfAPrefillRow) {
  const auto r = routes(layout(4), layout(8));
  ASSERT_EQ(r.size(), 8u);
  for (uint32_t d = 0; d < 8; ++d) {
    EXPECT_EQ(r[d].decode_rank, d);
    EXPECT_EQ(r[d].prefill_rank, d / 2);
    EXPECT_EQ(r[d].heads.first, d);
    EXPECT_EQ(r[d].heads.count, 1u);
    EXPECT_EQ(r[d].prefill_head, d % 2);
    EXPECT_EQ(r[d].decode_head, 0u);
  }
}

TEST(KvRoute, Tp8ToTp2GathersFourPrefillRanksIntoEachDecodeRank) {
  const auto r = routes(layout(8), layout(2));
  ASSERT_EQ(r.size(), 8u);
  for (uint32_t p = 0; p < 8; ++p) {
    EXPECT_EQ(r[p].decode_rank, p / 4);
    EXPECT_EQ(r[p].prefill_rank, p);
    EXPECT_EQ(r[p].heads.first, p);
    EXPECT_EQ(r[p].prefill_head, 0u);
    EXPECT_EQ(r[p].decode_head, p % 4);
  }
}

TEST(KvRoute, EqualTpIsOneWholeRowRoutePerRank) {
  const auto r = routes(layout(2), layout(2));
  ASSERT_EQ(r.size(), 2u);
  for (uint32_t k = 0; k < 2; ++k) {
    EXPECT_EQ(r[k].prefill_rank, k);
    EXPECT_EQ(r[k].decode_rank, k);
    EXPECT_EQ(r[k].heads.count, 4u);
  }
}

// Every head of every decode rank comes from exactly one prefill rank that holds it, at
// the right place in both rows; a (prefill, decode) pair shares at most one route.
TEST(KvRoute, EveryDecodeHeadComesFromOneHolderForManyTpPairs) {
  for (uint32_t kv_heads : {1u, 2u, 4u, 8u}) {
    for (uint32_t ptp : {1u, 2u, 4u, 8u, 16u}) {
      for (uint32_t dtp : {1u, 2u, 4u, 8u, 16u}) {
        const PagedKvLayout prefill = layout(ptp, kv_heads), decode = layout(dtp, kv_heads);
        const auto r = routes(prefill, decode);
        std::map<std::pair<uint32_t, uint32_t>, int> covered;  // (decode rank, head)
        std::map<std::pair<uint32_t, uint32_t>, int> pairs;    // (prefill rank, decode rank)
        for (const KvRoute& route : r) {
          ++pairs[{route.prefill_rank, route.decode_rank}];
          const HeadRange have = prefill.heads_of(route.prefill_rank), want = decode.heads_of(route.decode_rank);
          for (uint32_t h = route.heads.first; h < route.heads.end(); ++h) {
            ++covered[{route.decode_rank, h}];
            ASSERT_TRUE(have.contains(h) && want.contains(h)) << ptp << "->" << dtp << " head " << h;
          }
          EXPECT_EQ(have.first + route.prefill_head, route.heads.first);
          EXPECT_EQ(want.first + route.decode_head, route.heads.first);
        }
        for (uint32_t d = 0; d < dtp; ++d) {
          const HeadRange want = decode.heads_of(d);
          for (uint32_t h = want.first; h < want.end(); ++h) {
            EXPECT_EQ((covered[{d, h}]), 1) << ptp << "->" << dtp << " decode rank " << d << " head " << h;
          }
        }
        for (const auto& [pair, n] : pairs) EXPECT_EQ(n, 1) << ptp << "->" << dtp;
      }
    }
  }
}

TEST(KvRoute, ReplicatedPrefillHeadsSpreadOverTheReplicas) {
  // 2 heads on 8 prefill ranks: head h sits on ranks 4h..4h+3; 8 decode ranks as well.
  const auto r = routes(layout(8, 2), layout(8, 2));
  ASSERT_EQ(r.size(), 8u);
  for (uint32_t d = 0; d < 8; ++d) EXPECT_EQ(r[d].prefill_rank, (d / 4) * 4 + d % 4);
}

TEST(KvRoute, RefusesDifferentModels) {
  PagedKvLayout other = layout(2);
  other.head_dim = 8;
  EXPECT_FALSE(plan_kv_routes(layout(2), other).ok());
  EXPECT_FALSE(plan_kv_routes(layout(3), layout(2)).ok());
  // The pool size may differ.
  EXPECT_TRUE(plan_kv_routes(layout(2, 8, 10), layout(2, 8, 50)).ok());
}

// Whole rows on both sides: a page is a block, addressed through each side's table.
TEST(KvRoutePages, WholeRowsMoveWholeBlocks) {
  const PagedKvLayout prefill = layout(2, 8, 10), decode = layout(2, 8, 20);
  const KvRoute route = routes(prefill, decode)[1];
  const KvRoutePages pages(route, prefill, decode, {3, 7}, {11, 2});
  EXPECT_EQ(pages.page_bytes(), prefill.block_bytes());
  EXPECT_EQ(pages.pages(), 4u);  // K and V of 2 blocks
  std::vector<uint8_t> pool(prefill.pool_bytes());
  const PagedTransfer t = pages.layer(1, pool.data(), RemoteRegion{9}, 100);
  EXPECT_EQ(t.src_stride, prefill.block_bytes());
  EXPECT_EQ(t.dst_stride, decode.block_bytes());
  EXPECT_EQ(t.dst.id, 9u);
  // Page i of the transfer lands exactly where the layout puts (layer 1, part, block).
  const KvPart parts[] = {KvPart::kKey, KvPart::kKey, KvPart::kValue, KvPart::kValue};
  const uint32_t src_blocks[] = {3, 7, 3, 7}, dst_blocks[] = {11, 2, 11, 2};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(static_cast<const uint8_t*>(t.src_base) + t.src_pages[i] * t.src_stride,
              pool.data() + prefill.offset(1, parts[i], src_blocks[i]));
    EXPECT_EQ(t.dst_offset + t.dst_pages[i] * t.dst_stride, 100 + decode.offset(1, parts[i], dst_blocks[i]));
  }
}

// Split heads: a page is the route's heads of one token, a row stride apart.
TEST(KvRoutePages, SplitHeadsMoveStridedRowSlices) {
  const PagedKvLayout prefill = layout(4), decode = layout(8);
  const KvRoute route = routes(prefill, decode)[3];  // prefill rank 1's second head
  const KvRoutePages pages(route, prefill, decode, {5, 1}, {0, 9});
  EXPECT_EQ(pages.page_bytes(), prefill.head_bytes());
  EXPECT_EQ(pages.pages(), 2u * 2 * prefill.block_tokens);
  EXPECT_EQ(pages.bytes_per_layer(), pages.pages() * prefill.head_bytes());
  std::vector<uint8_t> pool(prefill.pool_bytes());
  const PagedTransfer t = pages.layer(0, pool.data(), RemoteRegion{1}, 0);
  // Page (V, block index 1, token 2).
  const size_t i = 1 * 2 * 4 + 1 * 4 + 2;
  EXPECT_EQ(static_cast<const uint8_t*>(t.src_base) + t.src_pages[i] * t.src_stride,
            pool.data() + prefill.offset(0, KvPart::kValue, 1, 2, /*local_head=*/1));
  EXPECT_EQ(t.dst_offset + t.dst_pages[i] * t.dst_stride, decode.offset(0, KvPart::kValue, 9, 2, 0));
}

}  // namespace
}  // namespace ferry
