// What each operation moves and what it reports: write, write-with-imm, read,
// send/recv, scatter-gather lists, unsignaled requests, batches and ordering.
#include <set>

#include "emu/test_util.h"

namespace ferry::emu::test {
namespace {

class Operations : public ModeKindTest {};

TEST_P(Operations, WriteMovesExactlyTheRequestedBytes) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 80'000);
  // Sizes around the MTU (4096) and a multi-packet one.
  for (uint32_t size : {1u, 7u, 4095u, 4096u, 4097u, 70'001u}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Buffer& dst = w.buffer(1, 80'000);
    const size_t src_off = 3, dst_off = 1001;
    ASSERT_TRUE(is_ok(post(p.a, {write_op(size, {src.sge(src_off, size)}, dst, dst_off)})));
    auto cs = w.wait_send(p.a, 1);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_TRUE(is_completion(cs[0], p.a, size, CompletionKind::kWrite));
    EXPECT_TRUE(dst.holds(dst_off, src, src_off, size));
    EXPECT_TRUE(dst.untouched_outside(dst_off, size));
  }
  EXPECT_TRUE(src.intact_source());
  EXPECT_TRUE(w.no_completions(p.a));
  EXPECT_TRUE(w.no_completions(p.b));  // a plain write is invisible to the target
}

TEST_P(Operations, WriteWithImmConsumesOneRecvAndReportsTheImmediate) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  Buffer& recv_buf = w.buffer(1, 256);
  ASSERT_TRUE(is_ok(post_recv(p.b, 41, {recv_buf.sge(0, 256)})));
  ASSERT_TRUE(is_ok(post_recv(p.b, 42, {recv_buf.sge(0, 256)})));

  ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(8, {src.sge(10, 1000)}, dst, 24, 0xABCD1234)})));

  auto sent = w.wait_send(p.a, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 8, CompletionKind::kWrite));
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 41, CompletionKind::kRecvWriteWithImm));
  EXPECT_TRUE(got[0].has_imm);
  EXPECT_EQ(got[0].imm, 0xABCD1234u);
  EXPECT_EQ(got[0].byte_len, 1000u);

  EXPECT_TRUE(dst.holds(24, src, 10, 1000));
  EXPECT_TRUE(dst.untouched_outside(24, 1000));
  EXPECT_TRUE(recv_buf.untouched());  // the data goes to the rkey's region, not the recv
  EXPECT_TRUE(w.no_completions(p.b));  // recv 42 is still posted
}

TEST_P(Operations, ZeroLengthWriteWithImmAndSend) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& dst = w.buffer(1, 128);
  Buffer& recv_buf = w.buffer(1, 64);
  ASSERT_TRUE(is_ok(post_recv(p.b, 5, {recv_buf.sge(0, 64)})));

  ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(9, {}, dst, 0, 77)})));

  auto sent = w.wait_send(p.a, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 9, CompletionKind::kWrite));
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 5, CompletionKind::kRecvWriteWithImm));
  EXPECT_TRUE(got[0].has_imm);
  EXPECT_EQ(got[0].imm, 77u);
  EXPECT_EQ(got[0].byte_len, 0u);
  EXPECT_TRUE(dst.untouched());
  EXPECT_TRUE(recv_buf.untouched());

  // A zero-length send: a recv completion of length 0.
  ASSERT_TRUE(is_ok(post_recv(p.b, 6, {recv_buf.sge(0, 64)})));
  ASSERT_TRUE(is_ok(post(p.a, {send_op(10, {})})));
  sent = w.wait_send(p.a, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 10, CompletionKind::kSend));
  got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 6, CompletionKind::kRecv));
  EXPECT_EQ(got[0].byte_len, 0u);
  EXPECT_FALSE(got[0].has_imm);
  EXPECT_TRUE(recv_buf.untouched());
}

TEST_P(Operations, ReadScattersRemoteBytesIntoTheLocalList) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& remote = w.source(1, 8192);
  Buffer& local = w.buffer(0, 8192);

  ASSERT_TRUE(is_ok(post(p.a, {read_op(3, {local.sge(10, 700), local.sge(5000, 3000)}, remote, 50)})));

  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(is_completion(cs[0], p.a, 3, CompletionKind::kRead));
  EXPECT_TRUE(local.holds(10, remote, 50, 700));
  EXPECT_TRUE(local.holds(5000, remote, 750, 3000));
  EXPECT_TRUE(local.untouched_outside({{10, 700}, {5000, 3000}}));
  EXPECT_TRUE(remote.intact_source());
  EXPECT_TRUE(w.no_completions(p.b));
}

