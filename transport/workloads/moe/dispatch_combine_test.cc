// Dispatch and combine end to end on 2, 3, 4 and 8 ranks of the emulator: every routing
// kind, both emu modes, both MoE modes. Every received row is checked against its
// origin's payload, every per-expert count and origin against the local reference, and
// every combined token bit for bit against the same math done without the network.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <tuple>

#include "transport/workloads/moe/testing/moe_cluster.h"

namespace ferry::moe::testing {
namespace {

using Case = std::tuple<uint32_t, Routing, std::string, MoeMode>;

MoeClusterOptions small(uint32_t ranks, std::string mode, MoeMode moe_mode) {
  MoeClusterOptions o;
  o.provider = mode;
  o.ranks = ranks;
  o.moe.experts = 4 * ranks;
  o.moe.top_k = 4;
  o.moe.hidden = 80;  // 160-byte rows: not a multiple of the 64-byte alignment
  o.moe.max_tokens = 24;
  o.moe.mode = moe_mode;
  return o;
}

class DispatchCombine : public ::testing::TestWithParam<Case> {};

// Two calls in a row with different routings: buffers, tags and sequence numbers are
// reused and advance on every rank alike.
TEST_P(DispatchCombine, RowsCountsAndCombinedTokensMatchTheReference) {
  const auto [ranks, routing, mode, moe_mode] = GetParam();
  MoeCluster moe(small(ranks, mode, moe_mode));
  for (uint64_t seed : {1, 2}) {
    const std::vector<RankInputs> inputs = moe.make_inputs(routing, seed == 1 ? 24 : 17, seed);
    EXPECT_EQ(moe.cycle(inputs), "") << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, DispatchCombine,
    ::testing::Combine(::testing::Values(2u, 3u, 4u, 8u),
                       ::testing::Values(Routing::kUniform, Routing::kSkewed, Routing::kRankReceivesNothing,
                                         Routing::kDuplicateDestinations, Routing::kUnusedSlots),
                       ::testing::Values(fabrics::kEmu, fabrics::kEmuFast),
                       ::testing::Values(MoeMode::kLowLatency, MoeMode::kNormal)),
    [](const auto& info) {
      return "Ep" + std::to_string(std::get<0>(info.param)) + "_" + routing_name(std::get<1>(info.param)) + "_" +
             (std::get<2>(info.param) == fabrics::kEmuFast ? "Fast" : "Deterministic") + "_" +
             (std::get<3>(info.param) == MoeMode::kLowLatency ? "LowLatency" : "Normal");
    });

TEST(DispatchCombineShapes, SkewedRoutingReallyConcentratesOnOneExpert) {
  MoeCluster moe(small(4, fabrics::kEmu, MoeMode::kLowLatency));
  const std::vector<RankInputs> inputs = moe.make_inputs(Routing::kSkewed, 24, 3);
  const Reference reference(moe.geometry(), inputs);
  size_t hottest = 0;
  for (uint32_t e = 0; e < moe.geometry().config().experts; ++e) hottest = std::max(hottest, reference.rows_of(e).size());
  EXPECT_GE(hottest, 4 * 24 * 8 / 10) << "the hot expert should get about 9 tokens in 10";
  EXPECT_EQ(moe.cycle(inputs), "");
}

TEST(DispatchCombineShapes, TheLastRankReceivesNothingAndStillCompletes) {
  MoeCluster moe(small(3, fabrics::kEmu, MoeMode::kNormal));
  const std::vector<RankInputs> inputs = moe.make_inputs(Routing::kRankReceivesNothing, 24, 4);
  ASSERT_EQ(moe.cycle(inputs), "");
  EXPECT_EQ(moe.rank(2).received().rows(), 0u);
}

TEST(DispatchCombineShapes, RanksWithNoTokensSendHeadersOnly) {
  MoeCluster moe(small(4, fabrics::kEmu, MoeMode::kLowLatency));
  std::vector<RankInputs> inputs = moe.make_inputs(Routing::kUniform, 20, 5);
  inputs[1] = make_inputs(moe.geometry(), Routing::kUniform, 1, 0, 5);
  inputs[3] = make_inputs(moe.geometry(), Routing::kUniform, 3, 0, 5);
  ASSERT_EQ(moe.cycle(inputs), "");
  for (uint32_t r : {1u, 3u}) {
    const MoeCallStats& sent = moe.rank(r).last_dispatch();
    EXPECT_EQ(sent.messages, 3u) << "rank " << r << " must still tell every other rank it sends nothing";
    EXPECT_EQ(sent.payload_bytes, 0u);
    EXPECT_EQ(sent.wire_bytes, 3 * dispatch_preamble_bytes(4, 0, 0));
  }
}

TEST(DispatchCombineShapes, TopKAboveTheExpertsOfARankAndAboveTheRanks) {
  MoeClusterOptions o = small(2, fabrics::kEmu, MoeMode::kLowLatency);
  o.moe.experts = 6;  // 3 per rank, top-5: every token reaches both ranks with 2+ experts
  o.moe.top_k = 5;
  MoeCluster moe(o);
  EXPECT_EQ(moe.cycle(moe.make_inputs(Routing::kUniform, 24, 6)), "");
  EXPECT_EQ(moe.cycle(moe.make_inputs(Routing::kDuplicateDestinations, 24, 7)), "");
}

// Messages cut into pieces striped over two unequal rails, on SRD (no ordering at all)
// with packet loss: a notification still means the whole message is in place.
TEST(DispatchCombineFabric, StripedPiecesOverLossyUnorderedRails) {
  MoeClusterOptions o = small(4, fabrics::kEmu, MoeMode::kLowLatency);
  o.kind = EndpointKind::kSrd;
  o.rail_gbps = {100, 50};
  o.loss = 0.02;
  o.engine.stripe_threshold_bytes = 1024;
  o.engine.piece_bytes = 1024;
  o.moe.hidden = 512;
  MoeCluster moe(o);
  EXPECT_EQ(moe.cycle(moe.make_inputs(Routing::kDuplicateDestinations, 24, 10)), "");
  EXPECT_EQ(moe.cycle(moe.make_inputs(Routing::kSkewed, 24, 11)), "");
  const EngineStats stats = moe.cluster().engine(0).stats();
  EXPECT_GT(stats.rails[1].operations, 0u) << "nothing was striped onto the second rail";
}

class ElementSizes : public ::testing::TestWithParam<uint32_t> {};

// Dispatch moves opaque elements (fp8 = 1 byte, fp32 = 4); combine stays bf16.
TEST_P(ElementSizes, DispatchMovesAnyElementSize) {
  MoeClusterOptions o = small(3, fabrics::kEmu, MoeMode::kNormal);
  o.moe.element_bytes = GetParam();
  MoeCluster moe(o);
  EXPECT_EQ(moe.cycle(moe.make_inputs(Routing::kDuplicateDestinations, 24, 8)), "");
}

INSTANTIATE_TEST_SUITE_P(All, ElementSizes, ::testing::Values(1u, 2u, 4u));

// tokens[s][d], rows[s][d]: what s routes to d, counted from the inputs alone.
struct Routed {
  std::vector<std::vector<uint32_t>> tokens, rows;
};

Routed count_routed(const MoeGeometry& g, const std::vector<RankInputs>& inputs) {
  const uint32_t n = g.ranks();
  Routed out{std::vector<std::vector<uint32_t>>(n, std::vector<uint32_t>(n)), {}};
  out.rows = out.tokens;
  for (uint32_t s = 0; s < n; ++s) {
    for (uint32_t t = 0; t < inputs[s].tokens; ++t) {
      std::vector<uint32_t> here(n);
      for (uint32_t j = 0; j < g.top_k(); ++j) {
        const int32_t e = inputs[s].topk[t * g.top_k() + j];
        if (e >= 0) ++here[g.rank_of(e)];
      }
      for (uint32_t d = 0; d < n; ++d) {
        out.tokens[s][d] += here[d] > 0;
        out.rows[s][d] += here[d];
      }
    }
  }
  return out;
}

// Per (source, destination): the routed tokens once each, their routes and a header —
// computed here from the inputs alone — and the engine moved exactly that.
TEST(DispatchCombineWire, BytesOnTheWireAreTheRoutedTokensPlusHeaders) {
  MoeCluster moe(small(4, fabrics::kEmu, MoeMode::kLowLatency));
  const MoeGeometry& g = moe.geometry();
  const uint32_t n = moe.size();
  const std::vector<RankInputs> inputs = moe.make_inputs(Routing::kDuplicateDestinations, 24, 9);
  ASSERT_EQ(moe.cycle(inputs), "");
  const auto [tokens, rows] = count_routed(g, inputs);
  for (uint32_t s = 0; s < n; ++s) {
    uint64_t dispatch_payload = 0, dispatch_wire = 0, combine_payload = 0, combine_wire = 0;
    for (uint32_t d = 0; d < n; ++d) {
      if (d == s) continue;
      dispatch_payload += tokens[s][d] * g.token_bytes();
      dispatch_wire += dispatch_message_bytes(g.experts_per_rank(), tokens[s][d], rows[s][d], g.token_bytes());
      // s answers each token d sent it with one partial sum, however many rows it made.
      combine_payload += tokens[d][s] * g.output_row_bytes();
      combine_wire += combine_message_bytes(tokens[d][s], g.output_row_bytes());
    }
    const ExpertParallel& ep = moe.rank(s);
    EXPECT_EQ(ep.last_dispatch().messages, n - 1);
    EXPECT_EQ(ep.last_dispatch().payload_bytes, dispatch_payload) << "rank " << s;
    EXPECT_EQ(ep.last_dispatch().wire_bytes, dispatch_wire) << "rank " << s;
    EXPECT_EQ(ep.last_combine().payload_bytes, combine_payload) << "rank " << s;
    EXPECT_EQ(ep.last_combine().wire_bytes, combine_wire) << "rank " << s;
    uint64_t engine_bytes = 0;
    for (const auto& [peer, counters] : moe.cluster().engine(s).stats().peers) engine_bytes += counters.bytes;
    EXPECT_EQ(engine_bytes, dispatch_wire + combine_wire) << "rank " << s << ": the engine moved other bytes";
  }
}

// Combine reduces on the expert rank: for bf16 dispatch the reply d -> s carries one row
// per token s sent d, so it is never larger than the dispatch message s -> d, and the
// group's combine never moves more than its dispatch, whatever the routing; nor does
// what comes back to a rank exceed what it sent. (What a rank sends in combine can: a
// rank that receives many tokens answers each of them.) Random routings over
// several group sizes and top-k, with tokens whose experts all live on one rank, unused
// slots and tokens with no expert; every combined element is checked by cycle().
TEST(DispatchCombineWire, CombineNeverMovesMoreThanDispatch) {
  std::mt19937_64 random(20261208);
  for (uint32_t ranks : {2u, 3u, 4u, 8u}) {
    for (uint32_t top_k : {1u, 2u, 4u, 6u, 8u}) {
      MoeClusterOptions o = small(ranks, fabrics::kEmuFast, MoeMode::kLowLatency);
      o.moe.experts = 8 * ranks;  // 8 per rank: a token's experts can all share one rank
      o.moe.top_k = std::min(top_k, o.moe.experts);
      MoeCluster moe(o);
      const MoeGeometry& g = moe.geometry();
      for (uint64_t round = 0; round < 3; ++round) {
        std::vector<RankInputs> inputs = moe.make_inputs(Routing::kUniform, 24, round + 1);
        for (RankInputs& in : inputs) {
          in.tokens = static_cast<uint32_t>(random() % 25);
          in = make_inputs(g, Routing::kUniform, static_cast<uint32_t>(&in - inputs.data()), in.tokens, round + 7);
          for (uint32_t t = 0; t < in.tokens; ++t) {
            // One token in three on one rank only; else anywhere. Distinct experts either way.
            std::vector<int32_t> pool(g.config().experts);
            std::iota(pool.begin(), pool.end(), 0);
            if (random() % 3 == 0) {
              const uint32_t r = static_cast<uint32_t>(random() % ranks);
              pool.assign(8, 0);
              std::iota(pool.begin(), pool.end(), static_cast<int32_t>(r * 8));
            }
            std::shuffle(pool.begin(), pool.end(), random);
            const bool none = random() % 8 == 0;
            for (uint32_t j = 0; j < g.top_k(); ++j) {
              in.topk[uint64_t{t} * g.top_k() + j] = none || random() % 5 == 0 ? -1 : pool[j];
            }
          }
        }
        const std::string where = "EP " + std::to_string(ranks) + " top-" + std::to_string(g.top_k()) +
                                  " round " + std::to_string(round);
        ASSERT_EQ(moe.cycle(inputs), "") << where;
        const auto [tokens, rows] = count_routed(g, inputs);
        uint64_t dispatch_wire = 0, combine_wire = 0;
        for (uint32_t s = 0; s < ranks; ++s) {
          dispatch_wire += moe.rank(s).last_dispatch().wire_bytes;
          combine_wire += moe.rank(s).last_combine().wire_bytes;
          uint64_t comes_back = 0;  // the replies to s's tokens
          for (uint32_t d = 0; d < ranks; ++d) {
            EXPECT_LE(combine_message_bytes(tokens[s][d], g.output_row_bytes()),
                      dispatch_message_bytes(g.experts_per_rank(), tokens[s][d], rows[s][d], g.token_bytes()))
                << where << ": " << s << " -> " << d;
            if (d != s) comes_back += combine_message_bytes(tokens[s][d], g.output_row_bytes());
          }
          EXPECT_LE(comes_back, moe.rank(s).last_dispatch().wire_bytes) << where << ": rank " << s;
        }
        EXPECT_LE(combine_wire, dispatch_wire) << where;
        EXPECT_GT(dispatch_wire, 0u) << where;
      }
    }
  }
}

}  // namespace
}  // namespace ferry::moe::testing
