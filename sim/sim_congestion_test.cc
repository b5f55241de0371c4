// Congestion control and PFC, and the two scenarios that validate them:
//  - 2:1 incast at 40 Gb/s under DCQCN and PFC: each flow gets half the congested port,
//    and PFC pauses nobody for long (without DCQCN it does: the check can fail);
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

// The defaults are the paper's (docs/simulation.md gives the source of each); the
// scenario format reads the same struct, so changing one here changes both.
TEST(DcqcnRate, DefaultsAreThePapers) {
  const CongestionConfig c;
  EXPECT_EQ(c.kmin_bytes, 5'000u);
  EXPECT_EQ(c.kmax_bytes, 200'000u);
  EXPECT_DOUBLE_EQ(c.pmax, 0.01);
  EXPECT_EQ(c.cnp_interval_ns, 50'000u);
  EXPECT_DOUBLE_EQ(c.g, 1.0 / 256);
  EXPECT_EQ(c.alpha_timer_ns, 55'000u);
  EXPECT_EQ(c.rate_increase_timer_ns, 55'000u);
  EXPECT_EQ(c.byte_counter_bytes, 10'000'000u);
  EXPECT_EQ(c.fast_recovery_steps, 5u);
  EXPECT_DOUBLE_EQ(c.additive_increase_gbps, 0.04);
  EXPECT_DOUBLE_EQ(c.hyper_increase_gbps, 0.4);
}

// From the F-th increase event on (max(T, BC) >= F), each timer event raises the target
// by R_AI (40 Mb/s) and moves the rate halfway to it.
TEST(DcqcnRate, AdditiveIncreaseRaisesTheTargetByRai) {
  CongestionConfig c;
  c.enabled = true;
  DcqcnRate rate(c, 40);
  rate.on_cnp(1'000);  // alpha 1: target 40, rate 20
  for (uint32_t i = 0; i < c.fast_recovery_steps; ++i) rate.on_timer();
  // A second cut in the same alpha period (alpha still 1) leaves the target below the
  // line, where the additive steps show.
  double target = rate.gbps();
  double current = target / 2;
  rate.on_cnp(2'000);
  EXPECT_DOUBLE_EQ(rate.gbps(), current);
  for (uint32_t event = 1; event <= c.fast_recovery_steps + 3; ++event) {
    rate.on_timer();
    if (event >= c.fast_recovery_steps) target += c.additive_increase_gbps;
    current = (target + current) / 2;
    EXPECT_NEAR(rate.gbps(), current, 1e-12) << "event " << event;
  }
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

// Validation: a 2:1 incast at the DCQCN paper's link rate (Zhu et al., SIGCOMM 2015): two
// senders into one 40 Gb/s port, 256 MiB each in 1 MiB writes, PFC on (RoCEv2 as the
// paper runs it), DCQCN at its defaults or off. Measured over the middle half of the ideal time,
// after DCQCN's start-up.
struct IncastResult {
  double gbps[2] = {0, 0};  // each flow's payload rate over the window
  double fair_gbps = 0;     // half the port's payload rate
  double paused_fraction = 0;  // PFC pause time in the window, summed over devices, per ns of it
  uint64_t pauses = 0;         // PAUSE frames sent in the window
  SimulationCounters counters;
};

IncastResult two_to_one_incast(bool dcqcn) {
  constexpr double kPortGbps = 40;
  SimulationConfig c = with(dcqcn, true, 3);
  c.nics = {NicConfig{kPortGbps}};
  World w(c);
  std::vector<std::unique_ptr<Flow>> flows;
  flows.push_back(std::make_unique<Flow>(w, 1, 0, 256, kMiB));
  flows.push_back(std::make_unique<Flow>(w, 2, 0, 256, kMiB));
  for (auto& flow : flows) flow->start();
  const double payload_gbps = kPortGbps * 4096 / (4096 + 62);
  const auto ideal = static_cast<uint64_t>(2.0 * 256 * kMiB * 8 / payload_gbps);
  const uint64_t from = ideal / 4, to = 3 * ideal / 4;
  w.sim().run_until(from);
  poll_all(w, flows);
  const uint64_t done0[2] = {flows[0]->bytes_done(), flows[1]->bytes_done()};
  const SimulationCounters before = w.sim().counters();
  w.sim().run_until(to);
  poll_all(w, flows);
  IncastResult r;
  r.counters = w.sim().counters();
  for (int i = 0; i < 2; ++i) {
    r.gbps[i] = static_cast<double>(flows[i]->bytes_done() - done0[i]) * 8 / static_cast<double>(to - from);
  }
  r.fair_gbps = payload_gbps / 2;
  r.paused_fraction =
      static_cast<double>(r.counters.pfc_paused_ns - before.pfc_paused_ns) / static_cast<double>(to - from);
  r.pauses = r.counters.pfc_pauses - before.pfc_pauses;
  run_to_end(w, flows);
  for (auto& flow : flows) EXPECT_TRUE(flow->landed());
  return r;
}

// DCQCN splits the port evenly (each flow within 10 % of half of it) and keeps the queue
// below PFC's XOFF: no sender is paused for long. Without DCQCN the same check sees the
// senders paused about half the time, so it can fail.
TEST(Congestion, DcqcnSharesATwoToOneIncastWithoutSustainedPause) {
  const IncastResult r = two_to_one_incast(true);
  RecordProperty("flow0_gbps", std::to_string(r.gbps[0]));
  RecordProperty("flow1_gbps", std::to_string(r.gbps[1]));
  RecordProperty("fair_gbps", std::to_string(r.fair_gbps));
  RecordProperty("paused_fraction", std::to_string(r.paused_fraction));
  RecordProperty("pauses_in_window", std::to_string(r.pauses));
  RecordProperty("pauses_to_window_end", std::to_string(r.counters.pfc_pauses));
  RecordProperty("max_queue_bytes", std::to_string(r.counters.max_switch_queue_bytes));
  for (double gbps : r.gbps) EXPECT_NEAR(gbps, r.fair_gbps, 0.1 * r.fair_gbps);
  EXPECT_LT(r.paused_fraction, 0.01);
  EXPECT_EQ(r.counters.packets_dropped, 0u);
  EXPECT_GT(r.counters.cnps_sent, 0u);

  const IncastResult pfc_only = two_to_one_incast(false);
  RecordProperty("paused_fraction_pfc_only", std::to_string(pfc_only.paused_fraction));
  EXPECT_GT(pfc_only.paused_fraction, 0.25) << "PFC alone must pause the senders: the check above could not fail";
  EXPECT_EQ(pfc_only.counters.packets_dropped, 0u);
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
