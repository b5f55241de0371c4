// The pool layout: offsets against a plain row-major walk, head ownership under tensor
// parallelism (split and replicated), and the checks on layouts and block tables.
#include "transport/workloads/kv/paged_kv_layout.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

PagedKvLayout layout(uint32_t tp, uint32_t kv_heads = 8) {
  return PagedKvLayout{.layers = 3, .block_tokens = 4, .kv_heads = kv_heads, .head_dim = 5,
                       .dtype_bytes = 2, .num_blocks = 6, .tp = tp};
}

TEST(PagedKvLayout, OffsetsWalkThePoolInRowMajorOrder) {
  const PagedKvLayout l = layout(2);
  ASSERT_TRUE(l.validate().ok());
  // [layer][part][block][token][local head][dim], each element dtype_bytes wide, no gaps.
  uint64_t expected = 0;
  for (uint32_t layer = 0; layer < l.layers; ++layer) {
    for (uint32_t part = 0; part < kKvParts; ++part) {
      for (uint32_t block = 0; block < l.num_blocks; ++block) {
        for (uint32_t token = 0; token < l.block_tokens; ++token) {
          for (uint32_t head = 0; head < l.heads_per_rank(); ++head) {
            for (uint32_t dim = 0; dim < l.head_dim; ++dim) {
              ASSERT_EQ(l.offset(layer, static_cast<KvPart>(part), block, token, head, dim), expected);
              expected += l.dtype_bytes;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(expected, l.pool_bytes());
  EXPECT_EQ(l.token_bytes(), 4u * 5 * 2);
  EXPECT_EQ(l.block_bytes(), 4u * l.token_bytes());
}

TEST(PagedKvLayout, SplitsHeadsOverRanks) {
  const PagedKvLayout l = layout(4);
  EXPECT_EQ(l.heads_per_rank(), 2u);
  EXPECT_EQ(l.replicas(), 1u);
  for (uint32_t rank = 0; rank < 4; ++rank) {
    EXPECT_EQ(l.heads_of(rank).first, 2 * rank);
    EXPECT_EQ(l.heads_of(rank).count, 2u);
  }
}

TEST(PagedKvLayout, ReplicatesHeadsWhenRanksOutnumberThem) {
  const PagedKvLayout l = layout(8, 2);
  ASSERT_TRUE(l.validate().ok());
  EXPECT_EQ(l.heads_per_rank(), 1u);
  EXPECT_EQ(l.replicas(), 4u);
  for (uint32_t rank = 0; rank < 8; ++rank) EXPECT_EQ(l.heads_of(rank).first, rank / 4);
}

TEST(PagedKvLayout, RefusesWhatCannotBeLaidOut) {
  PagedKvLayout zero = layout(1);
  zero.head_dim = 0;
  EXPECT_FALSE(zero.validate().ok());
  EXPECT_FALSE(layout(3).validate().ok());      // 8 heads over 3 ranks
  EXPECT_FALSE(layout(12, 8).validate().ok());  // 12 ranks over 8 heads
  PagedKvLayout huge = layout(1);
  huge.num_blocks = 1u << 30;
  EXPECT_EQ(huge.validate().error().code, ErrorCode::kOutOfRange);
}

TEST(PagedKvLayout, BlockTablesStayInsideThePoolWithoutRepeats) {
  const PagedKvLayout l = layout(1);
  EXPECT_TRUE(validate_block_table(l, {5, 0, 3}).ok());
  EXPECT_FALSE(validate_block_table(l, {}).ok());
  EXPECT_EQ(validate_block_table(l, {6}).error().code, ErrorCode::kOutOfRange);
  EXPECT_FALSE(validate_block_table(l, {1, 2, 1}).ok());
}

}  // namespace
}  // namespace ferry
