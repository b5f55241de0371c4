// What each operation moves and reports: write, write-with-imm, read, send/recv,
// scatter-gather lists, unsignaled requests, batches, many requests in flight. Every
// byte that lands is checked against its source, every other byte against its canary.
#include "transport/conformance/env.h"
#include "transport/conformance/registry.h"

namespace ferry::conformance {
namespace {

void skip_without_read(Env& env) {
  if (!env.attributes(0).supports_rdma_read || !env.attributes(1).supports_rdma_read) {
    skip("the device does not support RDMA read");
  }
}

void write(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 80'000);
  // Sizes around the MTU and one of many packets.
  const uint32_t mtu = env.attributes(0).mtu;
  for (uint32_t size : {1u, 7u, mtu - 1, mtu, mtu + 1, 70'001u}) {
    Buffer& dst = env.buffer(1, 80'000);
    const size_t src_off = 3, dst_off = 1001;
    post_ok(p.a, {write_op(size, {src.sge(src_off, size)}, dst, dst_off)});
    auto cs = env.wait_send(p.a);
    expect_completion(cs[0], p.a, size, CompletionKind::kWrite);
    dst.expect_holds(dst_off, src, src_off, size);
    dst.expect_untouched_outside({{dst_off, size}});
  }
  src.expect_intact_source();
  env.expect_no_completions(p.a);
  env.expect_no_completions(p.b);  // a plain write is invisible to the target
}

void write_gather(Env& env) {
  Pair p = env.pair();
  Buffer& src1 = env.source(0, 12'000);
  Buffer& src2 = env.source(0, 4096);
  Buffer& dst = env.buffer(1, 8192);
  // Pieces of two regions, each with its own lkey.
  post_ok(p.a, {write_op(1, {src1.sge(0, 1000), src2.sge(5, 24), src1.sge(9000, 3000)}, dst, 100)});
  expect_completion(env.wait_send(p.a)[0], p.a, 1, CompletionKind::kWrite);
  dst.expect_holds(100, src1, 0, 1000);
  dst.expect_holds(1100, src2, 5, 24);
  dst.expect_holds(1124, src1, 9000, 3000);
  dst.expect_untouched_outside({{100, 4024}});
}

void write_max_sge(Env& env) {
  Pair p = env.pair();
  const uint32_t max_sge = std::min(env.attributes(0).max_sge, 64u);
  Buffer& src = env.source(0, 64 * max_sge);
  Buffer& dst = env.buffer(1, 64 * max_sge);
  std::vector<Sge> list;
  for (uint32_t i = 0; i < max_sge; ++i) list.push_back(src.sge(64 * (max_sge - 1 - i), 64));
  post_ok(p.a, {write_op(1, list, dst, 0)});
  expect_completion(env.wait_send(p.a)[0], p.a, 1, CompletionKind::kWrite);
  for (uint32_t i = 0; i < max_sge; ++i) dst.expect_holds(64 * i, src, 64 * (max_sge - 1 - i), 64);
}

void write_with_imm(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 100'000);
  Buffer& dst = env.buffer(1, 100'000);
  Buffer& recv_buf = env.buffer(1, 256);
  post_recv_ok(p.b, 41, {recv_buf.sge(0, 256)});
  post_recv_ok(p.b, 42, {recv_buf.sge(0, 256)});
  post_ok(p.a, {write_imm_op(8, {src.sge(10, 90'000)}, dst, 24, 0xABCD1234)});
  expect_completion(env.wait_send(p.a)[0], p.a, 8, CompletionKind::kWrite);
  const Completion got = env.wait_recv(p.b)[0];
  expect_completion(got, p.b, 41, CompletionKind::kRecvWriteWithImm);
  expect(got.has_imm && got.imm == 0xABCD1234u, "the target's completion lacks the immediate: " + describe(got));
  expect(got.byte_len == 90'000u, "byte_len should be the bytes written: " + describe(got));
  dst.expect_holds(24, src, 10, 90'000);
  dst.expect_untouched_outside({{24, 90'000}});
  recv_buf.expect_untouched();  // the data goes to the rkey's region, not the recv's list
  env.expect_no_completions(p.b);  // recv 42 is still posted

  // Zero bytes: only the immediate, and one recv.
  post_ok(p.a, {write_imm_op(9, {}, dst, 0, 77)});
  expect_completion(env.wait_send(p.a)[0], p.a, 9, CompletionKind::kWrite);
  const Completion empty = env.wait_recv(p.b)[0];
  expect_completion(empty, p.b, 42, CompletionKind::kRecvWriteWithImm);
  expect(empty.has_imm && empty.imm == 77 && empty.byte_len == 0, "zero-length write-with-imm: " + describe(empty));
  dst.expect_untouched_outside({{24, 90'000}});
  recv_buf.expect_untouched();
}

void read(Env& env) {
  skip_without_read(env);
  Pair p = env.pair();
  Buffer& remote = env.source(1, 300'000);
  Buffer& local = env.buffer(0, 300'000);
  post_ok(p.a, {read_op(3, {local.sge(10, 700), local.sge(5000, 200'000)}, remote, 50)});
  expect_completion(env.wait_send(p.a)[0], p.a, 3, CompletionKind::kRead);
  local.expect_holds(10, remote, 50, 700);
  local.expect_holds(5000, remote, 750, 200'000);
  local.expect_untouched_outside({{10, 700}, {5000, 200'000}});
  remote.expect_intact_source();
  env.expect_no_completions(p.b);  // the target sees nothing
}

void send_recv_scatter(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 20'000);
  Buffer& dst = env.buffer(1, 30'000);
  // Source in two pieces, recv in three, none aligned with each other or the MTU.
  post_recv_ok(p.b, 40, {dst.sge(0, 5000), dst.sge(10'000, 9000), dst.sge(25'000, 5000)});
  post_ok(p.a, {send_op(4, {src.sge(0, 7000), src.sge(9000, 10'000)})});
  expect_completion(env.wait_send(p.a)[0], p.a, 4, CompletionKind::kSend);
  const Completion got = env.wait_recv(p.b)[0];
  expect_completion(got, p.b, 40, CompletionKind::kRecv);
  expect(got.byte_len == 17'000 && !got.has_imm, "recv should report 17000 bytes and no immediate: " + describe(got));
  dst.expect_holds(0, src, 0, 5000);
  dst.expect_holds(10'000, src, 5000, 2000);
  dst.expect_holds(12'000, src, 9000, 7000);
  dst.expect_holds(25'000, src, 16'000, 3000);
  dst.expect_untouched_outside({{0, 5000}, {10'000, 9000}, {25'000, 3000}});

  // Zero bytes: a recv completion of length 0.
  post_recv_ok(p.b, 41, {dst.sge(0, 64)});
  post_ok(p.a, {send_op(5, {})});
  expect_completion(env.wait_send(p.a)[0], p.a, 5, CompletionKind::kSend);
  const Completion empty = env.wait_recv(p.b)[0];
  expect_completion(empty, p.b, 41, CompletionKind::kRecv);
  expect(empty.byte_len == 0 && !empty.has_imm, "zero-length send: " + describe(empty));
  dst.expect_holds(0, src, 0, 5000);
}

void unsignaled_requests(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 4096);
  Buffer& dst = env.buffer(1, 4096);
  post_recv_ok(p.b, 50, {});
  post_ok(p.a, {unsignaled(write_op(1, {src.sge(0, 1000)}, dst, 0)),
                unsignaled(write_imm_op(2, {src.sge(1000, 1000)}, dst, 1000, 22)),
                write_op(3, {src.sge(2000, 1000)}, dst, 2000)});
  expect_completion(env.wait_send(p.a)[0], p.a, 3, CompletionKind::kWrite);
  // The target sees a write-with-imm whether or not the initiator asked to.
  const Completion got = env.wait_recv(p.b)[0];
  expect_completion(got, p.b, 50, CompletionKind::kRecvWriteWithImm);
  expect(got.imm == 22, "wrong immediate: " + describe(got));
  env.expect_no_completions(p.a);  // settles first: unordered endpoints may finish late
  dst.expect_holds(0, src, 0, 3000);
  dst.expect_untouched_outside({{0, 3000}});
}

void batch_of_64(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 64 * 512);
  Buffer& dst = env.buffer(1, 64 * 512);
  std::vector<Op> ops;
  for (uint64_t i = 0; i < 64; ++i) {
    Op op = write_op(i, {src.sge(i * 512, 512)}, dst, i * 512);
    ops.push_back(i % 4 == 3 ? op : unsignaled(op));  // selective signalling, as engines post
  }
  post_ok(p.a, ops);
  auto cs = env.wait_send(p.a, 16);
  std::vector<uint64_t> want;
  for (uint64_t i = 3; i < 64; i += 4) want.push_back(i);
  for (const Completion& c : cs) expect_completion(c, p.a, c.cookie, CompletionKind::kWrite);
  if (env.rc()) {
    expect(cookies_of(cs) == want, "RC completions out of posting order: " + list(cookies_of(cs)));
  }
  expect(sorted(cookies_of(cs)) == want, "expected the 16 signalled completions, got " + list(cookies_of(cs)));
  env.expect_no_completions(p.a);
  dst.expect_holds(0, src, 0, 64 * 512);
}

// Every opcode in one post, and many requests in flight: each completes exactly once
// and moves exactly its bytes. Order is ordering.cc's.
void many_in_flight(Env& env) {
  skip_without_read(env);
  constexpr size_t kOps = 200, kSlot = 9000;
  EndpointConfig config = default_config(env.kind());
  config.max_send_wr = kOps;
  Pair p = env.pair(config);
  Buffer& src = env.source(0, kOps * kSlot);
  Buffer& dst = env.buffer(1, kOps * kSlot);
  Buffer& remote = env.source(1, kOps * kSlot);
  Buffer& back = env.buffer(0, kOps * kSlot);
  Buffer& recv_buf = env.buffer(1, kOps * kSlot);
  auto size_of = [](size_t i) { return static_cast<uint32_t>(1 + (i * 997) % kSlot); };
  std::vector<Op> ops;
  size_t recvs = 0;
  for (size_t i = 0; i < kOps; ++i) {
    const size_t at = i * kSlot;
    switch (i % 4) {
      case 0: ops.push_back(write_op(i, {src.sge(at, size_of(i))}, dst, at)); break;
      case 1: ops.push_back(write_imm_op(i, {src.sge(at, size_of(i))}, dst, at, static_cast<uint32_t>(i))); break;
      case 2: ops.push_back(send_op(i, {src.sge(at, size_of(i))})); break;
      case 3: ops.push_back(read_op(i, {back.sge(at, size_of(i))}, remote, at)); break;
    }
    if (i % 4 == 1 || i % 4 == 2) post_recv_ok(p.b, 1000 + recvs, {recv_buf.sge(recvs * kSlot, kSlot)}), ++recvs;
  }
  post_ok(p.a, ops);
  auto sent = env.wait_send(p.a, kOps);
  auto got = env.wait_recv(p.b, recvs);
  expect(sorted(cookies_of(sent)) == iota(0, kOps), "each request should complete once: " + list(sorted(cookies_of(sent))));
  const CompletionKind kinds[] = {CompletionKind::kWrite, CompletionKind::kWrite, CompletionKind::kSend,
                                  CompletionKind::kRead};
  for (const Completion& c : sent) expect_completion(c, p.a, c.cookie, kinds[c.cookie % 4]);
  expect(sorted(cookies_of(got)) == iota(1000, recvs), "each recv should be consumed once: " + list(sorted(cookies_of(got))));
  std::vector<std::pair<size_t, size_t>> written, received;
  for (const Completion& c : got) {
    const size_t slot = c.cookie - 1000;
    if (c.kind == CompletionKind::kRecvWriteWithImm) {
      expect_completion(c, p.b, c.cookie, CompletionKind::kRecvWriteWithImm);
      expect(c.has_imm && c.imm % 4 == 1 && c.byte_len == size_of(c.imm), "write-with-imm at the target: " + describe(c));
    } else {
      expect_completion(c, p.b, c.cookie, CompletionKind::kRecv);
      // Which send landed here: the one whose size matches and whose bytes are here.
      size_t from = kOps;
      for (size_t i = 2; i < kOps; i += 4) {
        if (size_of(i) == c.byte_len) from = i;
      }
      expect(from < kOps, "a recv of a size no send had: " + describe(c));
      recv_buf.expect_holds(slot * kSlot, src, from * kSlot, c.byte_len);
      received.push_back({slot * kSlot, c.byte_len});
    }
  }
  for (size_t i = 0; i < kOps; ++i) {
    const size_t at = i * kSlot;
    if (i % 4 == 3) {
      back.expect_holds(at, remote, at, size_of(i));
    } else if (i % 4 != 2) {
      dst.expect_holds(at, src, at, size_of(i));
      written.push_back({at, size_of(i)});
    }
  }
  dst.expect_untouched_outside(written);
  recv_buf.expect_untouched_outside(received);
  remote.expect_intact_source();
}

// The send queue filled to the brim, drained and filled again: each round delivers.
void send_queue_refill(Env& env) {
  constexpr uint32_t kDepth = 8, kRounds = 5, kSize = 3 * 4096 + 7;
  EndpointConfig config = default_config(env.kind());
  config.max_send_wr = kDepth;
  Pair p = env.pair(config);
  Buffer& src = env.source(0, kRounds * kDepth * kSize);
  Buffer& dst = env.buffer(1, kRounds * kDepth * kSize);
  for (uint32_t round = 0; round < kRounds; ++round) {
    std::vector<Op> writes;
    for (uint32_t i = 0; i < kDepth; ++i) {
      const uint64_t at = (uint64_t{round} * kDepth + i) * kSize;
      writes.push_back(write_op(round * kDepth + i, {src.sge(at, kSize)}, dst, at));
    }
    post_ok(p.a, writes);
    for (const Completion& c : env.wait_send(p.a, kDepth)) expect_completion(c, p.a, c.cookie, CompletionKind::kWrite);
  }
  dst.expect_holds(0, src, 0, uint64_t{kRounds} * kDepth * kSize);
}

// Two endpoints on one queue: endpoint_id tells their completions apart.
void shared_completion_queue(Env& env) {
  CompletionQueue& shared = env.completion_queue(0, 64);
  EndpointConfig config = default_config(env.kind());
  Ep& a1 = env.endpoint(0, config, 64, &shared);
  Ep& a2 = env.endpoint(0, config, 64, &shared);
  Ep& b1 = env.endpoint(1, config);
  Ep& b2 = env.endpoint(1, config);
  Env::connect(a1, b1);
  Env::connect(a2, b2);
  Buffer& src = env.source(0, 4096);
  Buffer& dst1 = env.buffer(1, 4096);
  Buffer& dst2 = env.buffer(1, 4096);
  post_ok(a1, {write_op(7, {src.sge(0, 100)}, dst1, 0)});
  post_ok(a2, {write_op(7, {src.sge(100, 100)}, dst2, 0)});
  auto cs = env.wait_send(a1, 2);  // the queue both post to
  expect(cs[0].endpoint_id != cs[1].endpoint_id, "both completions name one endpoint: " + describe(cs[0]));
  const Completion& first = cs[0].endpoint_id == a1.id() ? cs[0] : cs[1];
  const Completion& second = cs[0].endpoint_id == a1.id() ? cs[1] : cs[0];
  expect_completion(first, a1, 7, CompletionKind::kWrite);
  expect_completion(second, a2, 7, CompletionKind::kWrite);
  dst1.expect_holds(0, src, 0, 100);
  dst2.expect_holds(0, src, 100, 100);
}

// Two endpoints of one node connected to each other.
void loopback(Env& env) {
  skip_without_read(env);
  EndpointConfig config = default_config(env.kind());
  Ep& a = env.endpoint(0, config);
  Ep& b = env.endpoint(0, config);
  Env::connect(a, b);
  Buffer& src = env.source(0, 8192);
  Buffer& dst = env.buffer(0, 8192);
  Buffer& recv_buf = env.buffer(0, 8192);
  Buffer& local = env.buffer(0, 8192);
  post_recv_ok(b, 30, {recv_buf.sge(0, 8192)});
  post_ok(a, {write_op(1, {src.sge(0, 3000)}, dst, 100)});
  expect_completion(env.wait_send(a)[0], a, 1, CompletionKind::kWrite);
  post_ok(a, {send_op(2, {src.sge(3000, 2000)})});
  expect_completion(env.wait_send(a)[0], a, 2, CompletionKind::kSend);
  post_ok(a, {read_op(3, {local.sge(0, 4000)}, src, 4000)});
  expect_completion(env.wait_send(a)[0], a, 3, CompletionKind::kRead);
  const Completion got = env.wait_recv(b)[0];
  expect_completion(got, b, 30, CompletionKind::kRecv);
  expect(got.byte_len == 2000, "recv byte_len: " + describe(got));
  dst.expect_holds(100, src, 0, 3000);
  dst.expect_untouched_outside({{100, 3000}});
  recv_buf.expect_holds(0, src, 3000, 2000);
  recv_buf.expect_untouched_outside({{0, 2000}});
  local.expect_holds(0, src, 4000, 4000);
  src.expect_intact_source();
}

}  // namespace

void add_operation_checks(std::vector<Check>& out) {
  out.push_back({"write", "writes of 1 byte to many packets land exactly in the target range; the target sees no completion", write});
  out.push_back({"write-gather", "a write gathering three entries of two regions lands in order, nothing around it changes", write_gather});
  out.push_back({"write-max-sge", "a write of max_sge entries (at most 64) is accepted and lands in list order", write_max_sge});
  out.push_back({"write-with-imm", "the data lands, one recv is consumed with the immediate and byte count, its list untouched; zero bytes carry only the immediate", write_with_imm});
  out.push_back({"read", "an RDMA read scatters the peer's bytes into the local list; the target sees nothing", read});
  out.push_back({"send-recv-scatter", "a gathered send lands scattered over a three-entry recv with the right byte_len; a zero-length send completes a recv of 0", send_recv_scatter});
  out.push_back({"unsignaled", "unsignaled successes complete silently; the target still sees the write-with-imm", unsignaled_requests});
  out.push_back({"batch-of-64", "64 writes in one call, every fourth signalled: exactly those 16 complete (in posting order on RC)", batch_of_64});
  out.push_back({"many-in-flight", "200 requests of every opcode in one call: each completes once, each recv is consumed once, every byte right", many_in_flight});
  out.push_back({"send-queue-refill", "a send queue filled to max_send_wr, drained and refilled five times delivers every round", send_queue_refill});
  out.push_back({"shared-completion-queue", "two endpoints on one completion queue: endpoint_id tells their completions apart", shared_completion_queue});
  out.push_back({"loopback", "two endpoints of one node connected to each other write, send and read", loopback});
}

}  // namespace ferry::conformance
