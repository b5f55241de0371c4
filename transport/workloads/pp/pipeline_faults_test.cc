// A stage that vanishes or is removed mid-stream: every neighbour's call ends with an
// error naming the stage it lost, within bounded virtual time; nothing hangs.
#include <gtest/gtest.h>

#include <tuple>

#include "transport/workloads/pp/testing/pipeline.h"

namespace ferry::pp::testing {
namespace {

using ferry::testing::provider_kind_name;

// The engine's deadline: 50 ms of virtual time. In fast mode it is wall time, and one
// thread drives every stage: on a loaded machine a stage can wait that long for its turn,
// so fast mode gets a deadline no scheduler pause reaches.
constexpr uint64_t kTimeoutNs = 50'000'000;
constexpr uint64_t kFastTimeoutNs = 1'000'000'000;

class PipelineFaults : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind>> {
 protected:
  // Four stages, started and run until the last has consumed a few micro-batches.
  std::unique_ptr<Pipeline> midstream() const {
    PipelineOptions o;
    o.world.provider = std::get<0>(GetParam());
    o.world.kind = std::get<1>(GetParam());
    o.micro_batches = 10'000;  // far more than will flow before the fault
    o.max_message_bytes = 20'000;
    o.world.engine.transfer_timeout_ns = deterministic() ? kTimeoutNs : kFastTimeoutNs;
    // A stage waiting on a live neighbour that failed (it answers probes) waits this long.
    o.world.engine.peer_wait_timeout_ns = 2 * o.world.engine.transfer_timeout_ns;
    o.world.engine.keepalive_interval_ns = o.world.engine.transfer_timeout_ns / 10;
    auto p = std::make_unique<Pipeline>(o);
    p->start();
    // A stage that failed before the fault stops the flow: stop waiting then, too.
    EXPECT_TRUE(p->cluster.run_until([&] { return p->receivers[3]->received() >= 10 || p->any_done(); }));
    EXPECT_FALSE(p->any_done()) << "a stage ended before the fault: " << p->first_failure();
    return p;
  }
  bool deterministic() const { return std::get<0>(GetParam()) == fabrics::kEmu; }
};

void expect_failed_naming(Pipeline& p, size_t stage, const std::string& peer) {
  const TransferResult& r = p.tasks[stage].result();
  EXPECT_FALSE(r.ok()) << "stage " << stage << " finished as if nothing happened";
  EXPECT_NE(r.error().message.find("'" + peer + "'"), std::string::npos) << "stage " << stage << ": " << r.error().message;
}

// Stage 1 dies silently. Stage 0 (sending to it) and stage 2 (receiving from it) fail
// naming it; stage 3, starved, fails naming stage 2 once its wait on that live stage
// ends (a peer wait timeout). All within a peer wait timeout and a transfer deadline.
TEST_P(PipelineFaults, AVanishedStageEndsItsNeighboursCalls) {
  auto p = midstream();
  const uint64_t vanished_at = p->cluster.fabric().now_ns();
  ferry::testing::vanish_node(p->cluster.fabric(), 1);
  ASSERT_TRUE(p->run()) << "a stage hung after its neighbour vanished";
  expect_failed_naming(*p, 0, "rank1");
  expect_failed_naming(*p, 2, "rank1");
  expect_failed_naming(*p, 3, "rank2");
  EXPECT_TRUE(p->mismatches.empty()) << p->mismatches.front();
  EXPECT_EQ(p->credit_violations, 0u);
  if (deterministic()) {
    for (size_t s : {0, 2, 3}) {
      EXPECT_LE(p->finished_ns[s] - vanished_at, 3 * kTimeoutNs) << "stage " << s;
    }
  }
}

// The neighbours drop stage 1 (as a membership service would). A call waiting on it
// then fails at once with kUnavailable; a call begun after the removal waits out its
// deadline instead, because the engine's expect() adds the peer back (see the docs).
TEST_P(PipelineFaults, ARemovedStageEndsItsNeighboursCalls) {
  auto p = midstream();
  const uint64_t removed_at = p->cluster.fabric().now_ns();
  ASSERT_TRUE(p->cluster.engine(0).remove_peer("rank1").ok());
  ASSERT_TRUE(p->cluster.engine(2).remove_peer("rank1").ok());
  ASSERT_TRUE(p->run()) << "a stage hung after its neighbour was removed";
  expect_failed_naming(*p, 0, "rank1");
  expect_failed_naming(*p, 2, "rank1");
  expect_failed_naming(*p, 3, "rank2");
  EXPECT_FALSE(p->tasks[1].result().ok());
  EXPECT_TRUE(p->mismatches.empty()) << p->mismatches.front();
  if (deterministic()) {
    for (size_t s : {0, 2, 3}) {
      EXPECT_LE(p->finished_ns[s] - removed_at, 3 * kTimeoutNs) << "stage " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, PipelineFaults,
                         ::testing::Combine(::testing::Values(fabrics::kEmuFast, fabrics::kEmu),
                                            ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd)),
                         [](const auto& info) {
                           return provider_kind_name(std::get<0>(info.param), std::get<1>(info.param));
                         });

}  // namespace
}  // namespace ferry::pp::testing
