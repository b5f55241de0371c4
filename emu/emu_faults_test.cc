// The emulator's fault model: loss delaying but delivering, a dead NIC flushing its own
// endpoints, a vanished node on a three-node fabric, one rail of two dying. A peer
// timing out (link down, dead NIC, lost node, destroyed endpoint) is the conformance
// suite's (transport/conformance/faults.cc).
#include "emu/test_util.h"

namespace ferry::emu::test {
namespace {

PairSpec few_retries(EndpointKind kind, uint32_t retry_count) {
  PairSpec spec = pair_spec(kind);
  spec.config.retry_count = retry_count;
  return spec;
}

// ---------------------------------------------------------------------------------
// Links (deterministic mode)

class LinkFaults : public ::testing::TestWithParam<EndpointKind> {
 protected:
  EndpointKind kind() const { return GetParam(); }
};

// Same seed, with and without loss: the lossy run delivers the same bytes, later.
TEST_P(LinkFaults, LossDelaysButDelivers) {
  constexpr uint32_t kSize = 256 * 1024;  // 64 packets: some are lost
  auto run = [&](double loss) -> uint64_t {
    World w(fabric_config(Mode::kDeterministic, 2, 42));
    Pair p = w.pair(pair_spec(kind()));
    Buffer& src = w.source(0, kSize);
    Buffer& dst = w.buffer(1, kSize);
    w.fabric().set_loss_probability(0, 0, loss);
    const uint64_t start_ns = w.fabric().now_ns();
    EXPECT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, kSize)}, dst, 0)})));
    auto cs = w.wait_send(p.a, 1);
    const uint64_t elapsed = w.fabric().now_ns() - start_ns;
    EXPECT_EQ(cs.size(), 1u);
    if (!cs.empty()) {
      EXPECT_TRUE(is_completion(cs[0], p.a, 1, CompletionKind::kWrite));
    }
    EXPECT_TRUE(dst.holds(0, src, 0, kSize));
    EXPECT_TRUE(dst.untouched_outside(0, kSize));
    return elapsed;
  };
  const uint64_t clean_ns = run(0);
  const uint64_t lossy_ns = run(0.1);
  EXPECT_GT(lossy_ns, clean_ns);
}

INSTANTIATE_TEST_SUITE_P(Deterministic, LinkFaults,
                         ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd), kind_param_name);

// ---------------------------------------------------------------------------------
// NICs and nodes (both modes)

class Faults : public ModeKindTest {};

TEST_P(Faults, KilledNicFlushesItsEndpointsAndTakesNothingNew) {
  World w(config());
  Pair p = w.pair(few_retries(kind(), 2));
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  Buffer& parked = w.buffer(1, 256);
  Buffer& src_b = w.source(1, 4096);
  Buffer& dst_a = w.buffer(0, 4096);
  ASSERT_TRUE(is_ok(post_recv(p.b, 60, {parked.sge(0, 256)})));

  w.fabric().kill_nic(1, 0);

  auto flushed = w.wait_recv(p.b, 1);
  ASSERT_EQ(flushed.size(), 1u);
  EXPECT_TRUE(has_status(flushed[0], p.b, 60, Status::kFlushed));
  EXPECT_EQ(p.b->state(), EndpointState::kError);
  // The dead NIC takes nothing new.
  EXPECT_FALSE(w.device(1).create_protection_domain().ok());
  std::vector<uint8_t> memory(256);
  EXPECT_FALSE(w.pd(1).register_memory(memory.data(), memory.size(), kAllAccess, MemoryKind::kHost).ok());
  // Nothing reaches the dead NIC: its peer's write runs out of retries.
  ASSERT_TRUE(is_ok(post(p.a, {write_op(62, {src.sge(0, 256)}, dst, 0)})));
  auto lost = w.wait_send(p.a, 1);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_TRUE(has_status(lost[0], p.a, 62, Status::kRetryExceeded));
  // The dead NIC's endpoint sends nothing any more.
  if (post(p.b, {write_op(61, {src_b.sge(0, 256)}, dst_a, 0)}).ok()) {
    auto cs = w.wait_send(p.b, 1);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_TRUE(has_status(cs[0], p.b, 61, Status::kFlushed));
  }
  w.settle();
  EXPECT_TRUE(dst.untouched());
  EXPECT_TRUE(dst_a.untouched());
  EXPECT_TRUE(parked.untouched());
}

