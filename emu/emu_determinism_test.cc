// Deterministic mode: virtual time moves only when driven, a seed fixes every
// completion bit for bit, and modelled time respects the link rate.
#include <cstdlib>
#include <set>

#include "emu/test_util.h"

namespace ferry::emu::test {
namespace {

bool same_record(const TraceRecord& x, const TraceRecord& y) {
  return x.time_ns == y.time_ns && x.node == y.node && x.nic == y.nic &&
         x.endpoint_id == y.endpoint_id && x.cookie == y.cookie && x.kind == y.kind &&
         x.status == y.status && x.byte_len == y.byte_len && x.imm == y.imm;
}

std::string describe(const TraceRecord& r) {
  std::ostringstream os;
  os << "{t " << r.time_ns << ", node " << r.node << ", nic " << r.nic << ", endpoint "
     << r.endpoint_id << ", cookie " << r.cookie << ", " << to_string(r.kind) << ", "
     << to_string(r.status) << ", byte_len " << r.byte_len << ", imm " << r.imm << "}";
  return os.str();
}

// A completion and the virtual time it was polled at.
struct Seen {
  uint64_t time_ns;
  Completion c;
  bool operator==(const Seen& o) const {
    return time_ns == o.time_ns && c.cookie == o.c.cookie && c.status == o.c.status &&
           c.kind == o.c.kind && c.byte_len == o.c.byte_len && c.imm == o.c.imm &&
           c.has_imm == o.c.has_imm && c.endpoint_id == o.c.endpoint_id;
  }
};

struct Outcome {
  uint64_t hash = 0;
  std::vector<TraceRecord> trace;
  std::vector<Seen> seen;
};

// The workload: on 3 nodes, 24 SRD write-with-imm 0->1, 8 RC writes 0->2 and 8 RC
// sends 1->2, in two rounds, with loss on node 0's link. Runs one event at a time,
// polling every queue after each, and checks every byte at the end.
Outcome run_workload(uint64_t seed, bool record_trace, double loss = 0.05) {
  FabricConfig cfg = fabric_config(Mode::kDeterministic, 3, seed);
  cfg.record_trace = record_trace;
  World w(cfg);
  Fabric& fabric = w.fabric();
  fabric.set_loss_probability(0, 0, loss);

  Pair srd = w.pair(EndpointKind::kSrd);
  PairSpec rc_spec = pair_spec(EndpointKind::kRc);
  rc_spec.node_b = 2;
  Pair rc = w.pair(rc_spec);
  rc_spec.node_a = 1;
  Pair sends = w.pair(rc_spec);

  constexpr size_t kImms = 24, kWrites = 8, kSends = 8, kSlot = 16 * 1024;
  Buffer& src0 = w.source(0, kImms * kSlot);
  Buffer& src1 = w.source(1, kSends * kSlot);
  Buffer& dst1 = w.buffer(1, kImms * kSlot);
  Buffer& dst2 = w.buffer(2, kWrites * kSlot);
  Buffer& recv2 = w.buffer(2, kSends * kSlot);
  auto imm_size = [](size_t i) { return static_cast<uint32_t>(1000 + 500 * i); };
  auto write_size = [](size_t i) { return static_cast<uint32_t>(kSlot - 1000 * i); };
  auto send_size = [](size_t i) { return static_cast<uint32_t>(100 + 700 * i); };
  for (size_t i = 0; i < kImms; ++i) EXPECT_TRUE(is_ok(post_recv(srd.b, 1000 + i, {})));
  for (size_t i = 0; i < kSends; ++i) {
    EXPECT_TRUE(is_ok(post_recv(sends.b, 2000 + i, {recv2.sge(i * kSlot, kSlot)})));
  }

  Outcome out;
  std::vector<std::vector<Completion>> by_queue(6);
  const Ep* eps[] = {&srd.a, &srd.b, &rc.a, &rc.b, &sends.a, &sends.b};
  auto poll_all = [&] {
    for (size_t q = 0; q < 6; ++q) {
      for (CompletionQueue* cq : {eps[q]->send_cq, eps[q]->recv_cq}) {
        Completion c[16];
        auto n = cq->poll(c);
        EXPECT_TRUE(is_ok(n));
        if (!n.ok()) continue;
        for (size_t i = 0; i < *n; ++i) {
          out.seen.push_back({fabric.now_ns(), c[i]});
          by_queue[q].push_back(c[i]);
        }
      }
    }
  };
  for (size_t round = 0; round < 2; ++round) {
    std::vector<Op> imms, writes, sent;
    for (size_t i = round; i < kImms; i += 2) {
      imms.push_back(write_imm_op(i, {src0.sge(i * kSlot, imm_size(i))}, dst1, i * kSlot,
                                  static_cast<uint32_t>(i)));
    }
    for (size_t i = round; i < kWrites; i += 2) {
      writes.push_back(write_op(i, {src0.sge(i * kSlot, write_size(i))}, dst2, i * kSlot));
    }
    for (size_t i = round * kSends / 2; i < (round + 1) * kSends / 2; ++i) {
      sent.push_back(send_op(i, {src1.sge(i * kSlot, send_size(i))}));
    }
    EXPECT_TRUE(is_ok(post(srd.a, imms)));
    EXPECT_TRUE(is_ok(post(rc.a, writes)));
    EXPECT_TRUE(is_ok(post(sends.a, sent)));
    if (round == 0) {
      while (fabric.now_ns() < 20'000 && fabric.step()) poll_all();
    }
  }

  poll_all();
  size_t steps = 0;
  while (fabric.step() && ++steps < kMaxSteps) poll_all();
  EXPECT_LT(steps, kMaxSteps) << "the workload never went idle";

  // SRD write-with-imm: each once, data in place.
  EXPECT_EQ(sorted(cookies_of(by_queue[0])), iota(0, kImms));
  EXPECT_EQ(by_queue[1].size(), kImms);
  std::vector<uint64_t> imms;
  for (const Completion& c : by_queue[1]) {
    EXPECT_TRUE(is_completion(c, srd.b, c.cookie, CompletionKind::kRecvWriteWithImm));
    if (c.imm >= kImms) continue;
    EXPECT_EQ(c.byte_len, imm_size(c.imm));
    imms.push_back(c.imm);
  }
  EXPECT_EQ(sorted(imms), iota(0, kImms));
  for (size_t i = 0; i < kImms; ++i) {
    EXPECT_TRUE(dst1.holds(i * kSlot, src0, i * kSlot, imm_size(i)));
    EXPECT_TRUE(dst1.untouched(i * kSlot + imm_size(i), kSlot - imm_size(i)));
  }
  // RC writes: in posting order within each round, data in place.
  EXPECT_EQ(sorted(cookies_of(by_queue[2])), iota(0, kWrites));
  for (size_t i = 0; i < kWrites; ++i) {
    EXPECT_TRUE(dst2.holds(i * kSlot, src0, i * kSlot, write_size(i)));
  }
  // RC sends: in posting order, each in the next recv.
  EXPECT_EQ(cookies_of(by_queue[4]), iota(0, kSends));
  EXPECT_EQ(cookies_of(by_queue[5]), iota(2000, kSends));
  for (size_t i = 0; i < kSends && i < by_queue[5].size(); ++i) {
    EXPECT_EQ(by_queue[5][i].byte_len, send_size(i));
    EXPECT_TRUE(recv2.holds(i * kSlot, src1, i * kSlot, send_size(i)));
  }
  for (const auto& queue : by_queue) {
    for (const Completion& c : queue) EXPECT_EQ(c.status, Status::kSuccess);
  }

  out.hash = fabric.trace_hash();
  out.trace = fabric.trace();
  return out;
}

TEST(Determinism, SameSeedGivesTheSameTrace) {
  const Outcome first = run_workload(7, true);
  const Outcome second = run_workload(7, true);
  EXPECT_EQ(first.hash, second.hash);
  EXPECT_TRUE(first.seen == second.seen) << "completions or their times differ";
  ASSERT_EQ(first.trace.size(), second.trace.size());
  for (size_t i = 0; i < first.trace.size(); ++i) {
    ASSERT_TRUE(same_record(first.trace[i], second.trace[i]))
        << "record " << i << ": " << describe(first.trace[i]) << " vs "
        << describe(second.trace[i]);
  }
}

TEST(Determinism, TraceRecordsEveryCompletionInTimeOrder) {
  const Outcome run = run_workload(7, true);
  ASSERT_GE(run.trace.size(), run.seen.size());
  for (size_t i = 1; i < run.trace.size(); ++i) {
    EXPECT_LE(run.trace[i - 1].time_ns, run.trace[i].time_ns) << "record " << i;
  }
  for (const Seen& s : run.seen) {
    bool found = false;
    for (const TraceRecord& r : run.trace) {
      found = found || (r.time_ns == s.time_ns && r.endpoint_id == s.c.endpoint_id &&
                        r.cookie == s.c.cookie && r.kind == s.c.kind &&
                        r.status == s.c.status && r.byte_len == s.c.byte_len &&
                        (!s.c.has_imm || r.imm == s.c.imm));
    }
    EXPECT_TRUE(found) << "no trace record for " << ::testing::PrintToString(s.c) << " at "
                       << s.time_ns << " ns";
  }
}

TEST(Determinism, RecordingTheTraceDoesNotChangeTheHash) {
  EXPECT_EQ(run_workload(11, true).hash, run_workload(11, false).hash);
}

TEST(Determinism, DifferentSeedsGiveDifferentHashes) {
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 6; ++seed) hashes.insert(run_workload(seed, false).hash);
  EXPECT_EQ(hashes.size(), 6u);
}

// Runs 50 seeds; FERRY_SEED_SWEEP=<n> runs n instead, e.g.
//   bazel test //emu:emu_determinism_test --test_env=FERRY_SEED_SWEEP=1000
TEST(Determinism, SeedSweepReplaysBitForBit) {
  uint64_t seeds = 50;
  if (const char* env = std::getenv("FERRY_SEED_SWEEP"); env != nullptr && *env != '\0') {
    seeds = std::strtoull(env, nullptr, 10);
  }
  for (uint64_t seed = 1; seed <= seeds && !HasFailure(); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const uint64_t first = run_workload(seed, false).hash;
    const uint64_t second = run_workload(seed, false).hash;
    EXPECT_EQ(first, second);
  }
}

// ---------------------------------------------------------------------------------
// Virtual time

class VirtualTime : public ::testing::TestWithParam<EndpointKind> {};

TEST_P(VirtualTime, NothingHappensUntilTheFabricIsDriven) {
  World w(fabric_config(Mode::kDeterministic));
  Pair p = w.pair(GetParam());
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  const uint64_t before = w.fabric().now_ns();
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 4096)}, dst, 0)})));
  Completion c;
  for (int i = 0; i < 10; ++i) {  // polling does not move time
    auto n = p.a.send_cq->poll(std::span<Completion>(&c, 1));
    ASSERT_TRUE(is_ok(n));
    EXPECT_EQ(*n, 0u);
  }
  EXPECT_EQ(w.fabric().now_ns(), before);
  EXPECT_TRUE(dst.untouched());
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_GT(w.fabric().now_ns(), before);
  EXPECT_TRUE(dst.holds(0, src, 0, 4096));
}

