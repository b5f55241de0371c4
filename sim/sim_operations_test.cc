// The simulation's own transport: loss recovered by go-back-N (RC) or selective resends
// (SRD), a lost tail resent after the retransmission timeout, a leaf-spine topology.
// What each operation moves and reports is the conformance suite's
// (transport/conformance/).
#include "sim/test_util.h"

namespace ferry::sim::test {
namespace {

class Operations : public ::testing::TestWithParam<Transport> {
 protected:
  SimulationConfig config() const { return sim_config(GetParam()); }
  bool rc() const { return GetParam() == Transport::kRoceRc; }
};

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
