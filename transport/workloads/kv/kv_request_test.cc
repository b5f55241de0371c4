// Request tags stay inside the KV tag space, never overlap between slots, and both sides
// derive the same ones from the id; malformed requests are named.
#include "transport/workloads/kv/kv_request.h"

#include <gtest/gtest.h>

#include <set>

namespace ferry {
namespace {

TEST(KvRequestTags, SlotsTileTheKvTagSpaceWithoutOverlap) {
  for (uint32_t layers : {1u, 4u, 32u, 80u, 126u}) {
    const uint32_t slots = KvRequestTags::slots(layers);
    ASSERT_GT(slots, 0u);
    std::set<uint16_t> used;
    for (uint64_t id = 0; id < slots; ++id) {
      const KvRequestTags tags = KvRequestTags::for_request(id, layers);
      EXPECT_EQ(tags.slot(), id);
      for (uint32_t l = 0; l <= layers; ++l) {
        const uint16_t tag = l < layers ? tags.layer(l) : tags.control();
        EXPECT_GE(tag, static_cast<uint16_t>(TagSpace::kKv));
        EXPECT_LT(tag, static_cast<uint16_t>(TagSpace::kKv) + kTagsPerSpace);
        EXPECT_TRUE(used.insert(tag).second) << "tag " << tag << " used twice";
      }
    }
    // An id `slots` further on takes the same tags again.
    EXPECT_EQ(KvRequestTags::for_request(3 + slots, layers).first, KvRequestTags::for_request(3, layers).first);
  }
}

TEST(KvRequest, ValidationNamesTheProblem) {
  const PagedKvLayout prefill{.layers = 2, .block_tokens = 4, .kv_heads = 2, .head_dim = 4,
                              .dtype_bytes = 2, .num_blocks = 8, .tp = 1};
  PagedKvLayout decode = prefill;
  decode.num_blocks = 4;
  EXPECT_TRUE(validate_request({1, {7, 0}, {3, 1}}, prefill, decode).ok());
  auto uneven = validate_request({1, {7, 0}, {3}}, prefill, decode);
  ASSERT_FALSE(uneven.ok());
  EXPECT_NE(uneven.error().message.find("2 prefill blocks but 1 decode blocks"), std::string::npos);
  auto outside = validate_request({1, {7, 0}, {3, 4}}, prefill, decode);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("decode block table"), std::string::npos);
}

}  // namespace
}  // namespace ferry