TEST_P(VirtualTime, RunUntilAndAtFollowTheVirtualClock) {
  World w(fabric_config(Mode::kDeterministic));
  Fabric& fabric = w.fabric();
  std::vector<uint64_t> called_at;
  fabric.at(30'000, [&] { called_at.push_back(fabric.now_ns()); });
  fabric.at(10'000, [&] { called_at.push_back(fabric.now_ns()); });
  fabric.run_until(20'000);
  EXPECT_EQ(fabric.now_ns(), 20'000u);
  EXPECT_EQ(called_at, std::vector<uint64_t>{10'000});
  EXPECT_TRUE(fabric.step());
  EXPECT_EQ(fabric.now_ns(), 30'000u);
  EXPECT_EQ(called_at, (std::vector<uint64_t>{10'000, 30'000}));
  EXPECT_FALSE(fabric.step());
  EXPECT_EQ(fabric.run_until_idle(), 0u);
}

TEST_P(VirtualTime, WriteTakesAtLeastItsSerialisationTime) {
  constexpr uint32_t kSize = 1 << 20;
  for (double gbps : {100.0, 25.0}) {
    SCOPED_TRACE(std::to_string(gbps) + " Gb/s");
    FabricConfig cfg = fabric_config(Mode::kDeterministic);
    cfg.nics[0].link_gbps = gbps;
    World w(cfg);
    Pair p = w.pair(GetParam());
    Buffer& src = w.source(0, kSize);
    Buffer& dst = w.buffer(1, kSize);
    w.fabric().run_until(1'000'000);  // any start time
    const uint64_t start_ns = w.fabric().now_ns();
    ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, kSize)}, dst, 0)})));
    auto cs = w.wait_send(p.a, 1);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_TRUE(is_completion(cs[0], p.a, 1, CompletionKind::kWrite));
    const double serialisation_ns = kSize * 8.0 / gbps;  // bits / (Gb/s) = ns
    EXPECT_GE(static_cast<double>(w.fabric().now_ns() - start_ns), serialisation_ns);
    EXPECT_TRUE(dst.holds(0, src, 0, kSize));
  }
}

INSTANTIATE_TEST_SUITE_P(Deterministic, VirtualTime,
                         ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd), kind_param_name);

}  // namespace
}  // namespace ferry::emu::test
