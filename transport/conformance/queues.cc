// Queues and their limits: set_error() flushing, completion queue overflow,
// receiver-not-ready retries, and what post_send/post_recv refuse outright.
#include "transport/conformance/env.h"
#include "transport/conformance/registry.h"

namespace ferry::conformance {
namespace {

// set_error(): outstanding and later requests and posted recvs complete flushed, and
// nothing they named moves.
void flush(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 4096);
  Buffer& dst = env.buffer(1, 4096);
  Buffer& parked = env.buffer(0, 256);
  Buffer& target_parked = env.buffer(1, 256);
  post_recv_ok(p.a, 70, {parked.sge(0, 256)});
  post_recv_ok(p.b, 11, {target_parked.sge(0, 256)});
  p.b->set_error();
  expect(p.b->state() == EndpointState::kError, "set_error() should leave the endpoint in error");
  expect_status(env.wait_recv(p.b)[0], p.b, 11, Status::kFlushed);

  // No recv at the target any more: the send stays outstanding (or fails), and is
  // flushed by set_error() at the latest.
  p.a->set_error();
  post_ok(p.a, {send_op(1, {src.sge(0, 100)}), write_op(2, {src.sge(0, 512)}, dst, 0)});
  auto cs = env.wait_send(p.a, 2);
  expect_status(cs[0], p.a, 1, Status::kFlushed);
  expect_status(cs[1], p.a, 2, Status::kFlushed);
  expect_status(env.wait_recv(p.a)[0], p.a, 70, Status::kFlushed);
  env.settle();
  dst.expect_untouched();
  parked.expect_untouched();
  target_parked.expect_untouched();
}

// set_error() with a request outstanding (a send retried for want of a recv).
void flush_outstanding(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 4096);
  Buffer& late_recv = env.buffer(1, 4096);
  post_ok(p.a, {send_op(1, {src.sge(0, 100)})});
  env.pass_time(50'000);
  Completion early;
  auto polled = p.a.send_cq->poll(std::span<Completion>(&early, 1));
  expect_ok(polled, "poll");
  expect(*polled == 0, "a send with no recv at the target completed while retries were left: " + describe(early));
  p.a->set_error();
  expect_status(env.wait_send(p.a)[0], p.a, 1, Status::kFlushed);
  // A recv posted now receives nothing: the flushed send never went.
  post_recv_ok(p.b, 80, {late_recv.sge(0, 4096)});
  env.settle();
  Completion at_target;
  auto got = p.b.recv_cq->poll(std::span<Completion>(&at_target, 1));
  expect_ok(got, "poll");
  expect(*got == 0 || at_target.status != Status::kSuccess, "the flushed send landed: " + describe(at_target));
  late_recv.expect_untouched();
}

void cq_overflow(Env& env) {
  Pair p = env.pair(default_config(env.kind()), 4);
  const size_t count = std::max<size_t>(8, 2 * p.a.send_cq->depth());
  Buffer& src = env.source(0, 64 * count);
  Buffer& dst = env.buffer(1, 64 * count);
  std::vector<Op> ops;
  for (size_t i = 0; i < count; ++i) ops.push_back(write_op(i, {src.sge(i * 64, 64)}, dst, i * 64));
  post_ok(p.a, ops);
  env.settle();
  std::vector<Completion> out(2 * count);
  auto first = p.a.send_cq->poll(out);
  expect(!first.ok(), "a queue of depth " + std::to_string(p.a.send_cq->depth()) + " took " + std::to_string(count) +
                          " completions and reported no overflow");
  expect(first.error().code == ErrorCode::kResourceExhausted, "overflow should be resource exhausted: " + first.error().to_string());
  expect(!p.a.send_cq->poll(out).ok(), "the overflow must stay reported");
  expect(p.a->state() == EndpointState::kError, "the endpoint that lost completions should be in error");
}

// Receiver not ready: a send or write-with-imm finding no recv, retried rnr_retry times.
void rnr_retry_exceeded(Env& env) {
  for (Opcode opcode : {Opcode::kSend, Opcode::kWriteWithImm}) {
    EndpointConfig config = default_config(env.kind());
    config.rnr_retry = 1;
    Pair p = env.pair(config);
    Buffer& src = env.source(0, 4096);
    Buffer& dst = env.buffer(1, 4096);
    const uint64_t start = env.now();
    post_ok(p.a, {opcode == Opcode::kSend ? send_op(1, {src.sge(0, 1000)}) : write_imm_op(1, {src.sge(0, 1000)}, dst, 0, 5)});
    expect_status(env.wait_send(p.a)[0], p.a, 1, Status::kRnrRetryExceeded);
    // Virtual time shows the retry was made: one RNR timer passed before giving up.
    if (!env.nodes().a->clock().is_wall_time()) {
      expect(env.now() - start >= config.rnr_timer_ns, "gave up after " + std::to_string(env.now() - start) +
                                                           " ns, before the one RNR retry was due");
    }
    if (env.rc()) expect(p.a->state() == EndpointState::kError, "RC initiator should be in error after RNR retries ran out");
    expect(p.b->state() == EndpointState::kReady, "the target is unaffected by RNR");
    env.expect_no_completions(p.b);
    dst.expect_untouched();
    src.expect_intact_source();
  }
}

// rnr_retry 7 retries forever: the request waits for a recv, then lands.
void rnr_until_recv(Env& env) {
  for (Opcode opcode : {Opcode::kSend, Opcode::kWriteWithImm}) {
    Pair p = env.pair();  // rnr_retry 7
    Buffer& src = env.source(0, 9000);
    Buffer& dst = env.buffer(1, 9000);
    Buffer& recv_buf = env.buffer(1, 9000);
    const bool send = opcode == Opcode::kSend;
    post_ok(p.a, {send ? send_op(1, {src.sge(0, 9000)}) : write_imm_op(1, {src.sge(0, 9000)}, dst, 0, 0x600D)});
    env.pass_time(20 * default_config(env.kind()).rnr_timer_ns);  // many retries
    Completion early;
    auto polled = p.a.send_cq->poll(std::span<Completion>(&early, 1));
    expect_ok(polled, "poll");
    expect(*polled == 0, "completed before a recv was posted: " + describe(early));
    expect(p.a->state() == EndpointState::kReady, "the initiator should stay ready while it retries");
    dst.expect_untouched();
    recv_buf.expect_untouched();

    post_recv_ok(p.b, 90, {recv_buf.sge(0, 9000)});
    expect_completion(env.wait_send(p.a)[0], p.a, 1, send ? CompletionKind::kSend : CompletionKind::kWrite);
    const Completion got = env.wait_recv(p.b)[0];
    expect_completion(got, p.b, 90, send ? CompletionKind::kRecv : CompletionKind::kRecvWriteWithImm);
    expect(got.byte_len == 9000, "byte_len: " + describe(got));
    Buffer& landed = send ? recv_buf : dst;
    landed.expect_holds(0, src, 0, 9000);
    landed.expect_untouched_outside({{0, 9000}});
    (send ? dst : recv_buf).expect_untouched();
    if (!send) expect(got.has_imm && got.imm == 0x600D, "immediate: " + describe(got));
  }
}

void post_before_connect(Env& env) {
  Ep& a = env.endpoint(0, default_config(env.kind()));
  Buffer& src = env.source(0, 4096);
  Buffer& dst = env.buffer(1, 4096);
  expect(a->state() == EndpointState::kInit, std::string("a new endpoint should be in init, it is ") + to_string(a->state()));
  size_t bad = 99;
  auto write = post(a, {write_op(1, {src.sge(0, 64)}, dst, 0)}, &bad);
  expect(!write.ok(), "post_send before connect() was accepted");
  expect(bad == 0, "bad_index should name the first request, got " + std::to_string(bad));
  expect(!post(a, {send_op(2, {src.sge(0, 64)})}).ok(), "a send before connect() was accepted");
  // Receives too: verbs refuses them on a queue pair still in its reset state.
  expect(!post_recv(a, 3, {dst.sge(0, 64)}).ok(), "post_recv before connect() was accepted");
  env.expect_no_completions(a);
  dst.expect_untouched();
}

void too_many_sges(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 4096);
  Buffer& dst = env.buffer(1, 4096);
  Buffer& first = env.buffer(1, 256);
  const uint32_t max_sge = env.attributes(0).max_sge;
  std::vector<Sge> list(max_sge + 1, src.sge(0, 1));
  size_t bad = 99;
  auto r = post(p.a, {write_op(1, {src.sge(0, 256)}, first, 0), write_op(2, list, dst, 0),
                      write_op(3, {src.sge(0, 256)}, dst, 1024)},
                &bad);
  expect(!r.ok(), "a request of max_sge + 1 entries was accepted");
  expect(bad == 1, "bad_index should name the request of too many entries, got " + std::to_string(bad));
  // The request before the bad one was posted; those from it on were not.
  expect_completion(env.wait_send(p.a)[0], p.a, 1, CompletionKind::kWrite);
  first.expect_holds(0, src, 0, 256);
  env.expect_no_completions(p.a);
  dst.expect_untouched();
  expect(p.a->state() == EndpointState::kReady, "a refused post should leave the endpoint ready");

