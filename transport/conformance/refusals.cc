// Refused requests: each comes back as an error completion with the status the
// contract names, and no byte moves on either side (canaries and source patterns are
// checked). After the error an RC endpoint is in error and flushes; an SRD endpoint
// refused by the target goes on.
#include "transport/conformance/env.h"
#include "transport/conformance/registry.h"

namespace ferry::conformance {
namespace {

constexpr uint64_t kRefused = 10;
constexpr uint32_t kKeyFlip = 0x00ABCD00;  // turns a key into one nobody holds

// What a refusal case works with; it builds the request and names what must not change.
struct Scene {
  Env& env;
  Buffer& src;         // initiator, source pattern
  Buffer& dst;         // target, canary, every right
  Buffer& remote_src;  // target, source pattern, every right
  Buffer& local_dst;   // initiator, canary, every right
};

struct Refusal {
  Op op;
  std::vector<const Buffer*> untouched;  // still all canary afterwards
  std::vector<const Buffer*> intact;     // still their source pattern afterwards
};

// Posts the refused request with a recv parked at the initiator, then checks the
// status, that nothing moved, and what follows: RC flushes the next request and the
// parked recv; SRD, refused by the target (`remote`), carries on.
void refuse(Env& env, Status status, bool remote, Refusal (*make)(Scene&)) {
  Pair p = env.pair();
  Scene s{env, env.source(0, 8192), env.buffer(1, 4096), env.source(1, 4096), env.buffer(0, 4096)};
  Buffer& parked = env.buffer(0, 256);
  Buffer& after = env.buffer(1, 4096);
  constexpr uint64_t kParked = 70, kAfter = 11;
  post_recv_ok(p.a, kParked, {parked.sge(0, 256)});
  post_recv_ok(p.b, 71, {});  // a refused request consumes no recv

  Refusal r = make(s);
  post_ok(p.a, {r.op});
  expect_status(env.wait_send(p.a)[0], p.a, kRefused, status);
  const EndpointState state = p.a->state();
  env.settle();
  for (const Buffer* b : r.untouched) b->expect_untouched();
  for (const Buffer* b : r.intact) b->expect_intact_source();
  if (env.rc()) {
    expect(state == EndpointState::kError, std::string("an RC endpoint should be in error after ") + to_string(status) +
                                               ", it is " + to_string(state));
    post_ok(p.a, {write_op(kAfter, {s.src.sge(0, 512)}, after, 0)});
    expect_status(env.wait_send(p.a)[0], p.a, kAfter, Status::kFlushed);
    expect_status(env.wait_recv(p.a)[0], p.a, kParked, Status::kFlushed);
    after.expect_untouched();
  } else if (remote) {
    expect(state == EndpointState::kReady, std::string("an SRD endpoint refused by the target should stay ready, it is ") +
                                               to_string(state));
    post_ok(p.a, {write_op(kAfter, {s.src.sge(0, 512)}, after, 0)});
    expect_completion(env.wait_send(p.a)[0], p.a, kAfter, CompletionKind::kWrite);
    after.expect_holds(0, s.src, 0, 512);
    after.expect_untouched_outside({{0, 512}});
    env.expect_no_completions(p.a);  // the parked recv stays posted
    // The recv the refused request did not take is still there for the next one.
    post_ok(p.a, {write_imm_op(kAfter + 1, {}, after, 0, 5)});
    expect_completion(env.wait_recv(p.b)[0], p.b, 71, CompletionKind::kRecvWriteWithImm);
  }
  parked.expect_untouched();
}

void skip_without_read(Env& env) {
  if (!env.attributes(0).supports_rdma_read || !env.attributes(1).supports_rdma_read) {
    skip("the device does not support RDMA read");
  }
}

// ---- remote access

void wrong_rkey(Env& env) {
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    Op op = write_op(kRefused, {s.src.sge(0, 256)}, s.dst, 0);
    op.wr.rkey ^= kKeyFlip;
    return Refusal{op, {&s.dst}, {&s.src}};
  });
}
void deregistered_rkey(Env& env) {
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    Buffer& gone = s.env.buffer(1, 4096);
    gone.deregister();
    return Refusal{write_op(kRefused, {s.src.sge(0, 256)}, gone, 0), {&gone, &s.dst}, {&s.src}};
  });
}
void out_of_bounds(Env& env) {
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    return Refusal{write_op(kRefused, {s.src.sge(0, 256)}, s.dst, s.dst.size() - 255), {&s.dst}, {&s.src}};
  });
}
void before_the_start(Env& env) {
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    Op op = write_op(kRefused, {s.src.sge(0, 64)}, s.dst, 0);
    op.wr.remote_addr -= 1;
    return Refusal{op, {&s.dst}, {&s.src}};
  });
}
void read_out_of_bounds(Env& env) {
  skip_without_read(env);
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    return Refusal{read_op(kRefused, {s.local_dst.sge(0, 64)}, s.remote_src, s.remote_src.size() - 63), {&s.local_dst},
                   {&s.remote_src}};
  });
}
void no_remote_write_right(Env& env) {
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    Buffer& ro = s.env.buffer(1, 4096, kAccessLocalWrite | kAccessRemoteRead);
    return Refusal{write_op(kRefused, {s.src.sge(0, 256)}, ro, 0), {&ro}, {&s.src}};
  });
}
void no_remote_write_right_imm(Env& env) {
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    Buffer& ro = s.env.buffer(1, 4096, kAccessLocalWrite | kAccessRemoteRead);
    return Refusal{write_imm_op(kRefused, {s.src.sge(0, 256)}, ro, 0, 1), {&ro}, {&s.src}};
  });
}
void no_remote_read_right(Env& env) {
  skip_without_read(env);
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    Buffer& wo = s.env.source(1, 4096, kAccessLocalWrite | kAccessRemoteWrite);
    return Refusal{read_op(kRefused, {s.local_dst.sge(0, 256)}, wo, 0), {&s.local_dst}, {&wo}};
  });
}
void foreign_protection_domain(Env& env) {
  refuse(env, Status::kRemoteAccessError, true, [](Scene& s) {
    Buffer& other = s.env.buffer(1, 4096, kAllAccess, &s.env.new_pd(1));
    return Refusal{write_op(kRefused, {s.src.sge(0, 256)}, other, 0), {&other}, {&s.src}};
  });
}