TEST_P(Operations, SendScattersAcrossTheRecvList) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 4096);
  Buffer& recv_buf = w.buffer(1, 4096);
  ASSERT_TRUE(is_ok(
      post_recv(p.b, 60, {recv_buf.sge(0, 100), recv_buf.sge(1000, 50), recv_buf.sge(2000, 1000)})));

  ASSERT_TRUE(is_ok(post(p.a, {send_op(4, {src.sge(300, 400)})})));

  auto sent = w.wait_send(p.a, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 4, CompletionKind::kSend));
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 60, CompletionKind::kRecv));
  EXPECT_EQ(got[0].byte_len, 400u);
  EXPECT_FALSE(got[0].has_imm);
  EXPECT_TRUE(recv_buf.holds(0, src, 300, 100));
  EXPECT_TRUE(recv_buf.holds(1000, src, 400, 50));
  EXPECT_TRUE(recv_buf.holds(2000, src, 450, 250));
  EXPECT_TRUE(recv_buf.untouched_outside({{0, 100}, {1000, 50}, {2000, 250}}));
}

TEST_P(Operations, GatherFromSeveralRegionsForWriteAndSend) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src1 = w.source(0, 8192);
  Buffer& src2 = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 8192);
  Buffer& recv_buf = w.buffer(1, 8192);
  // Pieces of two regions, each with its own lkey: 1000 + 3000 + 17 bytes.
  const std::vector<Sge> gather = {src1.sge(5, 1000), src2.sge(0, 3000), src1.sge(4000, 17)};
  auto expect_gathered = [&](const Buffer& out, size_t at) {
    EXPECT_TRUE(out.holds(at, src1, 5, 1000));
    EXPECT_TRUE(out.holds(at + 1000, src2, 0, 3000));
    EXPECT_TRUE(out.holds(at + 4000, src1, 4000, 17));
    EXPECT_TRUE(out.untouched_outside(at, 4017));
  };
  ASSERT_TRUE(is_ok(post_recv(p.b, 70, {recv_buf.sge(0, 8192)})));

  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, gather, dst, 64)})));
  auto written = w.wait_send(p.a, 1);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_TRUE(is_completion(written[0], p.a, 1, CompletionKind::kWrite));
  expect_gathered(dst, 64);

  ASSERT_TRUE(is_ok(post(p.a, {send_op(2, gather)})));
  auto sent = w.wait_send(p.a, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 2, CompletionKind::kSend));
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 70, CompletionKind::kRecv));
  EXPECT_EQ(got[0].byte_len, 4017u);
  expect_gathered(recv_buf, 0);
  EXPECT_TRUE(src1.intact_source());
  EXPECT_TRUE(src2.intact_source());
}

TEST_P(Operations, MaxSgeEntriesAreAccepted) {
  World w(config());
  Pair p = w.pair(kind());
  const uint32_t max_sge = w.device(0).attributes().max_sge;
  Buffer& src = w.source(0, 64 * max_sge);
  Buffer& dst = w.buffer(1, 64 * max_sge);
  std::vector<Sge> list;
  for (uint32_t i = 0; i < max_sge; ++i) list.push_back(src.sge(64 * (max_sge - 1 - i), 64));

  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, list, dst, 0)})));
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(is_completion(cs[0], p.a, 1, CompletionKind::kWrite));
  for (uint32_t i = 0; i < max_sge; ++i) {
    EXPECT_TRUE(dst.holds(64 * i, src, 64 * (max_sge - 1 - i), 64)) << "entry " << i;
  }
}

TEST_P(Operations, UnsignaledRequestsCompleteSilently) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  Buffer& recv_buf = w.buffer(1, 64);
  ASSERT_TRUE(is_ok(post_recv(p.b, 50, {recv_buf.sge(0, 64)})));

  ASSERT_TRUE(is_ok(post(p.a, {unsignaled(write_op(1, {src.sge(0, 1000)}, dst, 0)),
                               unsignaled(write_imm_op(2, {src.sge(1000, 1000)}, dst, 1000, 22)),
                               write_op(3, {src.sge(2000, 1000)}, dst, 2000)})));

  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(is_completion(cs[0], p.a, 3, CompletionKind::kWrite));
  // The target sees a write-with-imm whether or not the initiator asked to.
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 50, CompletionKind::kRecvWriteWithImm));
  EXPECT_EQ(got[0].imm, 22u);
  EXPECT_TRUE(w.no_completions(p.a));  // settles: unordered endpoints may finish late
  EXPECT_TRUE(dst.holds(0, src, 0, 3000));
  EXPECT_TRUE(dst.untouched_outside(0, 3000));
}

