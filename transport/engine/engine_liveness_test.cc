// Liveness on emu's virtual time: a wait on a peer that stalls but answers probes lasts
// until it resumes; a peer lost with its node or its process fails the wait within the
// stated bound; idle engines send nothing; probing keeps a seed's trace fixed.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "transport/engine/testing/world.h"

namespace ferry::testing {
namespace {

constexpr uint64_t kBytes = 64 << 10;
// emu's defaults: one way across the fabric, and a NIC's time per operation.
constexpr uint64_t kPropagationNs = 1'000;
constexpr uint64_t kNicProcessingNs = 200;

// Two engines over an emu fabric, driven by this thread, where a rank can stop calling
// progress() (a stalled process) or lose its engine (a dead process).
struct Pair {
  Pair(EndpointKind kind, const EngineConfig& config, uint64_t seed = 1, uint64_t tick_ns = 1'000'000)
      : fabric(make_fabric(options(kind, config, seed))), tick_ns(tick_ns), buffers(2, std::vector<uint8_t>(kBytes)),
        regions(2) {
    const WorldOptions o = options(kind, config, seed);
    std::vector<std::vector<uint8_t>> descriptors;
    for (size_t r = 0; r < 2; ++r) {
      exchange.add(rank_name(r));
      engines.push_back(std::make_unique<Engine>(rank_name(r), fabric->node(r), exchange, engine_config(o)));
      EXPECT_TRUE(engines[r]->open().ok());
      auto reg = engines[r]->register_memory(buffers[r].data(), kBytes);
      EXPECT_TRUE(reg.ok());
      descriptors.push_back((*reg)->descriptor().serialize());
    }
    for (size_t r = 0; r < 2; ++r) {
      auto region = engines[r]->import_region(rank_name(1 - r), descriptors[1 - r]);
      EXPECT_TRUE(region.ok());
      regions[r] = *region;
    }
  }
  ~Pair() { engines.clear(); }  // before the fabric

  static WorldOptions options(EndpointKind kind, const EngineConfig& config, uint64_t seed) {
    WorldOptions o;  // emu, deterministic: virtual time
    o.kind = kind;
    o.seed = seed;
    o.engine = config;
    return o;
  }

  Engine& engine(size_t r) { return *engines[r]; }
  uint64_t now() const { return fabric->now_ns(); }