  // Recvs too: the good one before the bad one is posted and takes the next send.
  Buffer& recv_buf = env.buffer(1, 4096);
  std::vector<Sge> good = {recv_buf.sge(0, 4096)};
  std::vector<Sge> too_many(env.attributes(1).max_sge + 1, recv_buf.sge(0, 1));
  const RecvRequest recvs[] = {{20, good.data(), 1}, {21, too_many.data(), static_cast<uint32_t>(too_many.size())}};
  bad = 99;
  expect(!p.b->post_recv(recvs, &bad).ok(), "a recv of max_sge + 1 entries was accepted");
  expect(bad == 1, "bad_index should name the recv of too many entries, got " + std::to_string(bad));
  // A list of one entry that is not there.
  WorkRequest no_list;
  no_list.num_sge = 1;
  expect(!p.a->post_send({&no_list, 1}).ok(), "a request with num_sge 1 and no list was accepted");
  post_ok(p.a, {send_op(30, {src.sge(0, 300)})});
  const Completion got = env.wait_recv(p.b)[0];
  expect_completion(got, p.b, 20, CompletionKind::kRecv);
  recv_buf.expect_holds(0, src, 0, 300);
  recv_buf.expect_untouched_outside({{0, 300}});
}

// Sends with no recv at the target stay outstanding (retried forever) and fill the
// send queue; the one beyond max_send_wr is refused with kResourceExhausted.
void full_send_queue(Env& env) {
  EndpointConfig config = default_config(env.kind());
  config.max_send_wr = 4;
  Pair p = env.pair(config);
  Buffer& src = env.source(0, 4096);
  Buffer& recv_buf = env.buffer(1, 4 * 512);
  auto send = [&](uint64_t i) { return send_op(i, {src.sge(i * 256, static_cast<uint32_t>(100 + i))}); };
  size_t bad = 99;
  auto r = post(p.a, {send(0), send(1), send(2), send(3), send(4)}, &bad);
  expect(!r.ok(), "a fifth request on a send queue of 4 was accepted");
  expect(r.error().code == ErrorCode::kResourceExhausted, "a full send queue should be resource exhausted: " + r.error().to_string());
  expect(bad == 4, "bad_index should be 4, got " + std::to_string(bad));
  env.pass_time(50'000);
  r = post(p.a, {send(5)}, &bad);
  expect(!r.ok() && r.error().code == ErrorCode::kResourceExhausted, "the queue is still full while the sends wait");
  // The four posted go through once recvs are there, and free their slots.
  for (uint64_t i = 0; i < 4; ++i) post_recv_ok(p.b, 100 + i, {recv_buf.sge(i * 512, 512)});
  auto sent = env.wait_send(p.a, 4);
  expect(sorted(cookies_of(sent)) == iota(0, 4), "each send completes once: " + list(cookies_of(sent)));
  if (env.rc()) expect(cookies_of(sent) == iota(0, 4), "RC completions out of posting order: " + list(cookies_of(sent)));
  for (const Completion& c : env.wait_recv(p.b, 4)) {
    expect_completion(c, p.b, c.cookie, CompletionKind::kRecv);
    expect(c.byte_len >= 100 && c.byte_len < 104, "unexpected byte_len: " + describe(c));
    const uint64_t i = c.byte_len - 100, slot = c.cookie - 100;  // which send landed in which slot
    if (env.rc()) expect(i == slot, "RC recvs consumed out of order: " + describe(c));
    recv_buf.expect_holds(slot * 512, src, i * 256, 100 + i);
    recv_buf.expect_untouched(slot * 512 + 100 + i, 512 - 100 - i);
  }
  post_ok(p.a, {write_op(9, {src.sge(0, 8)}, recv_buf, 0)});
  expect_completion(env.wait_send(p.a)[0], p.a, 9, CompletionKind::kWrite);
}

void full_recv_queue(Env& env) {
  EndpointConfig config = default_config(env.kind());
  config.max_recv_wr = 4;
  Pair p = env.pair(config);
  Buffer& src = env.source(0, 4096);
  Buffer& recv_buf = env.buffer(1, 5 * 512);
  std::vector<std::vector<Sge>> lists;
  std::vector<RecvRequest> recvs;
  for (size_t i = 0; i < 5; ++i) lists.push_back({recv_buf.sge(i * 512, 512)});
  for (size_t i = 0; i < 5; ++i) recvs.push_back({100 + i, lists[i].data(), 1});
  size_t bad = 99;
  auto r = p.b->post_recv(recvs, &bad);
  expect(!r.ok(), "a fifth recv on a recv queue of 4 was accepted");
  expect(r.error().code == ErrorCode::kResourceExhausted, "a full recv queue should be resource exhausted: " + r.error().to_string());
  expect(bad == 4, "bad_index should be 4, got " + std::to_string(bad));
  std::vector<Op> sends;
  for (uint64_t i = 0; i < 4; ++i) sends.push_back(send_op(i, {src.sge(i * 512, 512)}));
  post_ok(p.a, sends);
  auto got = env.wait_recv(p.b, 4);
  expect(sorted(cookies_of(got)) == iota(100, 4), "the four posted recvs each take one send: " + list(cookies_of(got)));
  recv_buf.expect_untouched(4 * 512, 512);
  env.wait_send(p.a, 4);
}

}  // namespace

