// The sender's plan: each token once per destination rank, one route per expert grouped
// by the destination's local expert, and refusals of ids that cannot be routed.
#include "transport/workloads/moe/routing_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace ferry::moe {
namespace {

// 3 ranks, 4 experts each, top-3, up to 8 tokens.
MoeGeometry geometry() {
  MoeConfig c;
  c.experts = 12;
  c.top_k = 3;
  c.hidden = 4;
  c.max_tokens = 8;
  return *MoeGeometry::make(c, 3);
}

std::vector<uint32_t> as_vector(std::span<const uint32_t> s) { return {s.begin(), s.end()}; }

TEST(RoutingPlan, ATokenGoesOnceToEachRankWithRoutesGroupedByExpert) {
  const MoeGeometry g = geometry();
  RoutingPlan plan(g);
  const std::vector<int32_t> topk = {
      6, 5, 1,    // token 0: rank 1 twice (local 2, 1), rank 0 once
      -1, -1, -1, // token 1: nowhere
      4, 11, -1,  // token 2: rank 1 (local 0), rank 2 (local 3)
  };
  ASSERT_TRUE(plan.build(topk).ok());
  EXPECT_EQ(plan.tokens(), 3u);
  EXPECT_EQ(as_vector(plan.tokens_to(0)), (std::vector<uint32_t>{0}));
  EXPECT_EQ(as_vector(plan.tokens_to(1)), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(as_vector(plan.tokens_to(2)), (std::vector<uint32_t>{2}));
  EXPECT_EQ(as_vector(plan.counts_to(1)), (std::vector<uint32_t>{1, 1, 1, 0}));
  const auto routes = plan.routes_to(1);
  ASSERT_EQ(routes.size(), 3u);
  // Local expert 0: token 2 (ordinal 1, slot 0); 1: token 0 (slot 1); 2: token 0 (slot 0).
  EXPECT_EQ(routes[0].local_expert, 0);
  EXPECT_EQ(routes[0].token, 1u);
  EXPECT_EQ(routes[0].k_slot, 0);
  EXPECT_EQ(routes[1].local_expert, 1);
  EXPECT_EQ(routes[1].token, 0u);
  EXPECT_EQ(routes[1].k_slot, 1);
  EXPECT_EQ(routes[2].local_expert, 2);
  EXPECT_EQ(routes[2].k_slot, 0);
  EXPECT_EQ(plan.routes_to(2)[0].local_expert, 3);
}

TEST(RoutingPlan, WithinAnExpertRoutesFollowTokenOrder) {
  const MoeGeometry g = geometry();
  RoutingPlan plan(g);
  const std::vector<int32_t> topk = {9, 0, -1, 2, 9, -1, 9, 3, 2};
  ASSERT_TRUE(plan.build(topk).ok());
  const auto routes = plan.routes_to(2);  // expert 9 = rank 2, local 1
  ASSERT_EQ(routes.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(plan.tokens_to(2)[routes[i].token], i);
  EXPECT_EQ(as_vector(plan.counts_to(0)), (std::vector<uint32_t>{1, 0, 2, 1}));
}

TEST(RoutingPlan, ARebuildForgetsThePreviousCall) {
  const MoeGeometry g = geometry();
  RoutingPlan plan(g);
  plan.reserve_worst_case();
  ASSERT_TRUE(plan.build(std::vector<int32_t>(24, -1)).ok());  // -1 may repeat: no expert
  EXPECT_EQ(plan.tokens(), 8u);
  EXPECT_TRUE(plan.routes_to(0).empty());
  ASSERT_TRUE(plan.build(std::vector<int32_t>{0, 4, 8, 1, 5, 9}).ok());
  ASSERT_TRUE(plan.build(std::vector<int32_t>{11, -1, -1}).ok());
  EXPECT_EQ(plan.tokens(), 1u);
  EXPECT_TRUE(plan.tokens_to(0).empty());
  EXPECT_TRUE(plan.routes_to(1).empty());
  EXPECT_EQ(plan.routes_to(2).size(), 1u);
}

TEST(RoutingPlan, RefusesWhatCannotBeRouted) {
  const MoeGeometry g = geometry();
  RoutingPlan plan(g);
  struct Bad {
    std::vector<int32_t> topk;
    const char* complaint;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{0, 1}, "not [tokens, 3]"},
           {std::vector<int32_t>(27, -1), "at most 8 tokens"},
           {{0, 12, 1}, "expert 12 does not exist"},
           {{0, -2, 1}, "expert -2 does not exist"},
           {{3, 7, 3}, "chose expert 3 twice"},
       }) {
    VoidResult r = plan.build(bad.topk);
    ASSERT_FALSE(r.ok()) << bad.complaint;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(bad.complaint), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace ferry::moe
