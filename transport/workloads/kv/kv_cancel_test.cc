// Requests that end early: cancelled mid-transfer from either side, one rank stopping,
// a decode rank or a prefill rank lost. Both sides end; the decode side calls its blocks
// reusable only once no write of the request can land, and blocks reused for the next
// request hold, once everything has quiesced, only that request's data.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "transport/workloads/kv/testing/kv_cluster.h"

namespace ferry::testing {
namespace {

constexpr uint64_t kDeadlineNs = 50'000'000;  // the engines' transfer deadline

class KvEarlyEnd : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind>> {
 protected:
  KvClusterOptions options(uint32_t prefill_tp, uint32_t decode_tp) const {
    KvClusterOptions o = kv_options(prefill_tp, decode_tp, std::get<0>(GetParam()), std::get<1>(GetParam()));
    o.link_gbps = 2;  // slow: writes are still on the wire when the request is cancelled
    // A short deadline in virtual time only: on real time it could fire on a busy machine
    // (and there a vanished peer fails at once anyway).
    if (deterministic()) o.engine.transfer_timeout_ns = kDeadlineNs;
    return o;
  }
  bool deterministic() const { return std::get<0>(GetParam()) == fabrics::kEmu; }

  // Begins `request` with content 1 and hands over its first two layers: the others are
  // still being computed, so a stop has something left to stop. In virtual time it then
  // runs until data is moving but has not all landed.
  KvRequestTasks start(KvCluster& kv, const KvRequest& request) {
    constexpr uint32_t layers = 2;
    kv.fill(request, 1);
    EXPECT_TRUE(kv.begin(request));
    KvRequestTasks tasks = kv.watch(request.id);
    for (uint32_t l = 0; l < layers; ++l) EXPECT_TRUE(kv.layer_ready(request.id, l));
    if (deterministic()) {
      EXPECT_TRUE(kv.run_until([&] { return kv.cluster().engine(0).stats().transfers_done > 0; }));
      EXPECT_GT(kv.sender(0).writes_in_flight(), 0u) << "nothing left on the wire to cancel";
    }
    return tasks;
  }
};

// Every rank of a request that ended early says so, and the decode side may reuse.
void expect_ended_early(KvRequestTasks& tasks) {
  for (auto& t : tasks.senders) EXPECT_FALSE(t.result().result.ok());
  for (auto& t : tasks.receivers) {
    const KvReceiveReport& r = t.result();
    EXPECT_FALSE(r.result.ok());
    EXPECT_TRUE(r.cancelled);
    EXPECT_TRUE(r.blocks_reusable) << r.result.error().message;
  }
}

// Waits only for the decode side, as a decode node would before reusing the blocks. At
// that moment no write of the stopped request may be outstanding on any prefill rank.
void await_decode_side(KvCluster& kv, KvRequestTasks& tasks) {
  ASSERT_TRUE(kv.run_until([&] {
    return std::all_of(tasks.receivers.begin(), tasks.receivers.end(), [](auto& t) { return t.done(); });
  }));
  for (uint32_t p = 0; p < kv.options().prefill.tp; ++p) {
    EXPECT_EQ(kv.sender(p).writes_in_flight(), 0u) << "prefill rank " << p << " still has writes out";
  }
}

// Runs `next` (content 2) into the decode blocks of a request that ended early, right
// away, lets everything quiesce, and checks that those blocks hold only `next`'s data.
void reuse_blocks_for(KvCluster& kv, const KvRequest& next, const std::vector<std::vector<uint8_t>>& before) {
  kv.fill(next, 2);
  ASSERT_TRUE(kv.begin(next));
  KvRequestTasks tasks = kv.watch(next.id);
  for (uint32_t l = 0; l < kv.options().prefill.layers; ++l) ASSERT_TRUE(kv.layer_ready(next.id, l));
  ASSERT_TRUE(kv.run_until([&] { return tasks.done(); }));
  expect_completed(tasks);
  ASSERT_TRUE(kv.run_to_quiescence());
  EXPECT_TRUE(kv.holds(next, 2));
  EXPECT_TRUE(kv.unchanged_except(before, next.decode_blocks));
}

// The same decode blocks in another order, and other prefill blocks.
KvRequest reusing(const KvClusterOptions& o, const KvRequest& stopped, uint64_t id) {
  KvRequest next = kv_request(o, id, stopped.prefill_blocks.size(), stopped.prefill_blocks.size());
  next.decode_blocks.assign(stopped.decode_blocks.rbegin(), stopped.decode_blocks.rend());
  return next;
}

TEST_P(KvEarlyEnd, PrefillCancelsMidTransferAndTheBlocksServeTheNextRequest) {
  KvCluster kv(options(2, 4));
  const auto before = kv.snapshot();
  const KvRequest a = kv_request(kv.options(), 1, 0, 6);
  KvRequestTasks tasks = start(kv, a);
  for (uint32_t p = 0; p < kv.options().prefill.tp; ++p) ASSERT_TRUE(kv.sender(p).cancel(a.id).ok());
  await_decode_side(kv, tasks);
  reuse_blocks_for(kv, reusing(kv.options(), a, 2), before);
  ASSERT_TRUE(tasks.done());
  expect_ended_early(tasks);
  for (auto& t : tasks.senders) EXPECT_TRUE(t.result().cancelled);
}

TEST_P(KvEarlyEnd, DecodeCancelsMidTransferAndTheBlocksServeTheNextRequest) {
  KvCluster kv(options(4, 2));
  const auto before = kv.snapshot();
  const KvRequest a = kv_request(kv.options(), 1, 0, 6);
  KvRequestTasks tasks = start(kv, a);
  for (uint32_t d = 0; d < kv.options().decode.tp; ++d) ASSERT_TRUE(kv.receiver(d).cancel(a.id).ok());
  await_decode_side(kv, tasks);
  // The prefill side's compute learns it can stop.
  for (uint32_t p = 0; p < kv.options().prefill.tp; ++p) EXPECT_FALSE(kv.sender(p).layer_ready(a.id, 2).ok());
  reuse_blocks_for(kv, reusing(kv.options(), a, 2), before);
  ASSERT_TRUE(tasks.done());
  expect_ended_early(tasks);
  for (auto& t : tasks.senders) {
    EXPECT_TRUE(t.result().cancelled);
    EXPECT_NE(t.result().result.error().message.find("cancelled by decode rank"), std::string::npos) << t.result().result.error().message;
  }
}

// Every layer was handed over and its writes started before the cancel: there is
// nothing left to stop, and both sides agree that the request completed.
TEST_P(KvEarlyEnd, ACancelAfterTheLastWriteStartedCompletes) {
  KvCluster kv(options(2, 4));
  const KvRequest a = kv_request(kv.options(), 1, 0, 6);
  kv.fill(a, 1);
  ASSERT_TRUE(kv.begin(a));
  KvRequestTasks tasks = kv.watch(a.id);
  for (uint32_t l = 0; l < kv.options().prefill.layers; ++l) ASSERT_TRUE(kv.layer_ready(a.id, l));
  for (uint32_t p = 0; p < kv.options().prefill.tp; ++p) ASSERT_TRUE(kv.sender(p).cancel(a.id).ok());
  ASSERT_TRUE(kv.run_until([&] { return tasks.done(); }));
  expect_completed(tasks);
  EXPECT_TRUE(kv.holds(a, 1));
}

// Prefill TP 4 -> decode TP 2: prefill rank 0 alone stops. Decode rank 0, which also
// receives from prefill rank 1, stops it; decode rank 1 and its prefill ranks carry on.
TEST_P(KvEarlyEnd, ARankThatStopsStopsTheRanksSharingItsBlocks) {
  KvCluster kv(options(4, 2));
  const KvRequest a = kv_request(kv.options(), 1, 0, 6);
  KvRequestTasks tasks = start(kv, a);
  ASSERT_TRUE(kv.sender(0).cancel(a.id).ok());
  ASSERT_TRUE(kv.run_until([&] {
    return tasks.receivers[0].done() && tasks.senders[0].done() && tasks.senders[1].done();
  }));
  EXPECT_FALSE(tasks.receivers[0].result().result.ok());
  EXPECT_TRUE(tasks.receivers[0].result().blocks_reusable);
  const KvSendReport& stopped = tasks.senders[1].result();
  EXPECT_TRUE(stopped.cancelled);
  EXPECT_NE(stopped.result.error().message.find("'" + rank_name(kv.decode_node(0)) + "'"), std::string::npos)
      << stopped.result.error().message;
  for (uint32_t l = 2; l < kv.options().prefill.layers; ++l) {
    ASSERT_TRUE(kv.sender(2).layer_ready(a.id, l).ok());
    ASSERT_TRUE(kv.sender(3).layer_ready(a.id, l).ok());
  }
  ASSERT_TRUE(kv.run_until([&] { return tasks.done(); }));
  EXPECT_TRUE(tasks.receivers[1].result().result.ok()) << tasks.receivers[1].result().result.error().message;
  EXPECT_TRUE(kv.holds(a, 1, 0, /*only_rank=*/1));
}

// Decode group 0's rank 1 vanishes mid-transfer. The prefill rank that feeds it ends
// with an error naming it, within the engine's bounds; the rest of the request (decode
// rank 0) and a request to decode group 1 complete.
TEST_P(KvEarlyEnd, ALostDecodeRankFailsItsPrefillRankAndSparesTheRest) {
  KvClusterOptions o = options(2, 2);
  o.decode_groups = 2;
  KvCluster kv(o);
  const KvRequest r1 = kv_request(o, 1, 0, 5), r2 = kv_request(o, 2, 5, 5);
  kv.fill(r1, 1);
  kv.fill(r2, 2);
  ASSERT_TRUE(kv.begin(r1, 0));
  ASSERT_TRUE(kv.begin(r2, 1));
  KvRequestTasks t1 = kv.watch(r1.id, 0), t2 = kv.watch(r2.id, 1);
  ASSERT_TRUE(kv.layer_ready(r1.id, 0, 0));
  ASSERT_TRUE(kv.layer_ready(r2.id, 0, 1));
  Task<TransferResult> landed = kv.receiver(1, 0).layer(r1.id, 0);
  landed.start();
  ASSERT_TRUE(kv.run_until([&] { return landed.done(); }));

  const std::string lost = rank_name(kv.decode_node(1, 0));
  const uint64_t vanished_at = kv.fabric().now_ns();
  ferry::testing::vanish_node(kv.fabric(), static_cast<uint32_t>(kv.decode_node(1, 0)));
  for (uint32_t l = 1; l < o.prefill.layers; ++l) {
    ASSERT_TRUE(kv.sender(0, 0).layer_ready(r1.id, l).ok());
    (void)kv.sender(1, 0).layer_ready(r1.id, l);  // refused once it knows
    ASSERT_TRUE(kv.layer_ready(r2.id, l, 1));
  }
  ASSERT_TRUE(kv.run_until([&] { return t1.senders[1].done(); }));
  const KvSendReport& failed = t1.senders[1].result();
  EXPECT_FALSE(failed.result.ok());
  EXPECT_FALSE(failed.cancelled);
  EXPECT_TRUE(failed.result.error().code == ErrorCode::kUnavailable || failed.result.error().code == ErrorCode::kDeadlineExceeded)
      << to_string(failed.result.error().code);
  EXPECT_NE(failed.result.error().message.find("'" + lost + "'"), std::string::npos) << failed.result.error().message;
  if (deterministic()) {
    EXPECT_LE(kv.fabric().now_ns() - vanished_at, 2 * kDeadlineNs);
  }

  ASSERT_TRUE(kv.run_until([&] { return t1.senders[0].done() && t1.receivers[0].done() && t2.done(); }));
  EXPECT_TRUE(t1.senders[0].result().result.ok()) << t1.senders[0].result().result.error().message;
  EXPECT_TRUE(t1.receivers[0].result().result.ok()) << t1.receivers[0].result().result.error().message;
  EXPECT_TRUE(kv.holds(r1, 1, 0, /*only_rank=*/0));
  expect_completed(t2);
  EXPECT_TRUE(kv.holds(r2, 2, 1));
}

INSTANTIATE_TEST_SUITE_P(All, KvEarlyEnd,
                         ::testing::Combine(::testing::Values(fabrics::kEmuFast, fabrics::kEmu),
                                            ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd)),
                         [](const auto& info) { return provider_kind_name(std::get<0>(info.param), std::get<1>(info.param)); });

// A prefill rank vanishes mid-transfer. Virtual time only: the bounds are the engine's.
class KvLostPrefill : public ::testing::TestWithParam<EndpointKind> {};

struct LostPrefill {
  KvRequest request;
  KvRequestTasks tasks;
  uint64_t vanished_at = 0;
};

// Request 1 from two prefill ranks to two decode ranks; once its first layer landed on
// decode rank 1, prefill rank 1 (that rank's only source) vanishes and prefill rank 0
// hands over the other layers. Returns when decode rank 1's receiver has ended.
void lose_a_prefill_rank(KvCluster& kv, const KvClusterOptions& o, LostPrefill& lost) {
  lost.request = kv_request(o, 1, 0, 5);
  const KvRequest& r = lost.request;
  kv.fill(r, 1);
  ASSERT_TRUE(kv.begin(r));
  lost.tasks = kv.watch(r.id);
  ASSERT_TRUE(kv.layer_ready(r.id, 0));
  Task<TransferResult> landed = kv.receiver(1).layer(r.id, 0);
  landed.start();
  ASSERT_TRUE(kv.run_until([&] { return landed.done(); }));

  lost.vanished_at = kv.fabric().now_ns();
  ferry::testing::vanish_node(kv.fabric(), 1);
  for (uint32_t l = 1; l < o.prefill.layers; ++l) ASSERT_TRUE(kv.sender(0).layer_ready(r.id, l).ok());
  ASSERT_TRUE(kv.run_until([&] { return lost.tasks.receivers[1].done(); }));
}

// Prefill rank 0 and decode rank 0, untouched by the loss, complete the request.
void expect_the_surviving_half_completes(KvCluster& kv, LostPrefill& lost) {
  ASSERT_TRUE(kv.run_until([&] { return lost.tasks.receivers[0].done() && lost.tasks.senders[0].done(); }));
  EXPECT_TRUE(lost.tasks.receivers[0].result().result.ok()) << lost.tasks.receivers[0].result().result.error().message;
  EXPECT_TRUE(lost.tasks.senders[0].result().result.ok()) << lost.tasks.senders[0].result().result.error().message;
  EXPECT_TRUE(kv.holds(lost.request, 1, 0, /*only_rank=*/0));
}

// With the engine's probes: the decode rank's engine finds the rank dead, within a
// keepalive interval and the retries, and tears its connection down, so nothing of it
// can land any more and the blocks are reusable.
TEST_P(KvLostPrefill, TheDecodeSideEndsSoonAndReusesTheBlocksOnceThePeerIsDeclaredDead) {
  KvClusterOptions o = kv_options(2, 2, fabrics::kEmu, GetParam());
  o.engine.transfer_timeout_ns = kDeadlineNs;
  o.engine.keepalive_interval_ns = kDeadlineNs / 10;
  KvCluster kv(o);
  LostPrefill lost;
  ASSERT_NO_FATAL_FAILURE(lose_a_prefill_rank(kv, o, lost));
  EXPECT_LE(kv.fabric().now_ns() - lost.vanished_at, kDeadlineNs / 5);
  const KvReceiveReport& ended = lost.tasks.receivers[1].result();
  EXPECT_FALSE(ended.result.ok());
  EXPECT_EQ(ended.result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(ended.result.error().message.find("peer 'rank1' declared dead"), std::string::npos)
      << ended.result.error().message;
  EXPECT_TRUE(ended.blocks_reusable);

  expect_the_surviving_half_completes(kv, lost);
}

// Without probes the decode rank cannot learn that the rank's writes settled, so after a
// deadline without a layer it stops the request, and after one more it ends it,
// refusing to call the blocks reusable.
TEST_P(KvLostPrefill, WithoutProbesTheDecodeSideEndsInBoundedTimeWithoutReusingTheBlocks) {
  KvClusterOptions o = kv_options(2, 2, fabrics::kEmu, GetParam());
  o.engine.transfer_timeout_ns = kDeadlineNs;
  o.engine.keepalive_interval_ns = 0;
  KvCluster kv(o);
  LostPrefill lost;
  ASSERT_NO_FATAL_FAILURE(lose_a_prefill_rank(kv, o, lost));
  EXPECT_LE(kv.fabric().now_ns() - lost.vanished_at, 2 * kDeadlineNs + kDeadlineNs / 10);
  const KvReceiveReport& stuck = lost.tasks.receivers[1].result();
  EXPECT_FALSE(stuck.result.ok());
  EXPECT_EQ(stuck.result.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_NE(stuck.result.error().message.find("'rank1'"), std::string::npos) << stuck.result.error().message;
  EXPECT_FALSE(stuck.blocks_reusable);

  expect_the_surviving_half_completes(kv, lost);
}

INSTANTIATE_TEST_SUITE_P(Kinds, KvLostPrefill, ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace ferry::testing