// ---- local protection

void bad_lkey(Env& env) {
  refuse(env, Status::kLocalProtectionError, false, [](Scene& s) {
    Sge sge = s.src.sge(0, 256);
    sge.lkey ^= kKeyFlip;
    return Refusal{write_op(kRefused, {sge}, s.dst, 0), {&s.dst}, {&s.src}};
  });
}
void local_range(Env& env) {
  refuse(env, Status::kLocalProtectionError, false, [](Scene& s) {
    // The first entry is fine; the second runs one byte past the region.
    return Refusal{write_op(kRefused, {s.src.sge(0, 128), s.src.sge(s.src.size() - 1, 2)}, s.dst, 0), {&s.dst},
                   {&s.src}};
  });
}
void read_without_local_write(Env& env) {
  skip_without_read(env);
  refuse(env, Status::kLocalProtectionError, false, [](Scene& s) {
    Buffer& no_local_write = s.env.buffer(0, 4096, kAccessRemoteRead);
    return Refusal{read_op(kRefused, {no_local_write.sge(0, 256)}, s.remote_src, 0), {&no_local_write},
                   {&s.remote_src}};
  });
}

// ---- two-sided refusals: the target's recv fails too

void send_longer_than_recv(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 10'000);
  Buffer& recv_buf = env.buffer(1, 8192);
  post_recv_ok(p.b, 50, {recv_buf.sge(0, 4000), recv_buf.sge(5000, 1000)});
  post_ok(p.a, {send_op(6, {src.sge(0, 5001)})});
  expect_status(env.wait_send(p.a)[0], p.a, 6, Status::kRemoteInvalidRequest);
  expect_status(env.wait_recv(p.b)[0], p.b, 50, Status::kLocalLengthError);
  env.settle();
  recv_buf.expect_untouched();
  src.expect_intact_source();
  expect(p.a->state() == (env.rc() ? EndpointState::kError : EndpointState::kReady),
         std::string("initiator state after the refusal: ") + to_string(p.a->state()));
}

void recv_not_writable(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 1000);
  Buffer& readonly = env.buffer(1, 1000, kAccessRemoteRead);  // no local write
  post_recv_ok(p.b, 3, {readonly.sge(0, 1000)});
  post_ok(p.a, {send_op(1, {src.sge(0, 1000)})});
  expect_status(env.wait_send(p.a)[0], p.a, 1, Status::kRemoteOperationError);
  expect_status(env.wait_recv(p.b)[0], p.b, 3, Status::kLocalProtectionError);
  env.settle();
  readonly.expect_untouched();
}