  // Every live engine that is not stalled progresses; when none did, virtual time moves
  // to the next event, at most one tick on.
  void round() {
    bool any = false;
    for (size_t r = 0; r < 2; ++r) {
      if (engines[r] && !stalled[r]) any |= engines[r]->progress();
    }
    if (!any) fabric->advance(now() + tick_ns);
  }
  bool run_until(const std::function<bool()>& done, size_t max_rounds = 20'000'000) {
    for (size_t i = 0; i < max_rounds && !done(); ++i) round();
    return done();
  }
  void run_for(uint64_t ns) {
    const uint64_t until = now() + ns;
    run_until([&] { return now() >= until; });
  }
  // Both sides connected: rank1 notified rank0 and rank0 saw it.
  bool connect() {
    Outcome sent, seen;
    if (!engine(0).expect("rank1", 1, 1, seen.callback()).ok()) return false;
    if (!engine(1).notify("rank0", Notify{1, 0}, sent.callback()).ok()) return false;
    return run_until([&] { return sent.done() && seen.done(); }) && sent.result.ok() && seen.result.ok();
  }
  std::unique_ptr<Cluster> fabric;
  InProcessExchange exchange;
  uint64_t tick_ns;
  std::vector<std::unique_ptr<Engine>> engines;
  bool stalled[2] = {false, false};
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<RemoteRegion> regions;  // regions[r]: the other rank's buffer as r sees it
};

EngineConfig liveness(uint64_t keepalive_ns, uint64_t transfer_timeout_ns = 5'000'000'000) {
  EngineConfig c;
  c.keepalive_interval_ns = keepalive_ns;
  c.transfer_timeout_ns = transfer_timeout_ns;
  return c;
}

class EngineLiveness : public ::testing::TestWithParam<EndpointKind> {};

// rank0 waits for rank1's notification; rank1 stops progressing for three transfer
// timeouts, then resumes and writes. How the wait ended.
// A wait is extended past the transfer timeout only when rank1 answered a probe since it
// began, so a success shows that rank1's NIC answered while its process slept.
TransferResult wait_across_a_stall(EndpointKind kind, uint64_t keepalive_ns) {
  constexpr uint64_t kTimeout = 1'000'000'000;  // 1 s
  Pair p(kind, liveness(keepalive_ns, kTimeout));
  EXPECT_TRUE(p.connect());
  for (uint64_t i = 0; i < kBytes; ++i) p.buffers[1][i] = pattern_byte(1, 3, i);
  Outcome waited;
  EXPECT_TRUE(p.engine(0).expect("rank1", 2, 1, waited.callback()).ok());
  p.stalled[1] = true;
  p.run_for(3 * kTimeout);
  p.stalled[1] = false;
  if (waited.done()) return waited.result;  // it ended during the stall
  Outcome wrote;
  EXPECT_TRUE(p.engine(1).write("rank0", p.buffers[1].data(), kBytes, p.regions[1], 0, Notify{2, 0},
                                wrote.callback()).ok());
  EXPECT_TRUE(p.run_until([&] { return waited.done() && wrote.done(); }));
  EXPECT_TRUE(wrote.result.ok()) << wrote.result.error().message;
  if (waited.result.ok()) {
    for (uint64_t i = 0; i < kBytes; ++i) {
      if (p.buffers[0][i] != pattern_byte(1, 3, i)) {
        ADD_FAILURE() << "byte " << i << " did not land";
        break;
      }
    }
  }
  EXPECT_EQ(waited.calls, 1);
  return waited.result;
}

TEST_P(EngineLiveness, StalledPeerThatAnswersProbesIsWaitedFor) {
  const TransferResult waited = wait_across_a_stall(GetParam(), 100'000'000);
  EXPECT_TRUE(waited.ok()) << waited.error().message;
}

// The same without probing: the wait ends at the transfer timeout, as before liveness.
TEST_P(EngineLiveness, WithoutProbingAStalledPeerFailsTheWaitAtTheTransferTimeout) {
  const TransferResult waited = wait_across_a_stall(GetParam(), 0);
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.error().code, ErrorCode::kDeadlineExceeded) << waited.error().message;
}

// rank0 waits on rank1 with nothing else posted; rank1 dies (`kill`) a while later. The
// wait fails with kUnavailable naming the peer, within keepalive + retries of the death
// (plus the probe's flight, its acknowledgement's, and one idle tick of this harness).
void expect_death_detected(EndpointKind kind, const std::function<void(Pair&)>& kill) {
  constexpr uint64_t kKeepalive = 10'000'000;  // 10 ms
  constexpr uint64_t kTick = 10'000;           // 10 us
  Pair p(kind, liveness(kKeepalive), 1, kTick);
  ASSERT_TRUE(p.connect());
  Outcome waited;
  ASSERT_TRUE(p.engine(0).expect("rank1", 2, 1, waited.callback()).ok());
  p.run_for(35'000'000);  // a few probes answered first
  ASSERT_FALSE(waited.done());
  const uint64_t died_at = p.now();
  kill(p);
  ASSERT_TRUE(p.run_until([&] { return waited.done(); }));
  ASSERT_FALSE(waited.result.ok());
  EXPECT_EQ(waited.result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(waited.result.error().message.find("peer 'rank1' declared dead: no rail reaches it (rail 0: "),
            std::string::npos)
      << waited.result.error().message;
  const EndpointConfig retries = engine_config(WorldOptions{}).endpoint;
  const uint64_t bound = kKeepalive + retries.retry_count * retries.retry_timeout_ns +
                         2 * (kPropagationNs + kNicProcessingNs) + kTick;
  EXPECT_LE(p.now() - died_at, bound) << "detected " << p.now() - died_at << " ns after the death";
  // A new wait on the dead peer fails at once, saying why.
  Outcome again;
  ASSERT_TRUE(p.engine(0).expect("rank1", 3, 1, again.callback()).ok());
  const uint64_t asked_at = p.now();
  ASSERT_TRUE(p.run_until([&] { return again.done(); }));
  ASSERT_FALSE(again.result.ok());
  EXPECT_EQ(again.result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(again.result.error().message.find("declared dead"), std::string::npos) << again.result.error().message;
  EXPECT_LE(p.now() - asked_at, kTick);
}

TEST_P(EngineLiveness, NodeLossFailsAWaitWithinTheBound) {
  expect_death_detected(GetParam(), [](Pair& p) { vanish_node(*p.fabric, 1); });
}

// The process dies: its engine is destroyed, and with it its endpoints. A write to a
// destroyed endpoint fails through the retries (conformance: fault/destroyed-peer).
TEST_P(EngineLiveness, ProcessDeathFailsAWaitWithinTheBound) {
  expect_death_detected(GetParam(), [](Pair& p) { p.engines[1].reset(); });
}

// Connected engines with nothing waiting put nothing on the wire, and the fabric runs
// dry; a wait outstanding makes one probe per interval.
TEST_P(EngineLiveness, IdleEnginesSendNoProbes) {
  WorldOptions o;
  o.kind = GetParam();
  o.engine.keepalive_interval_ns = 1'000'000;  // 1 ms: one a round when anything waits
  World w(o);
  Outcome seen;
  ASSERT_TRUE(w.engine(0).expect("rank1", 1, 1, seen.callback()).ok());
  ASSERT_TRUE(w.engine(1).notify("rank0", Notify{1, 0}, nullptr).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return seen.done(); }));
  w.linger(10);
  // Packets on the wire, and the trace of every completion: a probe shows in the trace.
  auto traffic = [&] {
    Cluster& f = w.cluster.fabric();
    return std::make_pair(f.nic_counters(0, 0)->tx_packets + f.nic_counters(1, 0)->tx_packets, f.trace_hash());
  };
  const auto idle_from = traffic();
  const uint64_t idle_at = w.cluster.fabric().now_ns();
  w.linger(200);  // an idle round moves virtual time by up to 1 ms
  EXPECT_GE(w.cluster.fabric().now_ns() - idle_at, 100'000'000u);
  EXPECT_EQ(traffic(), idle_from) << "idle engines sent something";
  EXPECT_FALSE(w.cluster.fabric().step()) << "the fabric has events pending while nothing waits";

  Outcome waited;
  ASSERT_TRUE(w.engine(0).expect("rank1", 2, 1, waited.callback()).ok());
  w.linger(20);
  EXPECT_FALSE(waited.done());
  EXPECT_NE(traffic().second, idle_from.second) << "no probes while a wait is outstanding";
  w.engine(0).release("rank1", 2);
  ASSERT_TRUE(w.cluster.run_until([&] { return waited.done(); }));
  w.linger(10);
  const auto after = traffic();
  w.linger(100);
  EXPECT_EQ(traffic(), after) << "probes went on after the wait ended";
  EXPECT_FALSE(w.cluster.fabric().step());
}

INSTANTIATE_TEST_SUITE_P(Kinds, EngineLiveness, ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// rank0 waits while rank1 takes 300 ms (busy elsewhere) before it writes: probes cross
// the fabric meanwhile. The trace hash of a run, with the wait's end folded in.
uint64_t probed_run(uint64_t seed, uint64_t keepalive_ns) {
  Pair p(EndpointKind::kSrd, liveness(keepalive_ns), seed);
  EXPECT_TRUE(p.connect());
  Outcome waited, wrote;
  EXPECT_TRUE(p.engine(0).expect("rank1", 2, 1, waited.callback()).ok());
  p.run_for(300'000'000);
  EXPECT_TRUE(p.engine(1).write("rank0", p.buffers[1].data(), kBytes, p.regions[1], 0, Notify{2, 0},
                                wrote.callback()).ok());
  EXPECT_TRUE(p.run_until([&] { return waited.done() && wrote.done(); }));
  EXPECT_TRUE(waited.result.ok());
  return p.fabric->trace_hash() ^ p.now();
}

TEST(EngineLivenessDeterminism, SameSeedSameTraceWithProbing) {
  for (uint64_t seed : {3u, 11u}) {
    const uint64_t first = probed_run(seed, 10'000'000);
    EXPECT_EQ(probed_run(seed, 10'000'000), first) << "seed " << seed;
    // The probes are in the trace: without them it differs.
    EXPECT_NE(probed_run(seed, 0), first) << "seed " << seed;
  }
}

}  // namespace
}  // namespace ferry::testing