TEST_P(Operations, BatchOfMixedOperationsInOnePost) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 8192);
  Buffer& dst = w.buffer(1, 8192);
  Buffer& remote_src = w.source(1, 4096);
  Buffer& local_dst = w.buffer(0, 4096);
  Buffer& recv_buf = w.buffer(1, 2 * 1024);
  const uint64_t kRecvA = 100, kRecvB = 101;  // slots 0 and 1 of recv_buf
  ASSERT_TRUE(is_ok(post_recv(p.b, kRecvA, {recv_buf.sge(0, 1024)})));
  ASSERT_TRUE(is_ok(post_recv(p.b, kRecvB, {recv_buf.sge(1024, 1024)})));

  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 2000)}, dst, 0),
                               write_imm_op(2, {src.sge(2000, 500)}, dst, 2000, 0x22),
                               send_op(3, {src.sge(3000, 900)}),
                               read_op(4, {local_dst.sge(0, 1500)}, remote_src, 100),
                               write_op(5, {src.sge(4000, 4000)}, dst, 4000)})));

  auto sent = w.wait_send(p.a, 5);
  ASSERT_EQ(sent.size(), 5u);
  if (rc()) {
    EXPECT_EQ(cookies_of(sent), iota(1, 5));
  }
  const CompletionKind kinds[] = {CompletionKind::kWrite, CompletionKind::kWrite,
                                  CompletionKind::kSend, CompletionKind::kRead,
                                  CompletionKind::kWrite};
  for (uint64_t cookie = 1; cookie <= 5; ++cookie) {
    const Completion* c = find_cookie(sent, cookie);
    ASSERT_NE(c, nullptr) << "cookie " << cookie;
    EXPECT_TRUE(is_completion(*c, p.a, cookie, kinds[cookie - 1]));
  }

  auto got = w.wait_recv(p.b, 2);
  ASSERT_EQ(got.size(), 2u);
  // RC consumes recvs in posting order; SRD in whatever order the two arrive.
  if (rc()) {
    EXPECT_EQ(cookies_of(got), (std::vector<uint64_t>{kRecvA, kRecvB}));
  }
  EXPECT_EQ(sorted(cookies_of(got)), (std::vector<uint64_t>{kRecvA, kRecvB}));
  for (const Completion& c : got) {
    const size_t slot = (c.cookie - kRecvA) * 1024;
    if (c.kind == CompletionKind::kRecv) {
      EXPECT_TRUE(is_completion(c, p.b, c.cookie, CompletionKind::kRecv));
      EXPECT_EQ(c.byte_len, 900u);
      EXPECT_TRUE(recv_buf.holds(slot, src, 3000, 900));
      EXPECT_TRUE(recv_buf.untouched(slot + 900, 1024 - 900));
    } else {
      EXPECT_TRUE(is_completion(c, p.b, c.cookie, CompletionKind::kRecvWriteWithImm));
      EXPECT_EQ(c.imm, 0x22u);
      EXPECT_EQ(c.byte_len, 500u);
      EXPECT_TRUE(recv_buf.untouched(slot, 1024));
    }
  }
  EXPECT_NE(got[0].kind, got[1].kind);

  EXPECT_TRUE(dst.holds(0, src, 0, 2500));
  EXPECT_TRUE(dst.holds(4000, src, 4000, 4000));
  EXPECT_TRUE(dst.untouched_outside({{0, 2500}, {4000, 4000}}));
  EXPECT_TRUE(local_dst.holds(0, remote_src, 100, 1500));
  EXPECT_TRUE(local_dst.untouched_outside(0, 1500));
  EXPECT_TRUE(remote_src.intact_source());
}