// A message longer than max_message_bytes: entries over one region, repeated.
void message_too_long(Env& env) {
  Pair p = env.pair();
  const uint64_t max = env.attributes(0).max_message_bytes;
  const uint32_t entries = std::min(env.attributes(0).max_sge, 16u);
  const uint64_t piece = max / entries + 1;
  if (piece > (1ull << 31)) skip("max_message_bytes is too large to exceed with " + std::to_string(entries) + " entries");
  // Never touched: the request is refused before any byte moves (fresh pages stay lazy).
  std::unique_ptr<uint8_t[]> memory(new uint8_t[piece]);
  auto region = env.pd(0).register_memory(memory.get(), piece, kAllAccess, MemoryKind::kHost);
  if (!region.ok()) skip("cannot register " + std::to_string(piece) + " bytes here: " + region.error().to_string());
  Buffer& dst = env.buffer(1, 4096);
  std::vector<Sge> list(entries, Sge{reinterpret_cast<uint64_t>(memory.get()), static_cast<uint32_t>(piece), (*region)->lkey()});
  post_ok(p.a, {write_op(1, list, dst, 0)});
  expect_status(env.wait_send(p.a)[0], p.a, 1, Status::kLocalLengthError);
  env.settle();
  dst.expect_untouched();
  env.destroy(p.a);  // before the region it named
}

// ---- errors in context

void unsignaled_error(Env& env) {
  Pair p = env.pair();
  Buffer& src = env.source(0, 4096);
  Buffer& dst = env.buffer(1, 4096);
  Op op = unsignaled(write_op(5, {src.sge(0, 100)}, dst, 0));
  op.wr.rkey ^= kKeyFlip;
  post_ok(p.a, {op});
  expect_status(env.wait_send(p.a)[0], p.a, 5, Status::kRemoteAccessError);
  dst.expect_untouched();
}

// An error in the middle of a batch: RC stops there and flushes the rest in order; SRD
// completes the others. Refused once by the target, once by the initiator.
void flush_on_error(Env& env) {
  for (Status refusal : {Status::kRemoteAccessError, Status::kLocalProtectionError}) {
    Pair p = env.pair();
    Buffer& src = env.source(0, 4096);
    Buffer& dst = env.buffer(1, 4096);
    Op bad = write_op(2, {src.sge(1000, 1000)}, dst, 1000);
    if (refusal == Status::kRemoteAccessError) {
      bad.wr.rkey ^= kKeyFlip;
    } else {
      bad.sges[0].lkey ^= kKeyFlip;
    }
    post_ok(p.a, {write_op(1, {src.sge(0, 1000)}, dst, 0), bad, write_op(3, {src.sge(2000, 1000)}, dst, 2000),
                  write_op(4, {src.sge(3000, 1000)}, dst, 3000)});
    auto cs = env.wait_send(p.a, 4);
    env.settle();
    if (env.rc()) {
      expect(cookies_of(cs) == iota(1, 4), "RC completions out of posting order: " + list(cookies_of(cs)));
      expect_completion(cs[0], p.a, 1, CompletionKind::kWrite);
      expect_status(cs[1], p.a, 2, refusal);
      expect_status(cs[2], p.a, 3, Status::kFlushed);
      expect_status(cs[3], p.a, 4, Status::kFlushed);
      expect(p.a->state() == EndpointState::kError, "RC endpoint should be in error after a refused request");
      dst.expect_holds(0, src, 0, 1000);
      dst.expect_untouched_outside({{0, 1000}});
    } else {
      expect(sorted(cookies_of(cs)) == iota(1, 4), "every request completes once: " + list(sorted(cookies_of(cs))));
      for (uint64_t cookie : {1, 3, 4}) expect_completion(find_cookie(cs, cookie), p.a, cookie, CompletionKind::kWrite);
      expect_status(find_cookie(cs, 2), p.a, 2, refusal);
      dst.expect_holds(0, src, 0, 1000);
      dst.expect_holds(2000, src, 2000, 2000);
      dst.expect_untouched_outside({{0, 1000}, {2000, 2000}});
    }
  }
}

