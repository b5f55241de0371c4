// Messages cut into chunks over several connections of an endpoint pair: every byte
// lands where it belongs, and requests still run in posting order (RC) across the
// connections: a small request after a large one waits for it.
#include <gtest/gtest.h>

#include "transport/tcp/testing/tcp_test_util.h"

namespace ferry::tcp {
namespace {

using namespace testing;

// Four connections, 4 KiB chunks: a 1 MiB message is 256 chunks over all four.
TcpOptions striped() {
  TcpOptions o;
  o.connections = 4;
  o.stripe_bytes = 4096;
  return o;
}

struct Pair {
  Side a, b;
  bool open(const TcpOptions& options = striped()) {
    if (!open_side(a, options) || !open_side(b, options)) return false;
    return a.ep->connect(b.ep->address()).ok() && b.ep->connect(a.ep->address()).ok();
  }
};

constexpr size_t kBig = (1 << 20) + 7;

TEST(TcpStriping, GatheredWriteLandsEveryByte) {
  auto src = patterned(1, kBig);
  std::vector<uint8_t> dst(kBig + 2, 0xee);  // a canary byte each side
  Pair p;  // after the memory: its regions go first
  ASSERT_TRUE(p.open());
  const uint32_t lkey = p.a.add(src.data(), src.size());
  const uint32_t rkey = p.b.add(dst.data() + 1, kBig);
  // Three entries, the middle one across many chunk boundaries.
  const std::vector<Sge> list = {sge(src.data(), 5, lkey), sge(src.data() + 5, 700'001, lkey),
                                 sge(src.data() + 700'006, kBig - 700'006, lkey)};
  const WorkRequest wr = request(Opcode::kWrite, 1, list, reinterpret_cast<uint64_t>(dst.data() + 1), rkey);
  ASSERT_TRUE(p.a.ep->post_send({&wr, 1}).ok());
  auto done = wait(*p.a.cq);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status, Status::kSuccess);
  EXPECT_EQ(mismatches(dst.data() + 1, 1, 0, kBig), 0u);
  EXPECT_EQ(dst.front(), 0xee);
  EXPECT_EQ(dst.back(), 0xee);
}

TEST(TcpStriping, ReadAndSendScatterEveryByte) {
  auto remote = patterned(2, kBig);
  auto src = patterned(3, kBig);
  std::vector<uint8_t> back(kBig, 0), recv(kBig + 100, 0);
  Pair p;
  ASSERT_TRUE(p.open());
  const uint32_t remote_key = p.b.add(remote.data(), remote.size());
  const uint32_t recv_key = p.b.add(recv.data(), recv.size());
  const uint32_t back_key = p.a.add(back.data(), back.size());
  const uint32_t src_key = p.a.add(src.data(), src.size());
  // The recv in three pieces, with a gap of 100 bytes that must stay untouched.
  const std::vector<Sge> recv_list = {sge(recv.data(), 300'000, recv_key), sge(recv.data() + 300'100, 1, recv_key),
                                      sge(recv.data() + 300'101, kBig - 300'001, recv_key)};
  RecvRequest rr{9, recv_list.data(), 3};
  ASSERT_TRUE(p.b.ep->post_recv({&rr, 1}).ok());
  const std::vector<Sge> read_list = {sge(back.data(), kBig, back_key)};
  const std::vector<Sge> send_list = {sge(src.data(), kBig, src_key)};
  const WorkRequest wrs[] = {request(Opcode::kRead, 1, read_list, reinterpret_cast<uint64_t>(remote.data()), remote_key),
                             request(Opcode::kSend, 2, send_list)};
  ASSERT_TRUE(p.a.ep->post_send(wrs).ok());
  auto sent = wait(*p.a.cq, 2);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].cookie, 1u);
  EXPECT_EQ(sent[0].status, Status::kSuccess);
  EXPECT_EQ(sent[1].cookie, 2u);
  EXPECT_EQ(sent[1].status, Status::kSuccess);
  auto got = wait(*p.b.cq);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].cookie, 9u);
  EXPECT_EQ(got[0].byte_len, kBig);
  EXPECT_EQ(mismatches(back.data(), 2, 0, kBig), 0u);
  EXPECT_EQ(mismatches(recv.data(), 3, 0, 300'000), 0u);
  for (size_t i = 300'000; i < 300'100; ++i) ASSERT_EQ(recv[i], 0) << "gap byte " << i;
  EXPECT_EQ(mismatches(recv.data() + 300'100, 3, 300'000, kBig - 300'000), 0u);
}

// Large writes then small ones to the same bytes, and a write-with-imm last: the later
// request's bytes win everywhere, and the immediate comes after all of them.
TEST(TcpStriping, LaterRequestsWinAcrossConnections) {
  constexpr size_t kRounds = 8;
  std::vector<std::vector<uint8_t>> sources;
  for (uint32_t r = 0; r < kRounds; ++r) sources.push_back(patterned(10 + r, kBig));
  std::vector<uint8_t> dst(kBig, 0);
  Pair p;
  ASSERT_TRUE(p.open());
  const uint32_t rkey = p.b.add(dst.data(), dst.size());
  std::vector<std::vector<Sge>> lists;
  for (auto& s : sources) lists.push_back({sge(s.data(), s.size(), p.a.add(s.data(), s.size()))});
  RecvRequest rr{5, nullptr, 0};
  ASSERT_TRUE(p.b.ep->post_recv({&rr, 1}).ok());
  std::vector<WorkRequest> wrs;
  for (uint32_t r = 0; r < kRounds; ++r) {
    // Even rounds whole, odd rounds only their first 1000 bytes: a one-chunk request
    // behind a many-chunk one.
    std::vector<Sge>& list = lists[r];
    if (r % 2 == 1) list[0].length = 1000;
    wrs.push_back(request(Opcode::kWrite, r, list, reinterpret_cast<uint64_t>(dst.data()), rkey));
  }
  const std::vector<Sge> none;
  wrs.push_back(request(Opcode::kWriteWithImm, 99, none, 0, 0, 0xabc));
  ASSERT_TRUE(p.a.ep->post_send(wrs).ok());
  auto done = wait(*p.a.cq, kRounds + 1);
  ASSERT_EQ(done.size(), kRounds + 1);
  for (size_t i = 0; i < done.size(); ++i) {
    EXPECT_EQ(done[i].cookie, i < kRounds ? i : 99u) << "completions out of posting order";
    EXPECT_EQ(done[i].status, Status::kSuccess);
  }
  auto imm = wait(*p.b.cq);
  ASSERT_EQ(imm.size(), 1u);
  EXPECT_EQ(imm[0].imm, 0xabcu);
  // The last round (7, odd) wrote the first 1000 bytes; round 6 the rest.
  EXPECT_EQ(mismatches(dst.data(), 10 + 7, 0, 1000), 0u);
  EXPECT_EQ(mismatches(dst.data() + 1000, 10 + 6, 1000, kBig - 1000), 0u);
}

}  // namespace
}  // namespace ferry::tcp
