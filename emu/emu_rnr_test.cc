// Receiver not ready: a send or a write-with-imm that finds no posted recv at the target
// is retried every rnr_timer_ns, rnr_retry times (7: forever), as in verbs.
#include <tuple>

#include "emu/test_util.h"

namespace ferry::emu::test {
namespace {

using RnrParam = std::tuple<ModeKind, Opcode>;

class ReceiverNotReady : public ::testing::TestWithParam<RnrParam> {
 protected:
  Mode mode() const { return std::get<0>(GetParam()).mode; }
  EndpointKind kind() const { return std::get<0>(GetParam()).kind; }
  Opcode opcode() const { return std::get<1>(GetParam()); }

  // The request under test: `size` bytes from src, into dst for a write-with-imm.
  Op request(uint64_t cookie, const Buffer& src, const Buffer& dst, uint32_t size) const {
    if (opcode() == Opcode::kSend) return send_op(cookie, {src.sge(0, size)});
    return write_imm_op(cookie, {src.sge(0, size)}, dst, 0, 0x600D);
  }
  CompletionKind target_kind() const {
    return opcode() == Opcode::kSend ? CompletionKind::kRecv : CompletionKind::kRecvWriteWithImm;
  }
  CompletionKind initiator_kind() const {
    return opcode() == Opcode::kSend ? CompletionKind::kSend : CompletionKind::kWrite;
  }
  // Fast mode waits on real time: a short timer. Virtual time is free: a long one, so
  // that the number of retries shows in the time the failure takes.
  uint64_t rnr_timer_ns() const { return mode() == Mode::kFast ? 1'000 : 100'000; }
  PairSpec spec(uint32_t rnr_retry) const {
    PairSpec spec = pair_spec(kind());
    spec.config.rnr_retry = rnr_retry;
    spec.config.rnr_timer_ns = rnr_timer_ns();
    return spec;
  }
};

TEST_P(ReceiverNotReady, RetriesRunOutWithoutARecv) {
  World w(fabric_config(mode()));
  Pair p = w.pair(spec(2));
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  const uint64_t start_ns = w.fabric().now_ns();

  ASSERT_TRUE(is_ok(post(p.a, {request(1, src, dst, 1000)})));
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(has_status(cs[0], p.a, 1, Status::kRnrRetryExceeded));
  if (w.deterministic()) {
    // Two retries, each after the RNR timer; not a third.
    const uint64_t elapsed = w.fabric().now_ns() - start_ns;
    EXPECT_GE(elapsed, 2 * rnr_timer_ns());
    EXPECT_LT(elapsed, 3 * rnr_timer_ns());
  }
  if (kind() == EndpointKind::kRc) {
    EXPECT_EQ(p.a->state(), EndpointState::kError);
  }
  EXPECT_TRUE(w.no_completions(p.b));
  EXPECT_TRUE(dst.untouched());
  EXPECT_TRUE(src.intact_source());
}

TEST_P(ReceiverNotReady, InfiniteRetriesSucceedOnceARecvIsPosted) {
  World w(fabric_config(mode()));
  Pair p = w.pair(spec(7));
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  Buffer& recv_buf = w.buffer(1, 4096);

  ASSERT_TRUE(is_ok(post(p.a, {request(1, src, dst, 1000)})));
  w.advance(10 * rnr_timer_ns());  // ten retries in deterministic mode
  Completion early;
  auto early_count = p.a.send_cq->poll(std::span<Completion>(&early, 1));
  ASSERT_TRUE(is_ok(early_count));
  ASSERT_EQ(*early_count, 0u) << ::testing::PrintToString(early);
  EXPECT_TRUE(dst.untouched());
  EXPECT_EQ(p.a->state(), EndpointState::kReady);

  ASSERT_TRUE(is_ok(post_recv(p.b, 90, {recv_buf.sge(0, 4096)})));
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(is_completion(cs[0], p.a, 1, initiator_kind()));
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 90, target_kind()));
  EXPECT_EQ(got[0].byte_len, 1000u);
  if (opcode() == Opcode::kSend) {
    EXPECT_TRUE(recv_buf.holds(0, src, 0, 1000));
    EXPECT_TRUE(recv_buf.untouched_outside(0, 1000));
    EXPECT_TRUE(dst.untouched());
  } else {
    EXPECT_TRUE(got[0].has_imm);
    EXPECT_EQ(got[0].imm, 0x600Du);
    EXPECT_TRUE(dst.holds(0, src, 0, 1000));
    EXPECT_TRUE(dst.untouched_outside(0, 1000));
    EXPECT_TRUE(recv_buf.untouched());
  }
}

std::string rnr_name(const ::testing::TestParamInfo<RnrParam>& info) {
  const ModeKind& mk = std::get<0>(info.param);
  return std::string(mode_name(mk.mode)) + "_" + kind_name(mk.kind) + "_" +
         (std::get<1>(info.param) == Opcode::kSend ? "Send" : "WriteWithImm");
}

INSTANTIATE_TEST_SUITE_P(All, ReceiverNotReady,
                         ::testing::Combine(::testing::ValuesIn(all_mode_kinds()),
                                            ::testing::Values(Opcode::kSend,
                                                              Opcode::kWriteWithImm)),
                         rnr_name);

}  // namespace
}  // namespace ferry::emu::test