TEST_P(Operations, ManyRequestsInFlightEachCompleteOnce) {
  World w(config());
  Pair p = w.pair(kind());
  constexpr size_t kCount = 200;
  constexpr size_t kChunk = 512;
  Buffer& src = w.source(0, kCount * kChunk);
  Buffer& dst = w.buffer(1, kCount * kChunk);
  std::vector<Op> ops;
  for (size_t i = 0; i < kCount; ++i) {
    ops.push_back(write_op(i, {src.sge(i * kChunk, kChunk)}, dst, (kCount - 1 - i) * kChunk));
  }
  ASSERT_TRUE(is_ok(post(p.a, ops)));
  auto cs = w.wait_send(p.a, kCount);
  ASSERT_EQ(cs.size(), kCount);
  if (rc()) {
    EXPECT_EQ(cookies_of(cs), iota(0, kCount));
  }
  EXPECT_EQ(sorted(cookies_of(cs)), iota(0, kCount));
  for (size_t i = 0; i < kCount; ++i) {
    EXPECT_TRUE(dst.holds((kCount - 1 - i) * kChunk, src, i * kChunk, kChunk));
  }
  EXPECT_TRUE(dst.untouched_outside(0, kCount * kChunk));
}

TEST_P(Operations, LoopbackBetweenEndpointsOfOneNode) {
  World w(config(1));
  PairSpec spec = pair_spec(kind());
  spec.node_b = 0;
  Pair p = w.pair(spec);
  Buffer& src = w.source(0, 8192);
  Buffer& dst = w.buffer(0, 8192);
  Buffer& recv_buf = w.buffer(0, 8192);
  Buffer& local = w.buffer(0, 8192);
  ASSERT_TRUE(is_ok(post_recv(p.b, 30, {recv_buf.sge(0, 8192)})));
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 3000)}, dst, 100)})));
  ASSERT_EQ(w.wait_send(p.a, 1).size(), 1u);
  ASSERT_TRUE(is_ok(post(p.a, {send_op(2, {src.sge(3000, 2000)})})));
  ASSERT_EQ(w.wait_send(p.a, 1).size(), 1u);
  ASSERT_TRUE(is_ok(post(p.a, {read_op(3, {local.sge(0, 4000)}, src, 4000)})));
  auto read = w.wait_send(p.a, 1);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_TRUE(is_completion(read[0], p.a, 3, CompletionKind::kRead));
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 30, CompletionKind::kRecv));
  EXPECT_EQ(got[0].byte_len, 2000u);
  EXPECT_TRUE(dst.holds(100, src, 0, 3000));
  EXPECT_TRUE(dst.untouched_outside(100, 3000));
  EXPECT_TRUE(recv_buf.holds(0, src, 3000, 2000));
  EXPECT_TRUE(recv_buf.untouched_outside(0, 2000));
  EXPECT_TRUE(local.holds(0, src, 4000, 4000));
  EXPECT_TRUE(src.intact_source());
}

// Two endpoints on one queue: endpoint_id tells their completions apart.
TEST_P(Operations, SharedCompletionQueueTellsEndpointsApart) {
  World w(config(3));
  PairSpec to_1 = pair_spec(kind());
  to_1.shared_cq_a = &w.completion_queue(0, 0, 64);
  PairSpec to_2 = to_1;
  to_2.node_b = 2;
  Pair p1 = w.pair(to_1);
  Pair p2 = w.pair(to_2);
  Buffer& src = w.source(0, 4096);
  Buffer& dst1 = w.buffer(1, 4096);
  Buffer& dst2 = w.buffer(2, 4096);
  ASSERT_TRUE(is_ok(post(p1.a, {write_op(7, {src.sge(0, 100)}, dst1, 0)})));
  ASSERT_TRUE(is_ok(post(p2.a, {write_op(7, {src.sge(100, 100)}, dst2, 0)})));
  auto cs = w.wait_send(p1.a, 2);  // the queue both post to
  ASSERT_EQ(cs.size(), 2u);
  const Completion& first = cs[0].endpoint_id == p1.a.id() ? cs[0] : cs[1];
  const Completion& second = cs[0].endpoint_id == p1.a.id() ? cs[1] : cs[0];
  EXPECT_TRUE(is_completion(first, p1.a, 7, CompletionKind::kWrite));
  EXPECT_TRUE(is_completion(second, p2.a, 7, CompletionKind::kWrite));
  EXPECT_TRUE(dst1.holds(0, src, 0, 100));
  EXPECT_TRUE(dst2.holds(0, src, 100, 100));
}

