// The peer not answering: transport retries run out (kRetryExceeded) when a link is
// down, a NIC dead, a node gone or the peer endpoint destroyed; a link back within the
// retries lets the request through. Faults go through the cluster; a fabric that
// cannot inject them skips those checks, saying so.
#include "transport/conformance/env.h"
#include "transport/conformance/registry.h"

namespace ferry::conformance {
namespace {

constexpr uint64_t kRetryTimeoutNs = 1'000'000;

EndpointConfig few_retries(EndpointKind kind, uint32_t retry_count) {
  EndpointConfig config = default_config(kind);
  config.retry_count = retry_count;
  config.retry_timeout_ns = kRetryTimeoutNs;
  return config;
}

// The initiator's link, then the target's: the retries run out, nothing lands, and on
// RC the rest of the queue flushes.
void retry_exceeded(Env& env) {
  for (int down : {1, 0}) {
    Pair p = env.pair(few_retries(env.kind(), 2));
    Buffer& src = env.source(0, 100'000);
    Buffer& dst = env.buffer(1, 100'000);
    env.inject(FabricFaultKind::kLinkDown, down);
    const uint64_t start = env.now();
    post_ok(p.a, {write_op(1, {src.sge(0, 100'000)}, dst, 0), write_op(2, {src.sge(0, 10)}, dst, 0)});
    auto cs = env.wait_send(p.a, 2);
    // Virtual time shows the retries were made: two, each after the timeout.
    if (!env.nodes().a->clock().is_wall_time()) {
      expect(env.now() - start >= 2 * kRetryTimeoutNs, "gave up after " + std::to_string(env.now() - start) +
                                                          " ns, before two retries of " + std::to_string(kRetryTimeoutNs) + " ns");
    }
    env.inject(FabricFaultKind::kLinkUp, down);
    if (env.rc()) {
      expect_status(cs[0], p.a, 1, Status::kRetryExceeded);
      expect_status(cs[1], p.a, 2, Status::kFlushed);
      expect(p.a->state() == EndpointState::kError, "RC endpoint should be in error after retries ran out");
    } else {
      for (uint64_t cookie : {1, 2}) expect_status(find_cookie(cs, cookie), p.a, cookie, Status::kRetryExceeded);
    }
    env.settle();
    dst.expect_untouched();
  }
}

void link_back_within_retries(Env& env) {
  if (env.nodes().a->clock().is_wall_time()) {
    skip("timing a link's return against the retry timer needs virtual time; on real time the race is the scheduler's");
  }
  Pair p = env.pair(few_retries(env.kind(), 3));
  Buffer& src = env.source(0, 100'000);
  Buffer& dst = env.buffer(1, 100'000);
  env.inject(FabricFaultKind::kLinkDown, 1);
  const uint64_t up_ns = env.now() + kRetryTimeoutNs * 3 / 2;
  env.inject_at(up_ns, FabricFaultKind::kLinkUp, 1);
  post_ok(p.a, {write_op(1, {src.sge(0, 100'000)}, dst, 0)});
  expect_completion(env.wait_send(p.a)[0], p.a, 1, CompletionKind::kWrite);
  expect(env.now() >= up_ns, "the write completed while the link was down");
  expect(p.a->state() == EndpointState::kReady, "the endpoint should stay ready");
  dst.expect_holds(0, src, 0, 100'000);
  dst.expect_untouched_outside({{0, 100'000}});
}

// No fault needed: the peer endpoint is destroyed, with work of its own in flight.
void destroyed_peer(Env& env) {
  Pair p = env.pair(few_retries(env.kind(), 2));
  Buffer& src = env.source(0, 8 * 512);
  Buffer& dst = env.buffer(1, 8 * 512);
  Buffer& back_src = env.source(1, 4096);
  Buffer& back_dst = env.buffer(0, 4096);
  std::vector<Op> ops;
  for (uint64_t i = 0; i < 8; ++i) ops.push_back(write_op(i, {back_src.sge(i * 256, 256)}, back_dst, i * 256));
  post_ok(p.b, ops);
  env.destroy(p.b);
  env.settle();
  post_ok(p.a, {write_op(9, {src.sge(0, 100)}, dst, 0)});
  expect_status(env.wait_send(p.a)[0], p.a, 9, Status::kRetryExceeded);
  env.settle();
  dst.expect_untouched();
  back_src.expect_intact_source();
}

void nic_death(Env& env) {
  Pair p = env.pair(few_retries(env.kind(), 2));
  Buffer& src = env.source(0, 4096);
  Buffer& dst = env.buffer(1, 4096);
  env.inject(FabricFaultKind::kNicDeath, 1);
  post_ok(p.a, {write_op(1, {src.sge(0, 256)}, dst, 0)});
  expect_status(env.wait_send(p.a)[0], p.a, 1, Status::kRetryExceeded);
  env.settle();
  dst.expect_untouched();
}

void node_loss(Env& env) {
  Pair p = env.pair(few_retries(env.kind(), 2));
  Buffer& src = env.source(0, 4096);
  Buffer& recv_buf = env.buffer(1, 4096);
  post_recv_ok(p.b, 60, {recv_buf.sge(0, 4096)});
  env.inject(FabricFaultKind::kNodeLoss, 1);
  post_ok(p.a, {send_op(1, {src.sge(0, 500)})});
  expect_status(env.wait_send(p.a)[0], p.a, 1, Status::kRetryExceeded);
  env.settle();
  recv_buf.expect_untouched();
}

}  // namespace

void add_fault_checks(std::vector<Check>& out) {
  out.push_back({"error/retry-exceeded", "with the initiator's or the target's link down, retries run out: retry exceeded, nothing lands, RC flushes the rest", retry_exceeded});
  out.push_back({"fault/link-back-within-retries", "a link back up before the retries run out lets the write through whole", link_back_within_retries});
  out.push_back({"fault/destroyed-peer", "a write to a destroyed peer endpoint: retry exceeded, nothing lands", destroyed_peer});
  out.push_back({"fault/nic-death", "a write to a dead NIC: retry exceeded, nothing lands", nic_death});
  out.push_back({"fault/node-loss", "a send to a vanished node: retry exceeded, its recv untouched", node_loss});
}

}  // namespace ferry::conformance
