// Virtual time moves only when driven; a seed fixes every completion bit for bit; a
// different seed sprays SRD packets differently, so messages land in another order.
#include <algorithm>

#include "sim/test_util.h"

namespace ferry::sim::test {
namespace {

// Two leaves, two spines, 2:1 oversubscribed, loss on every access link: ECMP, spraying,
// queueing and retransmission all draw on the seeded streams.
SimulationConfig busy_fabric(Transport transport, uint32_t seed) {
  SimulationConfig c = sim_config(transport, 4, seed);
  c.topology = Topology::kLeafSpine;
  c.hosts_per_leaf = 2;
  c.spines = 2;
  c.oversubscription = 2;
  c.access_link.loss = 0.002;
  c.record_trace = true;
  return c;
}

struct Outcome {
  uint64_t hash = 0;
  std::vector<TraceRecord> trace;
  std::vector<uint32_t> arrival_order;  // immediates, in the order they landed
};

// 64 write-with-imm of 2 packets each from host 0 to host 2 and 16 sends back, every
// byte checked.
Outcome run_workload(Transport transport, uint32_t seed) {
  World w(busy_fabric(transport, seed));
  Pair out = w.pair(0, 2);
  Pair back = w.pair(3, 1);
  constexpr size_t kImms = 64, kSends = 16, kSlot = 2 * 4096;
  Buffer& src = w.source(0, kImms * kSlot);
  Buffer& dst = w.buffer(2, kImms * kSlot);
  Buffer& src3 = w.source(3, kSends * kSlot);
  Buffer& recv1 = w.buffer(1, kSends * kSlot);
  std::vector<Op> imms, sends;
  for (size_t i = 0; i < kImms; ++i) {
    EXPECT_TRUE(is_ok(post_recv(out.b, 1000 + i, {})));
    imms.push_back(write_imm_op(i, {src.sge(i * kSlot, kSlot)}, dst, i * kSlot, static_cast<uint32_t>(i)));
  }
  for (size_t i = 0; i < kSends; ++i) {
    EXPECT_TRUE(is_ok(post_recv(back.b, 2000 + i, {recv1.sge(i * kSlot, kSlot)})));
    sends.push_back(send_op(i, {src3.sge(i * kSlot, kSlot - 100 * i)}));
  }
  EXPECT_TRUE(is_ok(post(out.a, imms)));
  EXPECT_TRUE(is_ok(post(back.a, sends)));
  EXPECT_EQ(w.wait_send(out.a, kImms).size(), kImms);
  EXPECT_EQ(w.wait_send(back.a, kSends).size(), kSends);
  Outcome run;
  for (const Completion& c : w.wait_recv(out.b, kImms)) run.arrival_order.push_back(c.imm);
  EXPECT_TRUE(dst.holds(0, src, 0, kImms * kSlot));
  for (const Completion& c : w.wait_recv(back.b, kSends)) {
    // On SRD recvs are taken in arrival order: the length tells which send landed.
    const size_t slot = c.cookie - 2000, send = (kSlot - c.byte_len) / 100;
    EXPECT_TRUE(recv1.holds(slot * kSlot, src3, send * kSlot, c.byte_len));
  }
  w.settle();
  run.hash = w.sim().trace_hash();
  run.trace = w.sim().trace();
  return run;
}

class Determinism : public ::testing::TestWithParam<Transport> {};

TEST_P(Determinism, TheSameSeedGivesTheSameTraceBitForBit) {
  const Outcome first = run_workload(GetParam(), 7);
  const Outcome second = run_workload(GetParam(), 7);
  EXPECT_EQ(first.hash, second.hash);
  ASSERT_EQ(first.trace.size(), second.trace.size());
  for (size_t i = 0; i < first.trace.size(); ++i) {
    EXPECT_EQ(first.trace[i].time_ns, second.trace[i].time_ns) << "record " << i;
    EXPECT_EQ(first.trace[i].cookie, second.trace[i].cookie) << "record " << i;
  }
  EXPECT_EQ(first.arrival_order, second.arrival_order);
}

TEST_P(Determinism, ADifferentSeedGivesADifferentRun) {
  const Outcome first = run_workload(GetParam(), 7);
  const Outcome other = run_workload(GetParam(), 8);
  EXPECT_NE(first.hash, other.hash);
}

INSTANTIATE_TEST_SUITE_P(Transports, Determinism,
                         ::testing::Values(Transport::kRoceRc, Transport::kSrd), transport_param_name);

TEST(Srd, ADifferentSeedLandsMessagesInADifferentOrder) {
  const Outcome first = run_workload(Transport::kSrd, 1);
  const Outcome other = run_workload(Transport::kSrd, 2);
  ASSERT_EQ(first.arrival_order.size(), 64u);
  EXPECT_NE(first.arrival_order, other.arrival_order);
  // Reordered, and still every message exactly once.
  EXPECT_FALSE(std::is_sorted(first.arrival_order.begin(), first.arrival_order.end()));
  std::vector<uint32_t> a = first.arrival_order, b = other.arrival_order;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  EXPECT_EQ(std::adjacent_find(a.begin(), a.end()), a.end());
}

TEST(Rc, MessagesLandInPostingOrderWhateverTheSeed) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const Outcome run = run_workload(Transport::kRoceRc, seed);
    EXPECT_TRUE(std::is_sorted(run.arrival_order.begin(), run.arrival_order.end())) << seed;
  }
}

TEST(VirtualTime, NothingMovesBetweenCallsAndTheClockNeverGoesBack) {
  World w(sim_config(Transport::kRoceRc));
  Pair p = w.pair();
  Buffer& src = w.source(0, 1 << 20);
  Buffer& dst = w.buffer(1, 1 << 20);
  EXPECT_FALSE(w.sim().host(0).progress()) << "a new simulation is idle";
  EXPECT_EQ(w.sim().now_ns(), 0u);
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 1 << 20)}, dst, 0)})));
  Completion c;
  EXPECT_EQ(*p.a.send_cq->poll({&c, 1}), 0u);
  EXPECT_EQ(w.sim().now_ns(), 0u);
  uint64_t last = 0;
  size_t steps = 0;
  while (w.sim().host(1).progress()) {
    EXPECT_GE(w.sim().now_ns(), last);
    last = w.sim().now_ns();
    ++steps;
  }
  EXPECT_GT(steps, 256u);  // at least one instant per packet
  EXPECT_EQ(*p.a.send_cq->poll({&c, 1}), 1u);
  EXPECT_EQ(&w.sim().host(0).clock(), &w.sim().host(1).clock());
  EXPECT_EQ(w.sim().host(0).clock().now_ns(), w.sim().now_ns());
  // run_until moves the clock even with nothing to do.
  w.sim().run_until(last + 12345);
  EXPECT_EQ(w.sim().now_ns(), last + 12345);
}

}  // namespace
}  // namespace ferry::sim::test