TEST_P(Faults, VanishedNodeTimesOutEveryPeer) {
  World w(config(3));
  PairSpec to_1 = few_retries(kind(), 2);
  PairSpec from_2_to_1 = to_1;
  from_2_to_1.node_a = 2;
  PairSpec from_0_to_2 = to_1;
  from_0_to_2.node_b = 2;
  Pair p = w.pair(to_1);
  Pair q = w.pair(from_2_to_1);
  Pair r = w.pair(from_0_to_2);
  Buffer& src0 = w.source(0, 4096);
  Buffer& src2 = w.source(2, 4096);
  Buffer& dst1 = w.buffer(1, 4096);
  Buffer& dst2 = w.buffer(2, 4096);
  Buffer& parked = w.buffer(1, 256);
  ASSERT_TRUE(is_ok(post_recv(p.b, 60, {parked.sge(0, 256)})));

  w.fabric().vanish_node(1);

  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src0.sge(0, 500)}, dst1, 0)})));
  ASSERT_TRUE(is_ok(post(q.a, {send_op(2, {src2.sge(0, 500)})})));
  ASSERT_TRUE(is_ok(post(r.a, {write_op(3, {src0.sge(0, 500)}, dst2, 0)})));
  auto from_p = w.wait_send(p.a, 1);
  ASSERT_EQ(from_p.size(), 1u);
  EXPECT_TRUE(has_status(from_p[0], p.a, 1, Status::kRetryExceeded));
  auto from_q = w.wait_send(q.a, 1);
  ASSERT_EQ(from_q.size(), 1u);
  EXPECT_TRUE(has_status(from_q[0], q.a, 2, Status::kRetryExceeded));
  // Nodes 0 and 2 still talk to each other.
  auto from_r = w.wait_send(r.a, 1);
  ASSERT_EQ(from_r.size(), 1u);
  EXPECT_TRUE(is_completion(from_r[0], r.a, 3, CompletionKind::kWrite));
  EXPECT_TRUE(dst2.holds(0, src0, 0, 500));
  EXPECT_EQ(r.a->state(), EndpointState::kReady);
  w.settle();
  EXPECT_TRUE(dst1.untouched());
  // The vanished node reports nothing (not even flushes) and takes nothing new.
  EXPECT_TRUE(w.no_completions(p.b));
  EXPECT_TRUE(parked.untouched());
  EXPECT_FALSE(w.device(1).create_protection_domain().ok());
}

// Two rails per node: killing rail 1 leaves rail 0 of the same nodes working.
TEST_P(Faults, KilledRailLeavesTheOtherRailAlone) {
  FabricConfig cfg = config();
  cfg.nics = {NicConfig{}, NicConfig{}};
  World w(cfg);
  PairSpec spec0 = few_retries(kind(), 2);
  PairSpec spec1 = spec0;
  spec1.nic = 1;
  Pair rail0 = w.pair(spec0);
  Pair rail1 = w.pair(spec1);
  Buffer& src0 = w.source(0, 4096, kAllAccess, 0);
  Buffer& dst0 = w.buffer(1, 4096, kAllAccess, 0);
  Buffer& recv0 = w.buffer(1, 4096, kAllAccess, 0);
  Buffer& back_src0 = w.source(1, 4096, kAllAccess, 0);
  Buffer& back_dst0 = w.buffer(0, 4096, kAllAccess, 0);
  Buffer& src1 = w.source(0, 4096, kAllAccess, 1);
  Buffer& dst1 = w.buffer(1, 4096, kAllAccess, 1);
  Buffer& recv1 = w.buffer(1, 4096, kAllAccess, 1);
  ASSERT_TRUE(is_ok(post_recv(rail0.b, 40, {recv0.sge(0, 4096)})));
  ASSERT_TRUE(is_ok(post_recv(rail1.b, 41, {recv1.sge(0, 4096)})));

  w.fabric().kill_nic(1, 1);

  auto flushed = w.wait_recv(rail1.b, 1);
  ASSERT_EQ(flushed.size(), 1u);
  EXPECT_TRUE(has_status(flushed[0], rail1.b, 41, Status::kFlushed));
  ASSERT_TRUE(is_ok(post(rail1.a, {write_op(1, {src1.sge(0, 100)}, dst1, 0)})));
  auto lost = w.wait_send(rail1.a, 1);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_TRUE(has_status(lost[0], rail1.a, 1, Status::kRetryExceeded));

  ASSERT_TRUE(is_ok(post(rail0.a, {write_op(2, {src0.sge(0, 1000)}, dst0, 0),
                                   send_op(3, {src0.sge(1000, 700)})})));
  ASSERT_TRUE(is_ok(post(rail0.b, {write_op(4, {back_src0.sge(0, 300)}, back_dst0, 0)})));
  auto sent = w.wait_send(rail0.a, 2);
  ASSERT_EQ(sent.size(), 2u);
  ASSERT_EQ(sorted(cookies_of(sent)), iota(2, 2));
  EXPECT_TRUE(is_completion(*find_cookie(sent, 2), rail0.a, 2, CompletionKind::kWrite));
  EXPECT_TRUE(is_completion(*find_cookie(sent, 3), rail0.a, 3, CompletionKind::kSend));
  auto got = w.wait_recv(rail0.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], rail0.b, 40, CompletionKind::kRecv));
  EXPECT_EQ(got[0].byte_len, 700u);
  auto back = w.wait_send(rail0.b, 1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(is_completion(back[0], rail0.b, 4, CompletionKind::kWrite));

  EXPECT_TRUE(dst0.holds(0, src0, 0, 1000));
  EXPECT_TRUE(recv0.holds(0, src0, 1000, 700));
  EXPECT_TRUE(recv0.untouched_outside(0, 700));
  EXPECT_TRUE(back_dst0.holds(0, back_src0, 0, 300));
  EXPECT_EQ(rail0.a->state(), EndpointState::kReady);
  EXPECT_EQ(rail0.b->state(), EndpointState::kReady);
  w.settle();
  EXPECT_TRUE(dst1.untouched());
  EXPECT_TRUE(recv1.untouched());
}

