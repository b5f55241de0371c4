// Congestion control and PFC, and the two scenarios that validate them:
//  - 2:1 incast under DCQCN: the two flows share the congested port fairly, and the
//    queue stays short, with nothing dropped;
//  - PFC head-of-line blocking: a victim flow that shares a sender with an incast flow,
//    but not its congested port, is paused with it; DCQCN keeps the queue below XOFF and
//    gives the victim its fair share back.
#include <cmath>
#include <memory>

#include "sim/dcqcn.h"
#include "sim/test_util.h"

namespace ferry::sim::test {
namespace {

constexpr uint32_t kMiB = 1 << 20;

// A stream of `writes` writes of `chunk` bytes from one host to another, on its own
// endpoints.
class Flow {
 public:
  Flow(World& w, uint32_t from, uint32_t to, uint32_t writes, uint32_t chunk)
      : pair_(w.pair(endpoint_config(w.kind()), from, to)),
        src_(w.pd(from), uint64_t{writes} * chunk, from + 1),
        dst_(w.pd(to), uint64_t{writes} * chunk, 100 + to),
        writes_(writes),
        chunk_(chunk) {}

  void start() {
    std::vector<Op> ops;
    for (uint32_t i = 0; i < writes_; ++i) {
      Op op = make_op(Opcode::kWrite, i, {src_.sge(uint64_t{i} * chunk_, chunk_)});
      op.wr.remote_addr = dst_.addr() + uint64_t{i} * chunk_;
      op.wr.rkey = dst_.region->rkey();
      ops.push_back(op);
    }
    EXPECT_TRUE(is_ok(post(pair_.a, ops)));
  }

  // Takes what completed; remembers when the last write did.
  void poll(uint64_t now_ns) {
    Completion batch[64];
    while (true) {
      auto n = pair_.a.send_cq->poll(batch);
      ASSERT_TRUE(n.ok()) << n.error().to_string();
      if (*n == 0) break;
      for (size_t i = 0; i < *n; ++i) EXPECT_EQ(batch[i].status, Status::kSuccess);
      done_ += static_cast<uint32_t>(*n);
    }
    if (finished() && finished_ns_ == 0) finished_ns_ = now_ns;
  }

  bool finished() const { return done_ == writes_; }
  uint64_t bytes_done() const { return uint64_t{done_} * chunk_; }
  uint64_t finished_ns() const { return finished_ns_; }
  bool landed() const { return src_.same_as(dst_); }