void add_queue_checks(std::vector<Check>& out) {
  out.push_back({"error/flush", "after set_error() posted recvs and new requests complete flushed; nothing moves", flush});
  out.push_back({"error/flush-outstanding", "set_error() flushes a request still outstanding; it never lands", flush_outstanding});
  out.push_back({"cq-overflow", "more completions than a queue holds: poll reports resource exhausted, and keeps reporting it; the endpoint is in error", cq_overflow});
  out.push_back({"error/receiver-not-ready", "a send or write-with-imm with no recv, one RNR retry: RNR retries exceeded, nothing written, the target unaffected", rnr_retry_exceeded});
  out.push_back({"rnr-until-recv", "with rnr_retry 7 a send or write-with-imm waits for a recv, then lands whole", rnr_until_recv});
  out.push_back({"post/before-connect", "post_send and post_recv before connect() fail, and nothing happens", post_before_connect});
  out.push_back({"post/too-many-sges", "a request or recv of max_sge + 1 entries (or no list for its entries) fails the call at its index; those before it are posted", too_many_sges});
  out.push_back({"post/full-send-queue", "the request beyond max_send_wr fails with resource exhausted; the queued ones complete later", full_send_queue});
  out.push_back({"post/full-recv-queue", "the recv beyond max_recv_wr fails with resource exhausted; the posted ones work", full_recv_queue});
}

}  // namespace ferry::conformance
