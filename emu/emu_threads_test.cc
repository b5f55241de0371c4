// Fast mode with real threads: several threads drive different nodes at once and every
// byte still lands where it should. Run under ThreadSanitizer (--config=tsan).
#include <atomic>
#include <thread>

#include "emu/test_util.h"

namespace ferry::emu::test {
namespace {

class Threads : public ::testing::TestWithParam<EndpointKind> {
 protected:
  EndpointKind kind() const { return GetParam(); }
};

// Each thread owns a pair of nodes and moves data both ways with every operation.
TEST_P(Threads, EachThreadDrivesItsOwnPair) {
  constexpr uint32_t kThreads = 4;
  constexpr size_t kRounds = 40;
  constexpr size_t kSlots = 16;
  constexpr uint32_t kChunk = 4096;
  World w(fabric_config(Mode::kFast, 2 * kThreads));

  struct Lane {
    Pair p;
    Buffer& src;
    Buffer& dst;
    Buffer& remote_src;
    Buffer& local_dst;
    Buffer& recv_buf;
  };
  std::vector<Lane> lanes;
  for (uint32_t t = 0; t < kThreads; ++t) {  // set-up on one thread
    PairSpec spec = pair_spec(kind());
    spec.node_a = 2 * t;
    spec.node_b = 2 * t + 1;
    lanes.push_back(Lane{w.pair(spec), w.source(2 * t, kSlots * kChunk),
                         w.buffer(2 * t + 1, kSlots * kChunk), w.source(2 * t + 1, kSlots * kChunk),
                         w.buffer(2 * t, kSlots * kChunk), w.buffer(2 * t + 1, kSlots * kChunk)});
  }

  auto drive = [&](Lane& l) {
    for (size_t round = 0; round < kRounds; ++round) {
      const size_t at = (round % kSlots) * kChunk;
      const uint32_t size = static_cast<uint32_t>(1 + (round * 997) % kChunk);
      const uint32_t imm = static_cast<uint32_t>(round);
      // Two recvs: one for the write-with-imm, one for the send (SRD may swap them).
      for (uint64_t r = 0; r < 2; ++r) {
        ASSERT_TRUE(is_ok(post_recv(l.p.b, 2 * round + r, {l.recv_buf.sge(at, kChunk)})));
      }
      ASSERT_TRUE(is_ok(post(l.p.a, {write_op(1, {l.src.sge(at, size)}, l.dst, at),
                                     write_imm_op(2, {l.src.sge(at, size)}, l.dst, at, imm),
                                     send_op(3, {l.src.sge(at, size)}),
                                     read_op(4, {l.local_dst.sge(at, size)}, l.remote_src, at)})));
      auto sent = w.wait_send(l.p.a, 4);
      ASSERT_EQ(sent.size(), 4u);
      EXPECT_EQ(sorted(cookies_of(sent)), iota(1, 4));
      for (const Completion& c : sent) EXPECT_EQ(c.status, Status::kSuccess);
      auto got = w.wait_recv(l.p.b, 2);
      ASSERT_EQ(got.size(), 2u);
      for (const Completion& c : got) {
        EXPECT_EQ(c.status, Status::kSuccess);
        EXPECT_EQ(c.byte_len, size);
        if (c.kind == CompletionKind::kRecvWriteWithImm) {
          EXPECT_EQ(c.imm, imm);
        }
      }
      const Completion& send_recv = got[0].kind == CompletionKind::kRecv ? got[0] : got[1];
      EXPECT_EQ(send_recv.kind, CompletionKind::kRecv);
      EXPECT_TRUE(l.dst.holds(at, l.src, at, size));
      EXPECT_TRUE(l.recv_buf.holds(at, l.src, at, size));
      EXPECT_TRUE(l.local_dst.holds(at, l.remote_src, at, size));
    }
  };
  std::vector<std::thread> threads;
  for (Lane& lane : lanes) threads.emplace_back(drive, std::ref(lane));
  for (std::thread& t : threads) t.join();
  for (const Lane& l : lanes) {
    EXPECT_TRUE(l.remote_src.intact_source());
    EXPECT_TRUE(l.src.intact_source());
  }
}

// One thread posts write-with-imm; another posts recvs and polls the target's queue,
// checking each message's bytes as its completion arrives.
TEST_P(Threads, OneThreadPostsAnotherPolls) {
  constexpr size_t kMessages = 1024;
  constexpr uint32_t kSize = 256;
  constexpr size_t kWindow = 64;   // requests in flight
  constexpr size_t kRecvs = 128;   // recvs the poller keeps posted
  World w(fabric_config(Mode::kFast));
  PairSpec spec = pair_spec(kind());
  spec.config.rnr_retry = 7;  // the poster may outrun the recvs: retry until they come
  Pair p = w.pair(spec);
  Buffer& src = w.source(0, kMessages * kSize);
  Buffer& dst = w.buffer(1, kMessages * kSize);
  std::atomic<bool> poller_done{false};

  auto poster = [&] {
    size_t posted = 0, completed = 0, idle = 0;
    std::vector<Completion> out(kWindow);
    while (completed < kMessages && idle < kMaxFastPolls) {
      bool moved = false;
      if (posted < kMessages && posted - completed < kWindow) {
        const size_t i = posted;
        ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(i, {src.sge(i * kSize, kSize)}, dst, i * kSize,
                                                  static_cast<uint32_t>(i))})));
        ++posted;
        moved = true;
      }
      auto n = p.a.send_cq->poll(out);
      ASSERT_TRUE(is_ok(n));
      for (size_t k = 0; k < *n; ++k) EXPECT_EQ(out[k].status, Status::kSuccess);
      completed += *n;
      if (*n > 0) moved = true;
      if (moved) {
        idle = 0;
      } else {
        ++idle;
        w.fabric().node(0).progress();
        std::this_thread::yield();
      }
    }
    EXPECT_EQ(completed, kMessages);
  };

  auto poller = [&] {
    std::vector<bool> seen(kMessages, false);
    size_t received = 0, idle = 0, next_recv = 0;
    for (; next_recv < kRecvs; ++next_recv) ASSERT_TRUE(is_ok(post_recv(p.b, next_recv, {})));
    std::vector<Completion> out(32);
    while (received < kMessages && idle < kMaxFastPolls) {
      auto n = p.b.recv_cq->poll(out);
      ASSERT_TRUE(is_ok(n));
      for (size_t k = 0; k < *n; ++k) {
        const Completion& c = out[k];
        ASSERT_TRUE(is_completion(c, p.b, c.cookie, CompletionKind::kRecvWriteWithImm));
        ASSERT_LT(c.imm, kMessages);
        EXPECT_FALSE(seen[c.imm]) << "imm " << c.imm << " twice";
        seen[c.imm] = true;
        EXPECT_EQ(c.byte_len, kSize);
        EXPECT_TRUE(dst.holds(c.imm * kSize, src, c.imm * kSize, kSize));
        ++received;
        if (next_recv < kMessages) {
          ASSERT_TRUE(is_ok(post_recv(p.b, next_recv++, {})));
        }
      }
      if (*n > 0) {
        idle = 0;
      } else {
        ++idle;
        w.fabric().node(1).progress();
        std::this_thread::yield();
      }
    }
    EXPECT_EQ(received, kMessages);
    poller_done = true;
  };

  std::thread posting(poster);
  std::thread polling(poller);
  posting.join();
  polling.join();
  EXPECT_TRUE(poller_done);
  EXPECT_TRUE(dst.holds(0, src, 0, kMessages * kSize));
  EXPECT_TRUE(dst.untouched_outside(0, kMessages * kSize));
}

INSTANTIATE_TEST_SUITE_P(Fast, Threads, ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd),
                         kind_param_name);

}  // namespace
}  // namespace ferry::emu::test