// A region destroyed while a request naming it is in flight: the request either
// completed before (its bytes whole) or fails with the status of the side that lost
// it, nothing written; a request posted afterwards fails.
void deregister_in_flight(Env& env) {
  // One write whose source or target region (`doomed`) is destroyed while it is in flight.
  const auto race = [&env](uint64_t cookie, Buffer& from, Buffer& to, Buffer& doomed, Status lost) {
    Pair p = env.pair();
    post_ok(p.a, {write_op(cookie, {from.sge(0, 1000)}, to, 0)});
    doomed.deregister();
    const Completion c = env.wait_send(p.a)[0];
    env.settle();
    if (c.status == Status::kSuccess) {
      expect_completion(c, p.a, cookie, CompletionKind::kWrite);
      to.expect_holds(0, from, 0, 1000);
    } else {
      expect_status(c, p.a, cookie, lost);
      to.expect_untouched();
    }
  };
  Buffer& src = env.source(0, 4096);
  Buffer& doomed_dst = env.buffer(1, 4096);
  race(1, src, doomed_dst, doomed_dst, Status::kRemoteAccessError);
  Buffer& doomed_src = env.source(0, 4096);
  Buffer& dst = env.buffer(1, 4096);
  race(2, doomed_src, dst, doomed_src, Status::kLocalProtectionError);

  // Afterwards the keys are dead at once.
  Pair r = env.pair();
  Buffer& fresh = env.buffer(1, 4096);
  post_ok(r.a, {write_op(3, {src.sge(0, 100)}, doomed_dst, 2000)});
  expect_status(env.wait_send(r.a)[0], r.a, 3, Status::kRemoteAccessError);
  Pair t = env.pair();
  post_ok(t.a, {write_op(4, {doomed_src.sge(2000, 100)}, fresh, 0)});
  expect_status(env.wait_send(t.a)[0], t.a, 4, Status::kLocalProtectionError);
  env.settle();
  doomed_dst.expect_untouched(2000, 100);
  fresh.expect_untouched();
}

}  // namespace

void add_refusal_checks(std::vector<Check>& out) {
  out.push_back({"error/wrong-rkey", "a write with an rkey nobody holds: remote access error, no byte moved, no recv taken; RC flushes what follows, SRD goes on", wrong_rkey});
  out.push_back({"error/deregistered-region", "a write to a deregistered region's rkey: remote access error, nothing touched", deregistered_rkey});
  out.push_back({"error/out-of-bounds", "a write one byte past the region: remote access error, target untouched", out_of_bounds});
  out.push_back({"error/before-the-start", "a write starting one byte before the region: remote access error, target untouched", before_the_start});
  out.push_back({"error/read-out-of-bounds", "a read one byte past the remote region: remote access error, local list untouched", read_out_of_bounds});
  out.push_back({"error/no-remote-write-right", "a write to a region without remote write: remote access error, untouched", no_remote_write_right});
  out.push_back({"error/no-remote-write-right-imm", "a write-with-imm to a region without remote write: remote access error, untouched, no recv taken", no_remote_write_right_imm});
  out.push_back({"error/no-remote-read-right", "a read of a region without remote read: remote access error, local list untouched", no_remote_read_right});
  out.push_back({"error/foreign-protection-domain", "a write to a region of another protection domain than the target endpoint's: remote access error, untouched", foreign_protection_domain});
  out.push_back({"error/bad-lkey", "a local entry with an unknown lkey: local protection error, target untouched", bad_lkey});
  out.push_back({"error/local-range", "a local entry one byte past its region, after a good one: local protection error, target untouched", local_range});
  out.push_back({"error/read-without-local-write", "a read into a region without local write: local protection error, untouched", read_without_local_write});
  out.push_back({"error/send-longer-than-recv", "a send longer than the recv: remote invalid request at the initiator, local length error at the target, recv untouched", send_longer_than_recv});
  out.push_back({"error/recv-not-writable", "a send into a recv without local write: remote operation error at the initiator, local protection error at the target, untouched", recv_not_writable});
  out.push_back({"error/message-too-long", "a write longer than max_message_bytes: local length error, target untouched", message_too_long});
  out.push_back({"error/unsignaled", "an unsignaled request that fails still completes, with its error", unsignaled_error});
  out.push_back({"flush-on-error", "an error mid-batch: RC completes what came before, the error, then flushes the rest in order; SRD completes the others", flush_on_error});
  out.push_back({"deregister-in-flight", "a region destroyed under a request in flight: the request completes whole or fails with nothing written; its keys then fail at once", deregister_in_flight});
}

}  // namespace ferry::conformance
