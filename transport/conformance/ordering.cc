// RC delivers and completes in posting order, at both ends. SRD promises no order, and
// the checks never require reordering: only what SRD does guarantee (every request
// lands once, with its data and immediate, and takes one recv).
#include "transport/conformance/env.h"
#include "transport/conformance/registry.h"

namespace ferry::conformance {
namespace {

// Large requests first and small ones after, every opcode: on an ordered endpoint the
// small ones still complete, and land, after the large ones.
void rc_ordering(Env& env) {
  if (!env.rc()) skip("SRD promises no order; srd-unordered checks what it does promise");
  const bool read = env.attributes(0).supports_rdma_read && env.attributes(1).supports_rdma_read;
  constexpr size_t kCount = 48, kSlot = 32 * 1024;
  Pair p = env.pair();
  Buffer& src = env.source(0, kCount * kSlot);
  Buffer& dst = env.buffer(1, kCount * kSlot);
  Buffer& remote_src = env.source(1, kCount * kSlot);
  Buffer& local_dst = env.buffer(0, kCount * kSlot);
  Buffer& recv_buf = env.buffer(1, kCount * kSlot);
  for (size_t i = 0; i < kCount; ++i) post_recv_ok(p.b, 1000 + i, {recv_buf.sge(i * kSlot, kSlot)});
  std::vector<Op> ops;
  std::vector<uint32_t> sizes;
  for (size_t i = 0; i < kCount; ++i) {
    const uint32_t size = static_cast<uint32_t>(kSlot / (i + 1));
    const size_t at = i * kSlot;
    sizes.push_back(size);
    switch (i % 4) {
      case 0: ops.push_back(write_op(i, {src.sge(at, size)}, dst, at)); break;
      case 1: ops.push_back(write_imm_op(i, {src.sge(at, size)}, dst, at, static_cast<uint32_t>(5000 + i))); break;
      case 2: ops.push_back(send_op(i, {src.sge(at, size)})); break;
      case 3:
        ops.push_back(read ? read_op(i, {local_dst.sge(at, size)}, remote_src, at) : write_op(i, {src.sge(at, size)}, dst, at));
        break;
    }
  }
  post_ok(p.a, ops);
  auto sent = env.wait_send(p.a, kCount);
  expect(cookies_of(sent) == iota(0, kCount), "initiator completions out of posting order: " + list(cookies_of(sent)));
  // Target: one recv per write-with-imm and per send, consumed in posting order.
  auto got = env.wait_recv(p.b, kCount / 2);
  size_t next_recv = 0;
  for (size_t i = 0; i < kCount; ++i) {
    const size_t at = i * kSlot;
    if (i % 4 == 0 || (i % 4 == 3 && !read)) {
      dst.expect_holds(at, src, at, sizes[i]);
    } else if (i % 4 == 3) {
      local_dst.expect_holds(at, remote_src, at, sizes[i]);
    } else {
      const Completion& c = got[next_recv];
      expect(c.cookie == 1000 + next_recv && c.byte_len == sizes[i],
             "request " + std::to_string(i) + " should have taken recv " + std::to_string(1000 + next_recv) + " with " +
                 std::to_string(sizes[i]) + " bytes, got " + describe(c));
      if (i % 4 == 1) {
        expect_completion(c, p.b, c.cookie, CompletionKind::kRecvWriteWithImm);
        expect(c.imm == 5000 + i, "immediates out of posting order: " + describe(c));
        dst.expect_holds(at, src, at, sizes[i]);
      } else {
        expect_completion(c, p.b, c.cookie, CompletionKind::kRecv);
        recv_buf.expect_holds(next_recv * kSlot, src, at, sizes[i]);
      }
      ++next_recv;
    }
  }
}

std::vector<Op> numbered_writes_with_imm(const Buffer& src, const Buffer& dst, size_t count) {
  std::vector<Op> ops;
  for (size_t i = 0; i < count; ++i) {
    ops.push_back(write_imm_op(i, {src.sge(i * 64, 64)}, dst, i * 64, static_cast<uint32_t>(i)));
  }
  return ops;
}

void srd_unordered(Env& env) {
  if (env.rc()) skip("RC is ordered: rc-ordering checks the stronger guarantee");
  constexpr size_t kCount = 64;
  Pair p = env.pair();
  Buffer& src = env.source(0, kCount * 64);
  Buffer& dst = env.buffer(1, kCount * 64);
  for (size_t i = 0; i < kCount; ++i) post_recv_ok(p.b, 1000 + i, {});
  post_ok(p.a, numbered_writes_with_imm(src, dst, kCount));
  auto got = env.wait_recv(p.b, kCount);
  std::vector<uint64_t> imms;
  for (const Completion& c : got) {
    expect_completion(c, p.b, c.cookie, CompletionKind::kRecvWriteWithImm);
    expect(c.byte_len == 64, "byte_len: " + describe(c));
    imms.push_back(c.imm);
  }
  expect(sorted(imms) == iota(0, kCount), "every immediate exactly once: " + list(sorted(imms)));
  expect(sorted(cookies_of(got)) == iota(1000, kCount), "every recv exactly once: " + list(sorted(cookies_of(got))));
  auto sent = env.wait_send(p.a, kCount);
  expect(sorted(cookies_of(sent)) == iota(0, kCount), "every request completes once: " + list(sorted(cookies_of(sent))));
  dst.expect_holds(0, src, 0, kCount * 64);
  dst.expect_untouched_outside({{0, kCount * 64}});
  env.expect_no_completions(p.b);
}

}  // namespace

void add_ordering_checks(std::vector<Check>& out) {
  out.push_back({"rc-ordering", "RC: 48 requests of every opcode, large first, complete at the initiator and consume recvs at the target in posting order", rc_ordering});
  out.push_back({"srd-unordered", "SRD: 64 writes with immediate each land once with their data and immediate, take one recv each, and complete once, in whatever order", srd_unordered});
}

}  // namespace ferry::conformance