TEST_P(Operations, RegionsAndDevicesDescribeThemselves) {
  FabricConfig cfg = config();
  NicConfig fast_rail, slow_rail;
  slow_rail.link_gbps = 25;
  slow_rail.max_sge = 4;
  slow_rail.mtu = 1024;
  cfg.nics = {fast_rail, slow_rail};
  World w(cfg);
  ASSERT_EQ(w.fabric().node_count(), 2u);
  ASSERT_EQ(w.fabric().node(1).device_count(), 2u);
  const DeviceAttributes& slow = w.device(1, 1).attributes();
  EXPECT_EQ(slow.link_gbps, 25);
  EXPECT_EQ(slow.max_sge, 4u);
  EXPECT_EQ(slow.mtu, 1024u);
  EXPECT_TRUE(slow.ordered);
  EXPECT_TRUE(slow.unordered);
  EXPECT_NE(w.device(0, 0).attributes().name, w.device(0, 1).attributes().name);
  EXPECT_NE(w.device(0, 0).attributes().name, w.device(1, 0).attributes().name);

  Buffer& buf = w.buffer(0, 1000, kAccessLocalWrite | kAccessRemoteRead, 1);
  ASSERT_NE(buf.region(), nullptr);
  EXPECT_EQ(buf.region()->addr(), buf.data());
  EXPECT_EQ(buf.region()->length(), 1000u);
  EXPECT_EQ(buf.region()->access(), uint32_t{kAccessLocalWrite | kAccessRemoteRead});
  EXPECT_EQ(buf.region()->memory_kind(), MemoryKind::kHost);
  EXPECT_TRUE(buf.untouched());

  Pair p = w.pair(kind());
  EXPECT_EQ(p.a->kind(), kind());
  EXPECT_EQ(p.a->state(), EndpointState::kReady);
  EXPECT_NE(p.a->id(), p.b->id());
}

INSTANTIATE_TEST_SUITE_P(All, Operations, ::testing::ValuesIn(all_mode_kinds()), mode_kind_name);

// ---------------------------------------------------------------------------------
// Ordering

class RcOrdering : public ::testing::TestWithParam<Mode> {};

// Large requests first, small ones after: on an ordered endpoint the small ones still
// complete, and land, after the large ones.
TEST_P(RcOrdering, InitiatorAndTargetCompleteInPostingOrder) {
  World w(fabric_config(GetParam()));
  Pair p = w.pair(EndpointKind::kRc);
  constexpr size_t kCount = 48;
  constexpr size_t kSlot = 32 * 1024;
  Buffer& src = w.source(0, kCount * kSlot);
  Buffer& dst = w.buffer(1, kCount * kSlot);
  Buffer& remote_src = w.source(1, kCount * kSlot);
  Buffer& local_dst = w.buffer(0, kCount * kSlot);
  Buffer& recv_buf = w.buffer(1, kCount * kSlot);
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(is_ok(post_recv(p.b, 1000 + i, {recv_buf.sge(i * kSlot, kSlot)})));
  }
  std::vector<Op> ops;
  std::vector<uint32_t> sizes;
  for (size_t i = 0; i < kCount; ++i) {
    const uint32_t size = static_cast<uint32_t>(kSlot / (i + 1));
    const size_t at = i * kSlot;
    sizes.push_back(size);
    switch (i % 4) {
      case 0: ops.push_back(write_op(i, {src.sge(at, size)}, dst, at)); break;
      case 1: ops.push_back(write_imm_op(i, {src.sge(at, size)}, dst, at, 5000 + i)); break;
      case 2: ops.push_back(send_op(i, {src.sge(at, size)})); break;
      case 3: ops.push_back(read_op(i, {local_dst.sge(at, size)}, remote_src, at)); break;
    }
  }
  ASSERT_TRUE(is_ok(post(p.a, ops)));

  auto sent = w.wait_send(p.a, kCount);
  ASSERT_EQ(sent.size(), kCount);
  EXPECT_EQ(cookies_of(sent), iota(0, kCount));

  // Target: one recv per write-with-imm and per send, consumed in posting order.
  auto got = w.wait_recv(p.b, kCount / 2);
  ASSERT_EQ(got.size(), kCount / 2);
  size_t next_recv = 0;
  for (size_t i = 0; i < kCount; ++i) {
    const size_t at = i * kSlot;
    if (i % 4 == 0) {
      EXPECT_TRUE(dst.holds(at, src, at, sizes[i]));
    } else if (i % 4 == 3) {
      EXPECT_TRUE(local_dst.holds(at, remote_src, at, sizes[i]));
    } else {
      const Completion& c = got[next_recv];
      EXPECT_EQ(c.cookie, 1000 + next_recv) << "request " << i;
      EXPECT_EQ(c.byte_len, sizes[i]) << "request " << i;
      if (i % 4 == 1) {
        EXPECT_TRUE(is_completion(c, p.b, c.cookie, CompletionKind::kRecvWriteWithImm));
        EXPECT_EQ(c.imm, 5000 + i);
        EXPECT_TRUE(dst.holds(at, src, at, sizes[i]));
      } else {
        EXPECT_TRUE(is_completion(c, p.b, c.cookie, CompletionKind::kRecv));
        EXPECT_TRUE(recv_buf.holds(next_recv * kSlot, src, at, sizes[i]));
      }
      ++next_recv;
    }
  }
}

