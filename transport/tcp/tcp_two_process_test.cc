// Two processes over the tcp provider: a forked child writes, sends and is read from,
// every byte checked; a peer that stops mid-transfer, stalls or dies ends the requests
// with retry exceeded, never a hang.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "transport/tcp/testing/tcp_test_util.h"

namespace ferry::tcp {
namespace {

using namespace testing;

constexpr size_t kBytes = (8 << 20) + 13;  // many chunks, and an odd tail

// What crosses the pipes: an endpoint address, and a region's address and key.
struct Card {
  uint8_t address[24] = {};
  uint64_t addr = 0;
  uint32_t rkey = 0;
};

Card card_of(const Side& s, const void* region = nullptr, uint32_t rkey = 0) {
  Card card;
  const auto address = s.ep->address();
  std::memcpy(card.address, address.data(), std::min(address.size(), sizeof card.address));
  card.addr = reinterpret_cast<uint64_t>(region);
  card.rkey = rkey;
  return card;
}

bool put(int fd, const Card& card) { return write(fd, &card, sizeof card) == sizeof card; }
bool get(int fd, Card* card) { return read(fd, card, sizeof *card) == sizeof *card; }

struct Child {
  pid_t pid = -1;
  int from_child = -1;
  int to_child = -1;
};

// A child running fn(to_parent, from_parent) and exiting with what it returns. The
// parent opens its provider only after the fork: the child gets no copy of its thread.
Child fork_child(int (*fn)(int, int)) {
  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) _exit(fn(up[1], down[0]));
  close(up[1]);
  close(down[0]);
  return Child{pid, up[0], down[1]};
}

// The child's exit status; -1 (and killed) when it did not exit within ten seconds.
int wait_child(pid_t pid) {
  for (int i = 0; i < 10'000; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    usleep(1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// The child: writes all of its pattern into the parent's region, sends its first MiB
// into the parent's recv, then a write-with-imm of nothing says it is done; it serves
// the parent's read of its memory until the parent says goodbye.
int child_moves_bytes(int to_parent, int from_parent) {
  auto src = patterned(1, kBytes);  // outlives its registration in s
  Side s;
  if (!open_side(s)) return 2;
  const uint32_t key = s.add(src.data(), src.size());
  if (key == 0) return 3;
  Card parent;
  if (!put(to_parent, card_of(s, src.data(), key)) || !get(from_parent, &parent)) return 4;
  if (!s.ep->connect({parent.address, sizeof parent.address}).ok()) return 5;
  const std::vector<Sge> all = {sge(src.data(), kBytes, key)};
  const std::vector<Sge> first_mib = {sge(src.data(), 1 << 20, key)};
  const std::vector<Sge> none;
  const WorkRequest wrs[] = {request(Opcode::kWrite, 1, all, parent.addr, parent.rkey),
                             request(Opcode::kSend, 2, first_mib),
                             request(Opcode::kWriteWithImm, 3, none, 0, 0, 0xfeed)};
  if (!s.ep->post_send(wrs).ok()) return 6;
  auto done = wait(*s.cq, 3);
  if (done.size() != 3) return 7;
  for (const Completion& c : done) {
    if (c.status != Status::kSuccess) return 8;
  }
  Card bye;
  return get(from_parent, &bye) ? 0 : 9;
}

TEST(TcpTwoProcess, ChildWritesSendsAndIsReadEveryByte) {
  const Child child = fork_child(child_moves_bytes);
  ASSERT_GE(child.pid, 0);
  std::vector<uint8_t> dst(kBytes + 2, 0xee), recv(1 << 20, 0), back(kBytes, 0);
  Side s;
  ASSERT_TRUE(open_side(s));
  const uint32_t dst_key = s.add(dst.data() + 1, kBytes);
  const uint32_t recv_key = s.add(recv.data(), recv.size());
  const uint32_t back_key = s.add(back.data(), back.size());
  Card theirs;
  ASSERT_TRUE(get(child.from_child, &theirs));
  ASSERT_TRUE(s.ep->connect({theirs.address, sizeof theirs.address}).ok());
  const std::vector<Sge> recv_list = {sge(recv.data(), recv.size(), recv_key)};
  const RecvRequest recvs[] = {{10, recv_list.data(), 1}, {11, nullptr, 0}};
  ASSERT_TRUE(s.ep->post_recv(recvs).ok());
  ASSERT_TRUE(put(child.to_child, card_of(s, dst.data() + 1, dst_key)));

  auto landed = wait(*s.cq, 2);
  ASSERT_EQ(landed.size(), 2u) << "the child's send and write-with-imm did not arrive";
  EXPECT_EQ(landed[0].cookie, 10u);
  EXPECT_EQ(landed[0].kind, CompletionKind::kRecv);
  EXPECT_EQ(landed[0].byte_len, 1u << 20);
  EXPECT_EQ(landed[1].cookie, 11u);
  EXPECT_EQ(landed[1].kind, CompletionKind::kRecvWriteWithImm);
  EXPECT_EQ(landed[1].imm, 0xfeedu);
  EXPECT_EQ(mismatches(dst.data() + 1, 1, 0, kBytes), 0u) << "bytes of the write that did not land as written";
  EXPECT_EQ(dst.front(), 0xee);
  EXPECT_EQ(dst.back(), 0xee);
  EXPECT_EQ(mismatches(recv.data(), 1, 0, recv.size()), 0u) << "bytes of the send";

  const std::vector<Sge> back_list = {sge(back.data(), kBytes, back_key)};
  const WorkRequest read = request(Opcode::kRead, 20, back_list, theirs.addr, theirs.rkey);
  ASSERT_TRUE(s.ep->post_send({&read, 1}).ok());
  auto read_done = wait(*s.cq);
  ASSERT_EQ(read_done.size(), 1u);
  EXPECT_EQ(read_done[0].status, Status::kSuccess);
  EXPECT_EQ(mismatches(back.data(), 1, 0, kBytes), 0u) << "bytes read from the child";
  ASSERT_TRUE(put(child.to_child, Card{}));
  EXPECT_EQ(wait_child(child.pid), 0);
}

// The child publishes a region of kBytes, connects, and waits to be stopped or killed.
int child_waits(int to_parent, int from_parent) {
  std::vector<uint8_t> memory(kBytes);
  Side s;
  if (!open_side(s)) return 2;
  const uint32_t key = s.add(memory.data(), memory.size());
  Card parent;
  if (!put(to_parent, card_of(s, memory.data(), key)) || !get(from_parent, &parent)) return 4;
  if (!s.ep->connect({parent.address, sizeof parent.address}).ok()) return 5;
  if (!put(to_parent, Card{})) return 6;  // connected
  pause();
  return 0;
}

// Connects to a child_waits child, stops it (it takes no more bytes) and posts a write
// of `src` (kBytes) into its region, cookie 1; the write's request, to post again.
WorkRequest write_to_stopped_child(const Child& child, Side& s, const std::vector<uint8_t>& src,
                                   std::vector<Sge>& list) {
  Card theirs, connected;
  EXPECT_TRUE(get(child.from_child, &theirs));
  EXPECT_TRUE(s.ep->connect({theirs.address, sizeof theirs.address}).ok());
  EXPECT_TRUE(put(child.to_child, card_of(s)));
  EXPECT_TRUE(get(child.from_child, &connected));
  list = {sge(src.data(), kBytes, s.add(const_cast<uint8_t*>(src.data()), src.size()))};
  EXPECT_EQ(kill(child.pid, SIGSTOP), 0);
  const WorkRequest wr = request(Opcode::kWrite, 1, list, theirs.addr, theirs.rkey);
  EXPECT_TRUE(s.ep->post_send({&wr, 1}).ok());
  return wr;
}

// Stopped, the child takes no bytes: the write stalls mid-transfer. Killed, its
// connections reset: the write ends with retry exceeded and the endpoint flushes.
TEST(TcpTwoProcess, PeerKilledMidTransferGivesRetryExceeded) {
  const Child child = fork_child(child_waits);
  ASSERT_GE(child.pid, 0);
  const auto src = patterned(3, kBytes);
  Side s;
  ASSERT_TRUE(open_side(s));
  std::vector<Sge> list;
  WorkRequest wr = write_to_stopped_child(child, s, src, list);
  ASSERT_EQ(kill(child.pid, SIGKILL), 0);
  auto lost = wait(*s.cq);
  ASSERT_EQ(lost.size(), 1u) << "no completion after the peer died mid-transfer";
  EXPECT_EQ(lost[0].cookie, 1u);
  EXPECT_EQ(lost[0].status, Status::kRetryExceeded);
  EXPECT_EQ(s.ep->state(), EndpointState::kError);
  wr.cookie = 2;
  ASSERT_TRUE(s.ep->post_send({&wr, 1}).ok());
  auto flushed = wait(*s.cq);
  ASSERT_EQ(flushed.size(), 1u);
  EXPECT_EQ(flushed[0].status, Status::kFlushed);
  EXPECT_EQ(wait_child(child.pid), 128);
}

// A peer that is alive but silent: the transport retries' time passes, then retry
// exceeded, bounded by retry_count x retry_timeout_ns of silence.
TEST(TcpTwoProcess, StalledPeerGivesRetryExceeded) {
  const Child child = fork_child(child_waits);
  ASSERT_GE(child.pid, 0);
  EndpointConfig config;
  config.retry_count = 2;
  config.retry_timeout_ns = 20'000'000;
  const auto src = patterned(4, kBytes);
  Side s;
  ASSERT_TRUE(open_side(s, {}, config));
  std::vector<Sge> list;
  write_to_stopped_child(child, s, src, list);
  auto lost = wait(*s.cq);
  ASSERT_EQ(lost.size(), 1u) << "no completion while the peer was stopped";
  EXPECT_EQ(lost[0].status, Status::kRetryExceeded);
  // Its region can go at once: nothing of the provider uses it any more.
  s.regions.clear();
  kill(child.pid, SIGKILL);
  EXPECT_EQ(wait_child(child.pid), 128);
}

}  // namespace
}  // namespace ferry::tcp
