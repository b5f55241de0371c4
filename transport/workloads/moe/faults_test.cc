// A rank that vanishes (its process dies silently) or is removed from the group in the
// middle of a dispatch or a combine: every other rank's call ends with an error naming
// it, within a bounded stretch of virtual time, never a hang.
#include <gtest/gtest.h>

#include "transport/workloads/moe/testing/moe_cluster.h"

namespace ferry::moe::testing {
namespace {

constexpr uint32_t kRanks = 4;
constexpr uint32_t kLost = 2;                      // the rank that goes away
constexpr uint64_t kTimeoutNs = 50'000'000;        // EngineConfig::transfer_timeout_ns
// A wait on a rank that is alive (it answers probes) but failed and sends nothing more
// lasts this long; the lost rank itself is found dead within a keepalive and retries.
constexpr uint64_t kPeerWaitNs = 2 * kTimeoutNs;
constexpr uint64_t kBoundNs = kPeerWaitNs + 5'000'000;

class Faults : public ::testing::Test {
 protected:
  Faults() : moe_(make_options()), inputs_(moe_.make_inputs(Routing::kUniform, 24, 1)), reference_(moe_.geometry(), inputs_) {}

  static MoeClusterOptions make_options() {
    MoeClusterOptions o;
    o.ranks = kRanks;
    o.engine.transfer_timeout_ns = kTimeoutNs;
    o.engine.keepalive_interval_ns = kTimeoutNs / 10;
    o.engine.peer_wait_timeout_ns = kPeerWaitNs;
    o.moe.experts = 16;
    o.moe.top_k = 4;
    o.moe.hidden = 512;
    o.moe.max_tokens = 24;
    o.moe.mode = MoeMode::kLowLatency;
    return o;
  }

  // A dispatch that succeeds everywhere, then the experts, ready for combine.
  void dispatch_everywhere() {
    RankTasks dispatched = moe_.dispatch(inputs_);
    ASSERT_TRUE(moe_.finish(dispatched));
    outputs_.resize(kRanks);
    for (uint32_t r = 0; r < kRanks; ++r) {
      ASSERT_TRUE(dispatched.result(r).ok()) << dispatched.result(r).error().to_string();
      reference_.run_experts(r, moe_.rank(r).received(), &outputs_[r]);
    }
  }

  // Runs a few rounds: connections are up and data is moving, the calls not yet done.
  void run_a_little(RankTasks& tasks) {
    for (int i = 0; i < 30; ++i) moe_.cluster().round();
    ASSERT_FALSE(tasks.done()) << "the calls finished before the fault";
  }

  void remove_lost_rank_everywhere() {
    for (uint32_t r = 0; r < kRanks; ++r) {
      if (r == kLost) continue;
      ASSERT_TRUE(moe_.cluster().engine(r).remove_peer("rank2").ok());
    }
  }

  // Every rank but the lost one ends with an error that names it, within the bound.
  void expect_survivors_fail(RankTasks& tasks, uint64_t t0, const char* call) {
    ASSERT_TRUE(moe_.finish(tasks)) << "a call hung";
    EXPECT_LE(moe_.fabric().now_ns() - t0, kBoundNs) << "the calls took too long to fail";
    for (uint32_t r = 0; r < kRanks; ++r) {
      if (r == kLost) continue;
      const VoidResult result = tasks.result(r);
      ASSERT_FALSE(result.ok()) << "rank " << r << " succeeded without rank 2";
      const std::string& message = result.error().message;
      EXPECT_NE(message.find(std::string("moe ") + call + " on rank " + std::to_string(r)), std::string::npos) << message;
      EXPECT_NE(message.find("rank 2: "), std::string::npos) << message;  // which transfer failed
      EXPECT_NE(message.find("'rank2'"), std::string::npos) << message;   // the engine's reason
    }
    EXPECT_TRUE(moe_.drain({kLost})) << "pieces of the failed calls never settled";
    bury_lost_rank();
  }

  // A vanished rank's engine never hears from its dead NICs again, so its last writes
  // stay in flight and its ExpertParallel would (rightly) keep their memory forever. A
  // dead process's memory goes with it; in process, dropping its peers settles them.
  void bury_lost_rank() {
    for (uint32_t r = 0; r < kRanks; ++r) {
      if (r != kLost) (void)moe_.cluster().engine(kLost).remove_peer("rank" + std::to_string(r));
    }
    EXPECT_TRUE(moe_.drain());
  }

  MoeCluster moe_;
  std::vector<RankInputs> inputs_;
  Reference reference_;
  std::vector<std::vector<uint16_t>> outputs_;
  std::vector<std::vector<uint16_t>> combined_;
};

TEST_F(Faults, RankVanishesBeforeItsDispatch) {
  const uint64_t t0 = moe_.fabric().now_ns();
  RankTasks tasks = moe_.dispatch(inputs_, {kLost});
  run_a_little(tasks);
  ferry::testing::vanish_node(moe_.fabric(), kLost);
  expect_survivors_fail(tasks, t0, "dispatch");
}

TEST_F(Faults, RankVanishesWhileEveryDispatchIsOnTheWire) {
  const uint64_t t0 = moe_.fabric().now_ns();
  RankTasks tasks = moe_.dispatch(inputs_);
  moe_.fabric().at(t0 + 2'000, [&] { ferry::testing::vanish_node(moe_.fabric(), kLost); });
  expect_survivors_fail(tasks, t0, "dispatch");
}

TEST_F(Faults, RankVanishesMidCombine) {
  dispatch_everywhere();
  const uint64_t t0 = moe_.fabric().now_ns();
  RankTasks tasks = moe_.combine(inputs_, outputs_, &combined_, {kLost});
  run_a_little(tasks);
  ferry::testing::vanish_node(moe_.fabric(), kLost);
  expect_survivors_fail(tasks, t0, "combine");
}

TEST_F(Faults, RankRemovedMidDispatch) {
  const uint64_t t0 = moe_.fabric().now_ns();
  RankTasks tasks = moe_.dispatch(inputs_, {kLost});
  run_a_little(tasks);
  remove_lost_rank_everywhere();
  expect_survivors_fail(tasks, t0, "dispatch");
  EXPECT_NE(tasks.result(0).error().message.find("was removed"), std::string::npos);
}

TEST_F(Faults, RankRemovedMidCombineWhileItsOwnCallRuns) {
  dispatch_everywhere();
  const uint64_t t0 = moe_.fabric().now_ns();
  RankTasks tasks = moe_.combine(inputs_, outputs_, &combined_);
  moe_.fabric().at(t0 + 2'000, [&] { remove_lost_rank_everywhere(); });
  expect_survivors_fail(tasks, t0, "combine");
  EXPECT_FALSE(tasks.result(kLost).ok()) << "the removed rank cannot complete either";
}

TEST_F(Faults, AfterAFailureEveryRankRefusesFurtherCalls) {
  RankTasks tasks = moe_.dispatch(inputs_, {kLost});
  run_a_little(tasks);
  ferry::testing::vanish_node(moe_.fabric(), kLost);
  ASSERT_TRUE(moe_.finish(tasks));
  RankTasks again = moe_.dispatch(inputs_, {kLost});
  ASSERT_TRUE(again.done()) << "a broken exchange must refuse at once";
  EXPECT_NE(again.result(0).error().message.find("must be rebuilt"), std::string::npos);
  bury_lost_rank();
}

}  // namespace
}  // namespace ferry::moe::testing