 private:
  Pair pair_;
  BulkBuffer src_;
  BulkBuffer dst_;
  uint32_t writes_;
  uint32_t chunk_;
  uint32_t done_ = 0;
  uint64_t finished_ns_ = 0;
};

void poll_all(World& w, std::vector<std::unique_ptr<Flow>>& flows) {
  for (auto& flow : flows) flow->poll(w.sim().now_ns());
}

// Runs until every flow finished (bounded by virtual time).
void run_to_end(World& w, std::vector<std::unique_ptr<Flow>>& flows) {
  const uint64_t limit = w.sim().now_ns() + kWaitLimitNs;
  auto all_done = [&] {
    for (auto& flow : flows) {
      if (!flow->finished()) return false;
    }
    return true;
  };
  while (!all_done() && w.sim().run_until_completion(limit)) poll_all(w, flows);
  poll_all(w, flows);
  EXPECT_TRUE(all_done());
}

SimulationConfig with(bool congestion, bool pfc, uint32_t hosts) {
  SimulationConfig c = sim_config(Transport::kRoceRc, hosts);
  c.congestion.enabled = congestion;
  c.pfc.enabled = pfc;
  return c;
}

double jain(double a, double b) { return (a + b) * (a + b) / (2 * (a * a + b * b)); }

TEST(DcqcnRate, CutsByHalfAlphaAndRecoversInStages) {
  CongestionConfig c;
  c.enabled = true;
  DcqcnRate rate(c, 400);
  EXPECT_FALSE(rate.recovering());
  rate.on_cnp(1'000);  // alpha starts at 1: the rate halves
  EXPECT_DOUBLE_EQ(rate.gbps(), 200);
  EXPECT_TRUE(rate.recovering());
  // Fast recovery: halfway back to the target (400) per event, for F events.
  rate.on_timer();
  EXPECT_DOUBLE_EQ(rate.gbps(), 300);
  for (uint32_t i = 1; i < c.fast_recovery_steps; ++i) rate.on_timer();
  const double recovered = rate.gbps();
  EXPECT_NEAR(recovered, 400 - 200.0 / 32, 1e-9);
  // A period without a CNP lowers alpha; the next cut is smaller than half.
  rate.on_cnp(1'000 + 3 * c.alpha_timer_ns);
  EXPECT_GT(rate.gbps(), recovered / 2);
  EXPECT_LT(rate.alpha(), 1.0);
  // Sent bytes count too: the byte counter makes increase events on its own.
  const double before = rate.gbps();
  rate.on_sent(c.byte_counter_bytes);
  EXPECT_GT(rate.gbps(), before);
}

TEST(Congestion, SwitchesMarkAndReceiversNotifyOnlyWhenEnabled) {
  for (bool enabled : {false, true}) {
    World w(with(enabled, false, 3));
    std::vector<std::unique_ptr<Flow>> flows;
    flows.push_back(std::make_unique<Flow>(w, 1, 0, 8, kMiB));
    flows.push_back(std::make_unique<Flow>(w, 2, 0, 8, kMiB));
    for (auto& flow : flows) flow->start();
    run_to_end(w, flows);
    for (auto& flow : flows) EXPECT_TRUE(flow->landed());
    const SimulationCounters counters = w.sim().counters();
    EXPECT_EQ(counters.ecn_marked > 0, enabled);
    EXPECT_EQ(counters.cnps_sent > 0, enabled);
  }
}

// Validation: two senders into one 400 Gb/s port, 256 MiB each in 1 MiB writes. Between
// a quarter and three quarters of the ideal time, both flows moved about as much
// (Jain's index) and the port ran near its rate; the queue stayed short and nothing was
// dropped.
TEST(Congestion, DcqcnSharesATwoToOneIncastFairly) {
  World w(with(true, false, 3));
  std::vector<std::unique_ptr<Flow>> flows;
  flows.push_back(std::make_unique<Flow>(w, 1, 0, 256, kMiB));
  flows.push_back(std::make_unique<Flow>(w, 2, 0, 256, kMiB));
  for (auto& flow : flows) flow->start();
  const double payload_gbps = 400.0 * 4096 / (4096 + 62);
  const auto ideal = static_cast<uint64_t>(2.0 * 256 * kMiB * 8 / payload_gbps);
  w.sim().run_until(ideal / 4);
  poll_all(w, flows);
  const double a0 = static_cast<double>(flows[0]->bytes_done());
  const double b0 = static_cast<double>(flows[1]->bytes_done());
  w.sim().run_until(3 * ideal / 4);
  poll_all(w, flows);
  const double a = static_cast<double>(flows[0]->bytes_done()) - a0;
  const double b = static_cast<double>(flows[1]->bytes_done()) - b0;
  const double utilisation = (a + b) * 8 / static_cast<double>(ideal / 2) / payload_gbps;
  const SimulationCounters counters = w.sim().counters();
  RecordProperty("jain", std::to_string(jain(a, b)));
  RecordProperty("utilisation", std::to_string(utilisation));
  RecordProperty("max_queue_bytes", std::to_string(counters.max_switch_queue_bytes));
  EXPECT_GT(jain(a, b), 0.99) << a << " vs " << b << " bytes";
  EXPECT_GT(utilisation, 0.9);
  EXPECT_LT(counters.max_switch_queue_bytes, 1u << 20);
  EXPECT_EQ(counters.packets_dropped, 0u);
  EXPECT_GT(counters.cnps_sent, 0u);
  run_to_end(w, flows);
  for (auto& flow : flows) EXPECT_TRUE(flow->landed());
}

TEST(Pfc, KeepsAFourToOneIncastLossless) {
  World w(with(false, true, 5));
  std::vector<std::unique_ptr<Flow>> flows;
  for (uint32_t h = 1; h <= 4; ++h) flows.push_back(std::make_unique<Flow>(w, h, 0, 16, kMiB));
  for (auto& flow : flows) flow->start();
  run_to_end(w, flows);
  for (auto& flow : flows) EXPECT_TRUE(flow->landed());
  const SimulationCounters counters = w.sim().counters();
  EXPECT_EQ(counters.packets_dropped, 0u);
  EXPECT_EQ(counters.retransmitted_packets, 0u);
  EXPECT_GT(counters.pfc_pauses, 0u);
}

// Validation: two leaves under one spine; hosts 0 and 1 on leaf 0, hosts 2 and 3 on
// leaf 1. Host 1 and host 2 write to host 0 (a 2:1 incast at leaf 0's port to host 0);
// host 3 writes to host 1 (the victim), whose port is idle, over the same spine-to-leaf
// link as host 2's incast flow. With PFC alone, leaf 0 pauses that link for the incast,
// and the victim stalls with it; the pauses spread up to host 3. With DCQCN as well, the
// incast flows slow down before the queue reaches XOFF. Returns the victim's rate.
double victim_gbps(bool congestion) {
  SimulationConfig c = with(congestion, true, 4);
  c.topology = Topology::kLeafSpine;
  c.hosts_per_leaf = 2;
  c.spines = 1;
  World w(c);
  std::vector<std::unique_ptr<Flow>> flows;
  flows.push_back(std::make_unique<Flow>(w, 3, 1, 64, kMiB));  // the victim
  flows.push_back(std::make_unique<Flow>(w, 1, 0, 192, kMiB));
  flows.push_back(std::make_unique<Flow>(w, 2, 0, 192, kMiB));
  for (auto& flow : flows) flow->start();
  const uint64_t limit = w.sim().now_ns() + kWaitLimitNs;
  while (!flows[0]->finished() && w.sim().run_until_completion(limit)) poll_all(w, flows);
  EXPECT_TRUE(flows[0]->finished());
  EXPECT_FALSE(flows[1]->finished()) << "the incast must last as long as the victim";
  EXPECT_EQ(w.sim().counters().packets_dropped, 0u);
  const double gbps = 64.0 * kMiB * 8 / static_cast<double>(flows[0]->finished_ns());
  run_to_end(w, flows);
  for (auto& flow : flows) EXPECT_TRUE(flow->landed());
  return gbps;
}

TEST(Pfc, HeadOfLineBlockingSlowsAVictimFlowAndDcqcnRelievesIt) {
  const double fair_gbps = 400.0 * 4096 / (4096 + 62);  // nothing else on its ports
  const double blocked = victim_gbps(false);
  const double relieved = victim_gbps(true);
  RecordProperty("victim_gbps_pfc", std::to_string(blocked));
  RecordProperty("victim_gbps_pfc_dcqcn", std::to_string(relieved));
  EXPECT_LT(blocked, 0.75 * fair_gbps);
  EXPECT_GT(relieved, 0.85 * fair_gbps);
}

}  // namespace
}  // namespace ferry::sim::test
