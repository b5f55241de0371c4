// Pipelines of 2 to 4 stages: every micro-batch arrives whole, in order, at every stage,
// on RC and SRD, in both emu modes; the credits bound what is in flight; a seed fixes
// the run.
#include "transport/workloads/pp/testing/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>
#include <vector>

namespace ferry::pp::testing {
namespace {

using ferry::testing::provider_kind_name;

void expect_clean_run(Pipeline& p) {
  p.start();
  ASSERT_TRUE(p.run()) << "the pipeline did not finish";
  for (size_t s = 0; s < p.stages(); ++s) {
    EXPECT_TRUE(p.tasks[s].result().ok()) << "stage " << s << ": " << p.tasks[s].result().error().message;
  }
  EXPECT_TRUE(p.mismatches.empty()) << p.mismatches.front();
  EXPECT_EQ(p.credit_violations, 0u);
  EXPECT_EQ(p.receivers[p.last()]->received(), p.options.micro_batches);
  EXPECT_EQ(p.senders[0]->sent(), p.options.micro_batches);
}

class Pipelines : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind>> {
 protected:
  PipelineOptions options() const {
    PipelineOptions o;
    o.world.provider = std::get<0>(GetParam());
    o.world.kind = std::get<1>(GetParam());
    return o;
  }
};

// More micro-batches than credits, sizes from 0 to above the stripe threshold.
TEST_P(Pipelines, FourStagesForwardEveryByteInOrder) {
  Pipeline p(options());
  expect_clean_run(p);
}

// Each send waits for the previous one to be in place: one micro-batch in flight.
TEST_P(Pipelines, FourStagesOneMicroBatchInFlight) {
  PipelineOptions o = options();
  o.in_flight = 1;
  Pipeline p(o);
  expect_clean_run(p);
}

TEST_P(Pipelines, ThreeStagesWithASingleCredit) {
  PipelineOptions o = options();
  o.world.ranks = 3;
  o.credits = 1;
  o.micro_batches = 25;
  Pipeline p(o);
  expect_clean_run(p);
}

INSTANTIATE_TEST_SUITE_P(All, Pipelines,
                         ::testing::Combine(::testing::Values(fabrics::kEmuFast, fabrics::kEmu),
                                            ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd)),
                         [](const auto& info) {
                           return provider_kind_name(std::get<0>(info.param), std::get<1>(info.param));
                         });

// Payloads striped over two unequal rails in small pieces, with a wide SRD reorder
// window: pieces land in any order, micro-batches still come out in sequence.
TEST(PipelineOrder, ReorderingFabricStillDeliversInSequence) {
  PipelineOptions o;
  o.world.kind = EndpointKind::kSrd;
  o.world.rail_gbps = {100, 50};
  o.srd_reorder_window_ns = 50'000;
  o.world.engine.stripe_threshold_bytes = 16 << 10;
  o.world.engine.piece_bytes = 16 << 10;
  o.credits = 5;
  o.micro_batches = 60;
  Pipeline p(o);
  expect_clean_run(p);
  const EngineStats stats = p.cluster.engine(0).stats();
  EXPECT_GT(stats.rails[0].operations, 0u);
  EXPECT_GT(stats.rails[1].operations, 0u) << "the payloads were meant to stripe over both rails";
}

// Nobody consumes: the sender completes exactly `credits` sends and then waits. Each
// release lets exactly one more through.
TEST(PipelineBackPressure, TheSenderWaitsForCredits) {
  PipelineOptions o;
  o.world.ranks = 2;
  o.credits = 3;
  o.micro_batches = 10;
  Pipeline p(o);
  Task<TransferResult> source = p.run_stage(0);
  source.start();
  auto idle_for = [&](uint64_t ns) {
    const uint64_t until = p.cluster.fabric().now_ns() + ns;
    p.cluster.run_until([&] { return p.cluster.fabric().now_ns() >= until; });
  };
  idle_for(10'000'000);  // 10 ms of virtual time: ages for a few hundred KB
  EXPECT_EQ(p.senders[0]->sent(), o.credits);

  StageReceiver& rx = *p.receivers[1];
  for (uint64_t m = 0; m < o.micro_batches; ++m) {
    Task<Result<Message>> got = rx.recv();
    got.start();
    ASSERT_TRUE(p.cluster.run_until([&] { return got.done(); }));
    ASSERT_TRUE(got.result().ok()) << got.result().error().message;
    EXPECT_EQ(got.result()->sequence, m);
    rx.release();
    idle_for(10'000'000);
    EXPECT_EQ(p.senders[0]->sent(), std::min<uint64_t>(o.micro_batches, o.credits + m + 1))
        << "after releasing micro-batch " << m;
  }
  ASSERT_TRUE(p.cluster.run_until([&] { return source.done(); }));
  EXPECT_TRUE(source.result().ok()) << source.result().error().message;
  EXPECT_EQ(p.credit_violations, 0u);
}

uint64_t trace_hash_of_run(uint64_t seed) {
  PipelineOptions o;
  o.world.kind = EndpointKind::kSrd;
  o.world.seed = seed;
  o.micro_batches = 20;
  Pipeline p(o);
  expect_clean_run(p);
  return p.cluster.fabric().trace_hash();
}

TEST(PipelineDeterminism, SameSeedSameTrace) {
  const uint64_t first = trace_hash_of_run(7);
  EXPECT_EQ(first, trace_hash_of_run(7));
  EXPECT_NE(first, trace_hash_of_run(8));
}

// Within the window, posts go out without waiting for each other: three writes are out
// before the first completes, and a fourth waits for room.
TEST(PipelineInFlight, TheWindowFillsBeforeAnyWriteCompletes) {
  PipelineOptions o;
  o.world.ranks = 2;
  o.credits = 4;
  o.in_flight = 3;
  Pipeline p(o);
  StageSender& tx = *p.senders[0];
  StageReceiver& rx = *p.receivers[1];
  ASSERT_EQ(tx.window(), 3u);
  for (uint32_t b = 0; b < 3; ++b) std::fill_n(p.output(0, b), 1000, static_cast<uint8_t>(b + 1));
  std::vector<Task<TransferResult>> posts;
  for (uint32_t b = 0; b < 3; ++b) {
    posts.push_back(tx.post(p.output(0, b), 1000));
    posts.back().start();
    ASSERT_TRUE(posts.back().done()) << "post " << b << " waited";
    EXPECT_TRUE(posts.back().result().ok()) << posts.back().result().error().message;
  }
  EXPECT_EQ(tx.posted(), 3u);
  EXPECT_EQ(tx.sent(), 0u);
  Task<TransferResult> fourth = tx.post(p.output(0, 0), 1000);
  fourth.start();
  EXPECT_FALSE(fourth.done()) << "a fourth write went out beside three in flight";
  ASSERT_TRUE(p.cluster.run_until([&] { return fourth.done(); }));
  EXPECT_TRUE(fourth.result().ok()) << fourth.result().error().message;
  EXPECT_GE(tx.sent(), 1u);

  Task<TransferResult> beyond = tx.wait_sent(5);
  beyond.start();
  ASSERT_TRUE(beyond.done());
  EXPECT_EQ(beyond.result().error().code, ErrorCode::kInvalidArgument);
  Task<TransferResult> all = tx.wait_sent(4);
  all.start();
  ASSERT_TRUE(p.cluster.run_until([&] { return all.done(); }));
  EXPECT_TRUE(all.result().ok()) << all.result().error().message;
  EXPECT_EQ(tx.sent(), 4u);
  for (uint64_t m = 0; m < 4; ++m) {
    Task<Result<Message>> got = rx.recv();
    got.start();
    ASSERT_TRUE(p.cluster.run_until([&] { return got.done(); }));
    ASSERT_TRUE(got.result().ok()) << got.result().error().message;
    EXPECT_EQ(got.result()->sequence, m);
    ASSERT_EQ(got.result()->bytes.size(), 1000u);
    EXPECT_EQ(got.result()->bytes[999], m % 3 + 1);
  }
}

TEST(PipelineMisuse, OversizeAndConcurrentCallsAreRefusedWithoutBreakingTheLink) {
  PipelineOptions o;
  o.world.ranks = 2;
  Pipeline p(o);
  StageSender& tx = *p.senders[0];
  StageReceiver& rx = *p.receivers[1];

  Task<TransferResult> too_big = tx.send(p.output(0), o.max_message_bytes + 1);
  too_big.start();
  ASSERT_TRUE(too_big.done());
  EXPECT_EQ(too_big.result().error().code, ErrorCode::kOutOfRange);

  Task<Result<Message>> first = rx.recv();
  Task<Result<Message>> second = rx.recv();
  first.start();
  second.start();
  ASSERT_TRUE(second.done());
  ASSERT_FALSE(second.result().ok());
  EXPECT_EQ(second.result().error().code, ErrorCode::kFailedPrecondition);

  p.output(0)[0] = 42;
  Task<TransferResult> sent = tx.send(p.output(0), 1);
  sent.start();
  ASSERT_TRUE(p.cluster.run_until([&] { return sent.done() && first.done(); }));
  EXPECT_TRUE(sent.result().ok()) << sent.result().error().message;
  ASSERT_TRUE(first.result().ok()) << first.result().error().message;
  ASSERT_EQ(first.result()->bytes.size(), 1u);
  EXPECT_EQ(first.result()->bytes[0], 42);
}

}  // namespace
}  // namespace ferry::pp::testing
