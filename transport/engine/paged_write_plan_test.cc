#include "transport/engine/paged_write_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace ferry {
namespace {

constexpr uint64_t kPage = 4096;

PagedWriteSpec spec_for(const std::vector<uint32_t>& src, const std::vector<uint32_t>& dst,
                        uint64_t stride = kPage) {
  PagedWriteSpec spec;
  spec.src_pages = src;
  spec.dst_pages = dst;
  spec.page_bytes = kPage;
  spec.src_base = 0x100000;
  spec.src_stride = stride;
  spec.dst_base = 0x900000;
  spec.dst_stride = stride;
  return spec;
}

// Replays the plan as copies and checks every page landed where the spec says.
void expect_plan_covers(const PagedWritePlan& plan, const PagedWriteSpec& spec) {
  std::vector<std::pair<uint64_t, uint64_t>> copies;  // (src, dst) per page
  for (const PlannedWrite& w : plan.writes()) {
    uint64_t dst = w.remote_addr;
    uint64_t total = 0;
    for (uint32_t s = 0; s < w.num_sge; ++s) {
      const Sge& sge = plan.sges()[w.first_sge + s];
      for (uint64_t off = 0; off < sge.length; off += spec.page_bytes) {
        copies.emplace_back(sge.addr + off, dst);
        dst += spec.page_bytes;
      }
      total += sge.length;
    }
    EXPECT_EQ(total, w.length);
  }
  ASSERT_EQ(copies.size(), spec.src_pages.size());
  for (size_t i = 0; i < copies.size(); ++i) {
    EXPECT_EQ(copies[i].first, spec.src_base + spec.src_pages[i] * spec.src_stride) << i;
    EXPECT_EQ(copies[i].second, spec.dst_base + spec.dst_pages[i] * spec.dst_stride) << i;
  }
}

TEST(PagedWritePlanTest, ContiguousOnBothSidesIsOneWriteOneEntry) {
  const std::vector<uint32_t> src = {4, 5, 6, 7}, dst = {10, 11, 12, 13};
  PagedWritePlan plan;
  ASSERT_TRUE(plan.build(spec_for(src, dst), 77, 16, 1u << 30).ok());
  ASSERT_EQ(plan.writes().size(), 1u);
  EXPECT_EQ(plan.writes()[0].num_sge, 1u);
  EXPECT_EQ(plan.writes()[0].length, 4 * kPage);
  EXPECT_EQ(plan.sges()[0].lkey, 77u);
  EXPECT_EQ(plan.total_bytes(), 4 * kPage);
  expect_plan_covers(plan, spec_for(src, dst));
}

TEST(PagedWritePlanTest, ScatteredSourcesGatherIntoOneWrite) {
  const std::vector<uint32_t> src = {9, 2, 30, 31}, dst = {0, 1, 2, 3};
  PagedWritePlan plan;
  ASSERT_TRUE(plan.build(spec_for(src, dst), 1, 16, 1u << 30).ok());
  ASSERT_EQ(plan.writes().size(), 1u);
  EXPECT_EQ(plan.writes()[0].num_sge, 3u);  // 9 | 2 | 30-31
  expect_plan_covers(plan, spec_for(src, dst));
}

TEST(PagedWritePlanTest, ScatteredDestinationsSplitWrites) {
  const std::vector<uint32_t> src = {0, 1, 2, 3}, dst = {5, 9, 10, 2};
  PagedWritePlan plan;
  ASSERT_TRUE(plan.build(spec_for(src, dst), 1, 16, 1u << 30).ok());
  EXPECT_EQ(plan.writes().size(), 3u);  // 5 | 9-10 | 2
  expect_plan_covers(plan, spec_for(src, dst));
}

TEST(PagedWritePlanTest, RespectsMaxSgeAndMaxMessage) {
  std::vector<uint32_t> src, dst;
  for (uint32_t i = 0; i < 40; ++i) {
    src.push_back(i * 2);  // never contiguous
    dst.push_back(i);      // always contiguous
  }
  PagedWritePlan plan;
  ASSERT_TRUE(plan.build(spec_for(src, dst), 1, 16, 1u << 30).ok());
  EXPECT_EQ(plan.writes().size(), 3u);  // 16 + 16 + 8 entries
  for (const auto& w : plan.writes()) EXPECT_LE(w.num_sge, 16u);
  expect_plan_covers(plan, spec_for(src, dst));

  ASSERT_TRUE(plan.build(spec_for(dst, dst), 1, 16, 8 * kPage).ok());
  EXPECT_EQ(plan.writes().size(), 5u);  // 40 pages, 8 per message
  for (const auto& w : plan.writes()) EXPECT_LE(w.length, 8 * kPage);
  expect_plan_covers(plan, spec_for(dst, dst));
}

TEST(PagedWritePlanTest, StridesLeaveGapsBetweenPages) {
  // Pages of 4 KiB inside 16 KiB slots (one layer's K of a block, say): never contiguous.
  const std::vector<uint32_t> src = {0, 1, 2}, dst = {0, 1, 2};
  PagedWritePlan plan;
  ASSERT_TRUE(plan.build(spec_for(src, dst, 4 * kPage), 1, 16, 1u << 30).ok());
  EXPECT_EQ(plan.writes().size(), 3u);
  expect_plan_covers(plan, spec_for(src, dst, 4 * kPage));
}

TEST(PagedWritePlanTest, RejectsMalformedSpecs) {
  const std::vector<uint32_t> two = {0, 1}, three = {0, 1, 2};
  PagedWritePlan plan;
  auto mismatch = plan.build(spec_for(two, three), 1, 16, 1u << 30);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().message.find("2 source pages but 3"), std::string::npos);

  PagedWriteSpec zero = spec_for(two, two);
  zero.page_bytes = 0;
  EXPECT_FALSE(plan.build(zero, 1, 16, 1u << 30).ok());

  PagedWriteSpec narrow = spec_for(two, two);
  narrow.src_stride = kPage - 1;
  EXPECT_FALSE(plan.build(narrow, 1, 16, 1u << 30).ok());
  EXPECT_FALSE(plan.build(spec_for(two, two), 1, 0, 1u << 30).ok());
}

TEST(PagedWritePlanTest, EmptySpecIsAnEmptyPlan) {
  const std::vector<uint32_t> none;
  PagedWritePlan plan;
  ASSERT_TRUE(plan.build(spec_for(none, none), 1, 16, 1u << 30).ok());
  EXPECT_TRUE(plan.writes().empty());
  EXPECT_EQ(plan.total_bytes(), 0u);
}

}  // namespace
}  // namespace ferry