TEST_P(RcOrdering, WriteWithImmArrivesInPostingOrder) {
  World w(fabric_config(GetParam()));
  Pair p = w.pair(EndpointKind::kRc);
  constexpr size_t kCount = 64;
  Buffer& src = w.source(0, kCount * 64);
  Buffer& dst = w.buffer(1, kCount * 64);
  for (size_t i = 0; i < kCount; ++i) ASSERT_TRUE(is_ok(post_recv(p.b, i, {})));
  std::vector<Op> ops;
  for (size_t i = 0; i < kCount; ++i) {
    ops.push_back(write_imm_op(i, {src.sge(i * 64, 64)}, dst, i * 64, static_cast<uint32_t>(i)));
  }
  ASSERT_TRUE(is_ok(post(p.a, ops)));
  auto got = w.wait_recv(p.b, kCount);
  ASSERT_EQ(got.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(got[i].imm, i);
    EXPECT_EQ(got[i].cookie, i);
  }
  EXPECT_TRUE(dst.holds(0, src, 0, kCount * 64));
  auto sent = w.wait_send(p.a, kCount);
  EXPECT_EQ(cookies_of(sent), iota(0, kCount));
}

INSTANTIATE_TEST_SUITE_P(All, RcOrdering,
                         ::testing::Values(Mode::kFast, Mode::kDeterministic), mode_param_name);

// SRD in deterministic mode may deliver out of posting order: among a few seeds at
// least one does, and every request still arrives exactly once with its data.
TEST(SrdOrdering, DeterministicModeReordersForSomeSeed) {
  constexpr size_t kCount = 64;
  bool reordered = false;
  for (uint64_t seed = 1; seed <= 8 && !reordered; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    World w(fabric_config(Mode::kDeterministic, 2, seed));
    Pair p = w.pair(EndpointKind::kSrd);
    Buffer& src = w.source(0, kCount * 64);
    Buffer& dst = w.buffer(1, kCount * 64);
    for (size_t i = 0; i < kCount; ++i) ASSERT_TRUE(is_ok(post_recv(p.b, 1000 + i, {})));
    std::vector<Op> ops;
    for (size_t i = 0; i < kCount; ++i) {
      ops.push_back(write_imm_op(i, {src.sge(i * 64, 64)}, dst, i * 64, static_cast<uint32_t>(i)));
    }
    ASSERT_TRUE(is_ok(post(p.a, ops)));

    auto got = w.wait_recv(p.b, kCount);
    ASSERT_EQ(got.size(), kCount);
    std::vector<uint64_t> imms;
    for (const Completion& c : got) {
      EXPECT_TRUE(is_completion(c, p.b, c.cookie, CompletionKind::kRecvWriteWithImm));
      imms.push_back(c.imm);
    }
    EXPECT_EQ(sorted(imms), iota(0, kCount));
    EXPECT_EQ(sorted(cookies_of(got)), iota(1000, kCount));
    auto sent = w.wait_send(p.a, kCount);
    EXPECT_EQ(sorted(cookies_of(sent)), iota(0, kCount));
    EXPECT_TRUE(dst.holds(0, src, 0, kCount * 64));
    reordered = imms != iota(0, kCount);
  }
  EXPECT_TRUE(reordered) << "no seed delivered SRD write-with-imm out of posting order";
}

}  // namespace
}  // namespace ferry::emu::test