// A pair whose target has two recvs posted (cookies first_recv and first_recv + 1), for
// the faults that deliver a write-with-imm once or twice.
struct ImmTarget {
  Pair p;
  Buffer& src;
  Buffer& dst;
};

ImmTarget imm_target(World& w, const PairSpec& spec, uint64_t first_recv) {
  ImmTarget t{w.pair(spec), w.source(0, 4096), w.buffer(1, 4096)};
  Buffer& parked = w.buffer(1, 64);
  EXPECT_TRUE(is_ok(post_recv(t.p.b, first_recv, {parked.sge(0, 64)})));
  EXPECT_TRUE(is_ok(post_recv(t.p.b, first_recv + 1, {parked.sge(0, 64)})));
  return t;
}

// An acknowledgement lost after the data landed: the target has the bytes, the
// immediate and its recv completion; the initiator hears kRetryExceeded, and an RC
// endpoint goes to the error state. The next operation is untouched by the fault.
TEST_P(Faults, LostAckReportsFailureForAnOperationThatLanded) {
  World w(config());
  auto [p, src, dst] = imm_target(w, few_retries(kind(), 2), 70);
  w.fabric().lose_acks(0, 0, 1);
  ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(1, {src.sge(0, 1000)}, dst, 0, 0xabcd0001)})));
  auto failed = w.wait_send(p.a, 1);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_TRUE(has_status(failed[0], p.a, 1, Status::kRetryExceeded));
  auto landed = w.wait_recv(p.b, 1);
  ASSERT_EQ(landed.size(), 1u);
  EXPECT_TRUE(is_completion(landed[0], p.b, 70, CompletionKind::kRecvWriteWithImm));
  EXPECT_EQ(landed[0].imm, 0xabcd0001u);
  EXPECT_TRUE(dst.holds(0, src, 0, 1000));
  EXPECT_TRUE(dst.untouched_outside(0, 1000));
  if (rc()) {
    EXPECT_EQ(p.a->state(), EndpointState::kError);
  } else {
    // SRD has no connection to break: the next operation lands and succeeds.
    ASSERT_TRUE(is_ok(post(p.a, {write_op(2, {src.sge(1000, 500)}, dst, 1000)})));
    auto next = w.wait_send(p.a, 1);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_TRUE(is_completion(next[0], p.a, 2, CompletionKind::kWrite));
    EXPECT_TRUE(dst.holds(0, src, 0, 1500));
  }
  w.settle();
  EXPECT_TRUE(w.no_completions(p.b));  // the second recv is still posted: nothing landed twice
}

INSTANTIATE_TEST_SUITE_P(All, Faults, ::testing::ValuesIn(all_mode_kinds()), mode_kind_name);

// SRD duplicate delivery: the target sees the write-with-imm twice (two recv
// completions, the same bytes), the initiator one completion.
class SrdDuplicates : public ::testing::TestWithParam<Mode> {};

TEST_P(SrdDuplicates, TheTargetSeesTheOperationTwice) {
  World w(fabric_config(GetParam()));
  auto [p, src, dst] = imm_target(w, pair_spec(EndpointKind::kSrd), 80);
  w.fabric().duplicate_srd(0, 0, 1);
  ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(1, {src.sge(0, 700)}, dst, 100, 42)})));
  auto sent = w.wait_send(p.a, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 1, CompletionKind::kWrite));
  auto got = w.wait_recv(p.b, 2);
  ASSERT_EQ(got.size(), 2u);
  for (const Completion& c : got) {
    EXPECT_EQ(c.kind, CompletionKind::kRecvWriteWithImm);
    EXPECT_EQ(c.imm, 42u);
    EXPECT_EQ(c.byte_len, 700u);
  }
  EXPECT_TRUE(dst.holds(100, src, 0, 700));
  EXPECT_TRUE(dst.untouched_outside(100, 700));
  w.settle();
  EXPECT_TRUE(w.no_completions(p.a));
}

INSTANTIATE_TEST_SUITE_P(All, SrdDuplicates, ::testing::Values(Mode::kFast, Mode::kDeterministic), mode_param_name);

TEST(FaultArguments, LossProbabilityOutsideZeroToOneIsRefused) {
  for (Mode mode : {Mode::kFast, Mode::kDeterministic}) {
    Fabric fabric(fabric_config(mode));
    EXPECT_THROW(fabric.set_loss_probability(0, 0, 1.0), std::invalid_argument);
    EXPECT_THROW(fabric.set_loss_probability(0, 0, -0.1), std::invalid_argument);
    EXPECT_NO_THROW(fabric.set_loss_probability(0, 0, 0.5));
  }
}

}  // namespace
}  // namespace ferry::emu::test
