// What each operation moves and reports, on RC and on SRD, bytes verified against
// canaries: write, write-with-imm, read, send/recv, scatter-gather lists, zero-length
// and odd sizes, unsignaled requests, many requests in flight, ordering, loss.
#include <set>

#include "sim/test_util.h"

namespace ferry::sim::test {
namespace {

class Operations : public ::testing::TestWithParam<Transport> {
 protected:
  SimulationConfig config() const { return sim_config(GetParam()); }
  bool rc() const { return GetParam() == Transport::kRoceRc; }
};

TEST_P(Operations, WriteLandsExactlyInTheTargetRange) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 1 << 20);
  Buffer& dst = w.buffer(1, (1 << 20) + 8192);
  ASSERT_TRUE(is_ok(post(p.a, {write_op(7, {src.sge(0, 1 << 20)}, dst, 4096)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(is_completion(done[0], p.a, 7, CompletionKind::kWrite));
  EXPECT_TRUE(dst.holds(4096, src, 0, 1 << 20));
  EXPECT_TRUE(dst.untouched_outside({{4096, 1 << 20}}));
  EXPECT_TRUE(w.no_completions(p.b));  // a plain write is invisible to the target
}

TEST_P(Operations, OddSizesSplitIntoPacketsCorrectly) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 3 * 4096 + 1);
  Buffer& dst = w.buffer(1, 3 * 4096 + 1);
  const uint32_t sizes[] = {1, 4095, 4096, 4097, 3 * 4096 + 1};
  for (uint32_t size : sizes) {
    ASSERT_TRUE(is_ok(post(p.a, {write_op(size, {src.sge(0, size)}, dst, 0)})));
    auto done = w.wait_send(p.a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].status, Status::kSuccess) << size;
    EXPECT_TRUE(dst.holds(0, src, 0, size)) << size;
  }
  EXPECT_TRUE(dst.untouched_outside({{0, 3 * 4096 + 1}}));
}

TEST_P(Operations, WriteWithImmConsumesOneRecvAndCarriesTheImmediate) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 100'000);
  Buffer& dst = w.buffer(1, 100'000);
  Buffer& ignored = w.buffer(1, 4096);
  ASSERT_TRUE(is_ok(post_recv(p.b, 55, {ignored.sge(0, 4096)})));
  ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(8, {src.sge(0, 100'000)}, dst, 0, 0xabcdef)})));
  auto sent = w.wait_send(p.a);
  auto landed = w.wait_recv(p.b);
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(landed.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 8, CompletionKind::kWrite));
  EXPECT_TRUE(is_completion(landed[0], p.b, 55, CompletionKind::kRecvWriteWithImm));
  EXPECT_TRUE(landed[0].has_imm);
  EXPECT_EQ(landed[0].imm, 0xabcdefu);
  EXPECT_EQ(landed[0].byte_len, 100'000u);
  EXPECT_TRUE(dst.holds(0, src, 0, 100'000));
  EXPECT_TRUE(ignored.untouched()) << "the recv's list is ignored by write-with-imm";
}

TEST_P(Operations, ZeroLengthWriteWithImmDeliversOnlyTheImmediate) {
  World w(config());
  Pair p = w.pair();
  Buffer& dst = w.buffer(1, 4096);
  ASSERT_TRUE(is_ok(post_recv(p.b, 1, {})));
  ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(2, {}, dst, 0, 99)})));
  auto landed = w.wait_recv(p.b);
  ASSERT_EQ(landed.size(), 1u);
  EXPECT_TRUE(is_completion(landed[0], p.b, 1, CompletionKind::kRecvWriteWithImm));
  EXPECT_EQ(landed[0].imm, 99u);
  EXPECT_EQ(landed[0].byte_len, 0u);
  EXPECT_EQ(w.wait_send(p.a).size(), 1u);
  EXPECT_TRUE(dst.untouched());
}

TEST_P(Operations, ReadFetchesTheRemoteRange) {
  World w(config());
  Pair p = w.pair();
  Buffer& remote = w.source(1, 300'000);
  Buffer& local = w.buffer(0, 300'000);
  ASSERT_TRUE(is_ok(post(p.a, {read_op(3, {local.sge(0, 200'000)}, remote, 50'000)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(is_completion(done[0], p.a, 3, CompletionKind::kRead));
  EXPECT_TRUE(local.holds(0, remote, 50'000, 200'000));
  EXPECT_TRUE(local.untouched_outside({{0, 200'000}}));
  EXPECT_TRUE(w.no_completions(p.b));  // the target sees nothing
}

TEST_P(Operations, SendScattersAcrossTheRecvList) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 20'000);
  Buffer& dst = w.buffer(1, 30'000);
  // Source in two pieces, recv in three, none aligned with each other or the MTU.
  ASSERT_TRUE(is_ok(post_recv(p.b, 40, {dst.sge(0, 5000), dst.sge(10'000, 9000), dst.sge(25'000, 5000)})));
  ASSERT_TRUE(is_ok(post(p.a, {send_op(4, {src.sge(0, 7000), src.sge(9000, 10'000)})})));
  auto landed = w.wait_recv(p.b);
  ASSERT_EQ(landed.size(), 1u);
  EXPECT_TRUE(is_completion(landed[0], p.b, 40, CompletionKind::kRecv));
  EXPECT_EQ(landed[0].byte_len, 17'000u);
  EXPECT_FALSE(landed[0].has_imm);
  // The message is src[0, 7000) then src[9000, 19000), laid over the recv's pieces.
  EXPECT_TRUE(dst.holds(0, src, 0, 5000));
  EXPECT_TRUE(dst.holds(10'000, src, 5000, 2000));
  EXPECT_TRUE(dst.holds(12'000, src, 9000, 7000));
  EXPECT_TRUE(dst.holds(25'000, src, 16'000, 3000));
  EXPECT_TRUE(dst.untouched_outside({{0, 5000}, {10'000, 9000}, {25'000, 3000}}));
  auto sent = w.wait_send(p.a);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 4, CompletionKind::kSend));
}

TEST_P(Operations, ScatterGatherWriteAndRead) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 64 * 1024);
  Buffer& dst = w.buffer(1, 64 * 1024);
  Buffer& back = w.buffer(0, 64 * 1024);
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(100, 3000), src.sge(20'000, 10'000), src.sge(50'000, 1)}, dst, 7)})));
  ASSERT_EQ(w.wait_send(p.a).size(), 1u);
  EXPECT_TRUE(dst.holds(7, src, 100, 3000));
  EXPECT_TRUE(dst.holds(3007, src, 20'000, 10'000));
  EXPECT_TRUE(dst.holds(13'007, src, 50'000, 1));
  ASSERT_TRUE(is_ok(post(p.a, {read_op(2, {back.sge(0, 6000), back.sge(30'000, 7008)}, dst, 0)})));
  ASSERT_EQ(w.wait_send(p.a).size(), 1u);
  EXPECT_TRUE(back.untouched_outside({{0, 6000}, {30'000, 7008}}));
  EXPECT_EQ(back.data()[7], src.source_byte(100));
  EXPECT_EQ(back.data()[30'000 + 7008 - 1], src.source_byte(50'000));
}

TEST_P(Operations, UnsignaledSuccessesReportNothing) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 8192);
  Buffer& dst = w.buffer(1, 8192);
  Op quiet = write_op(1, {src.sge(0, 4096)}, dst, 0);
  quiet.wr.signaled = false;
  ASSERT_TRUE(is_ok(post(p.a, {quiet, write_op(2, {src.sge(4096, 4096)}, dst, 4096)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].cookie, 2u);
  EXPECT_TRUE(w.no_completions(p.a));
  EXPECT_TRUE(dst.holds(0, src, 0, 8192));
}

// The send queue filled to the brim, drained, and filled again, several times: the
// requester must start each new round at its first request, never at a ring slot that
// an older request left behind.
TEST_P(Operations, AFullSendQueueRefilledAgainAndAgainDeliversEveryRound) {
  World w(config());
  EndpointConfig ec = endpoint_config(rc() ? EndpointKind::kRc : EndpointKind::kSrd);
  ec.max_send_wr = 8;
  Pair p = w.pair(ec);
  constexpr uint32_t kDepth = 8, kRounds = 5, kSize = 3 * 4096 + 7;
  Buffer& src = w.source(0, kRounds * kDepth * kSize);
  Buffer& dst = w.buffer(1, kRounds * kDepth * kSize);
  for (uint32_t round = 0; round < kRounds; ++round) {
    std::vector<Op> writes;
    for (uint32_t i = 0; i < kDepth; ++i) {
      const uint64_t at = (uint64_t{round} * kDepth + i) * kSize;
      writes.push_back(write_op(round * kDepth + i, {src.sge(at, kSize)}, dst, at));
    }
    ASSERT_TRUE(is_ok(post(p.a, writes))) << "round " << round;
    auto done = w.wait_send(p.a, kDepth);
    ASSERT_EQ(done.size(), kDepth) << "round " << round;
    for (const Completion& c : done) EXPECT_EQ(c.status, Status::kSuccess) << "round " << round;
  }
  EXPECT_TRUE(dst.holds(0, src, 0, uint64_t{kRounds} * kDepth * kSize));
}

TEST_P(Operations, ManyMixedRequestsInFlightAllLand) {
  World w(config());
  Pair p = w.pair();
  constexpr size_t kOps = 240, kSlot = 9000;  // within max_send_wr (256)
  Buffer& src = w.source(0, kOps * kSlot);
  Buffer& dst = w.buffer(1, kOps * kSlot);
  Buffer& remote = w.source(1, kOps * kSlot);
  Buffer& back = w.buffer(0, kOps * kSlot);
  std::vector<Op> ops;
  size_t imms = 0;
  for (size_t i = 0; i < kOps; ++i) {
    const uint32_t size = static_cast<uint32_t>(1 + (i * 997) % kSlot);
    switch (i % 3) {
      case 0: ops.push_back(write_op(i, {src.sge(i * kSlot, size)}, dst, i * kSlot)); break;
      case 1:
        ops.push_back(write_imm_op(i, {src.sge(i * kSlot, size)}, dst, i * kSlot, static_cast<uint32_t>(i)));
        ASSERT_TRUE(is_ok(post_recv(p.b, 1000 + i, {})));
        ++imms;
        break;
      case 2: ops.push_back(read_op(i, {back.sge(i * kSlot, size)}, remote, i * kSlot)); break;
    }
  }
  ASSERT_TRUE(is_ok(post(p.a, ops)));
  auto done = w.wait_send(p.a, kOps);
  auto landed = w.wait_recv(p.b, imms);
  ASSERT_EQ(done.size(), kOps);
  std::set<uint64_t> cookies;
  for (const Completion& c : done) {
    EXPECT_EQ(c.status, Status::kSuccess);
    cookies.insert(c.cookie);
  }
  EXPECT_EQ(cookies.size(), kOps);
  for (size_t i = 0; i < kOps; ++i) {
    const uint32_t size = static_cast<uint32_t>(1 + (i * 997) % kSlot);
    if (i % 3 == 2) {
      EXPECT_TRUE(back.holds(i * kSlot, remote, i * kSlot, size)) << i;
    } else {
      EXPECT_TRUE(dst.holds(i * kSlot, src, i * kSlot, size)) << i;
    }
  }
  if (rc()) {
    // RC: posting order at the initiator, and at the target.
    for (size_t i = 0; i < kOps; ++i) EXPECT_EQ(done[i].cookie, i);
    for (size_t i = 0; i < landed.size(); ++i) EXPECT_EQ(landed[i].imm, 1 + 3 * i);
  }
}

TEST_P(Operations, LossIsRecoveredAndEveryByteLands) {
  SimulationConfig c = config();
  c.access_link.loss = 0.01;
  World w(c);
  Pair p = w.pair();
  constexpr uint32_t kBytes = 4 << 20;
  Buffer& src = w.source(0, kBytes);
  Buffer& dst = w.buffer(1, kBytes);
  ASSERT_TRUE(is_ok(post_recv(p.b, 1, {})));
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, kBytes / 2)}, dst, 0),
                               write_imm_op(2, {src.sge(kBytes / 2, kBytes / 2)}, dst, kBytes / 2, 5)})));
  auto done = w.wait_send(p.a, 2);
  ASSERT_EQ(done.size(), 2u);
  for (const Completion& completion : done) EXPECT_EQ(completion.status, Status::kSuccess);
  ASSERT_EQ(w.wait_recv(p.b).size(), 1u);
  EXPECT_TRUE(dst.holds(0, src, 0, kBytes));
  const SimulationCounters counters = w.sim().counters();
  EXPECT_GT(counters.packets_lost, 0u);
  EXPECT_GT(counters.retransmitted_packets, 0u);
  if (rc()) {
    EXPECT_GT(counters.naks_sent, 0u) << "gaps are reported by NAKs (go-back-N)";
  }
}

TEST_P(Operations, ALostTailIsSentAgainAfterTheRetransmissionTimeout) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  // The only packet is lost: nothing after it can reveal the gap, only the timer.
  w.sim().set_link_up(LinkId::access(0, 0), false);
  w.sim().at(1'000, [&] { w.sim().set_link_up(LinkId::access(0, 0), true); });
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 4096)}, dst, 0)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(is_completion(done[0], p.a, 1, CompletionKind::kWrite));
  EXPECT_TRUE(dst.holds(0, src, 0, 4096));
  EXPECT_EQ(w.sim().counters().timeouts, 1u);
  EXPECT_EQ(w.sim().counters().naks_sent, 0u);
  // One timeout (no round trip measured yet: the endpoint's retry_timeout_ns), then one
  // round trip.
  EXPECT_GE(w.sim().now_ns(), endpoint_config(w.kind()).retry_timeout_ns);
  EXPECT_LT(w.sim().now_ns(), endpoint_config(w.kind()).retry_timeout_ns + 10'000);
}

TEST_P(Operations, LeafSpineCarriesTrafficBetweenLeaves) {
  SimulationConfig c = config();
  c.hosts = 4;
  c.topology = Topology::kLeafSpine;
  c.hosts_per_leaf = 2;
  c.spines = 2;
  c.oversubscription = 2;
  World w(c);
  EXPECT_DOUBLE_EQ(w.sim().link_gbps(LinkId::fabric(0, 1)), 2 * 400.0 / (2 * 2));
  Pair p = w.pair(0, 3);
  Buffer& src = w.source(0, 1 << 20);
  Buffer& dst = w.buffer(3, 1 << 20);
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 1 << 20)}, dst, 0)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status, Status::kSuccess);
  EXPECT_TRUE(dst.holds(0, src, 0, 1 << 20));
}

INSTANTIATE_TEST_SUITE_P(Transports, Operations,
                         ::testing::Values(Transport::kRoceRc, Transport::kSrd), transport_param_name);

}  // namespace
}  // namespace ferry::sim::test
