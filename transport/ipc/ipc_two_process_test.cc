// Two processes of one host: a child writes into its parent's memory through the ipc
// provider, every byte checked; a killed peer process ends operations with retry
// exceeded, never a hang.
#include <gtest/gtest.h>

#include <optional>

#include "transport/ipc/testing/two_process.h"

namespace ferry::ipc {
namespace {

using testing::Card;
using testing::kAllAccess;
using testing::Side;

constexpr size_t kBytes = 1 << 20;

uint8_t pattern(uint64_t i) { return static_cast<uint8_t>((i * 131) ^ (i >> 8) ^ 0x5a); }

// The child: connects to the parent, writes `kBytes` of the pattern into its region in
// 16 pieces and a closing write-with-imm, and exits 0 only if every completion succeeded.
int child_writes(int to_parent, int from_parent) {
  Side s;
  std::vector<uint8_t> src(kBytes);
  for (size_t i = 0; i < kBytes; ++i) src[i] = pattern(i);
  if (!testing::open_side(s)) return 2;
  auto mr = s.pd->register_memory(src.data(), src.size(), kAllAccess, MemoryKind::kHost);
  if (!mr.ok()) return 3;
  s.mr = std::move(mr).value();
  const Card mine = testing::card_of(s);
  Card parent;
  if (!testing::write_card(to_parent, mine) || !testing::read_card(from_parent, &parent)) return 4;
  if (!s.ep->connect({parent.address, sizeof parent.address}).ok()) return 5;
  constexpr size_t kPiece = kBytes / 16;
  for (size_t i = 0; i <= 16; ++i) {
    const bool last = i == 16;
    Sge sge{reinterpret_cast<uint64_t>(src.data()) + (last ? 0 : i * kPiece), last ? 0u : uint32_t{kPiece},
            s.mr->lkey()};
    WorkRequest wr;
    wr.cookie = i;
    wr.opcode = last ? Opcode::kWriteWithImm : Opcode::kWrite;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.remote_addr = parent.addr + (last ? 0 : i * kPiece);
    wr.rkey = parent.rkey;
    wr.imm = 0xfeed;
    if (!s.ep->post_send({&wr, 1}).ok()) return 6;
    auto c = testing::wait_one(*s.provider, *s.cq);
    if (!c || c->status != Status::kSuccess || c->cookie != i) return 7;
  }
  return 0;
}

TEST(IpcTwoProcess, ChildWritesEveryByteOfParentHostMemory) {
  const testing::Child child = testing::fork_child(child_writes);
  ASSERT_GE(child.pid, 0);

  Side s;
  ASSERT_TRUE(testing::open_side(s));
  std::vector<uint8_t> dst(kBytes + 2, 0xee);  // a canary byte at each end
  auto mr = s.pd->register_memory(dst.data() + 1, kBytes, kAllAccess, MemoryKind::kHost);
  ASSERT_TRUE(mr.ok()) << mr.error().to_string();
  s.mr = std::move(mr).value();
  const Card mine = testing::card_of(s, dst.data() + 1);
  Card theirs;
  ASSERT_TRUE(testing::read_card(child.from_child, &theirs));
  ASSERT_TRUE(s.ep->connect({theirs.address, sizeof theirs.address}).ok());
  RecvRequest recv{77, nullptr, 0};
  ASSERT_TRUE(s.ep->post_recv({&recv, 1}).ok());
  ASSERT_TRUE(testing::write_card(child.to_child, mine));

  auto landed = testing::wait_one(*s.provider, *s.cq);
  ASSERT_TRUE(landed.has_value()) << "no write-with-imm from the child within the timeout";
  EXPECT_EQ(landed->status, Status::kSuccess);
  EXPECT_EQ(landed->kind, CompletionKind::kRecvWriteWithImm);
  EXPECT_EQ(landed->cookie, 77u);
  EXPECT_EQ(landed->imm, 0xfeedu);
  EXPECT_EQ(testing::wait_child(child.pid), 0);
  EXPECT_EQ(dst.front(), 0xee);
  EXPECT_EQ(dst.back(), 0xee);
  size_t wrong = 0;
  for (size_t i = 0; i < kBytes; ++i) wrong += dst[1 + i] != pattern(i);
  EXPECT_EQ(wrong, 0u) << "bytes that did not land as written";
}

// The child publishes a region and waits to be killed.
int child_waits(int to_parent, int from_parent) {
  Side s;
  std::vector<uint8_t> memory(4096);
  for (size_t i = 0; i < memory.size(); ++i) memory[i] = pattern(i);
  if (!testing::open_side(s)) return 2;
  auto mr = s.pd->register_memory(memory.data(), memory.size(), kAllAccess, MemoryKind::kHost);
  if (!mr.ok()) return 3;
  s.mr = std::move(mr).value();
  const Card mine = testing::card_of(s, memory.data());
  Card parent;
  if (!testing::write_card(to_parent, mine) || !testing::read_card(from_parent, &parent)) return 4;
  if (!s.ep->connect({parent.address, sizeof parent.address}).ok()) return 5;
  if (!testing::write_card(to_parent, mine)) return 6;  // connected
  pause();
  return 0;
}

TEST(IpcTwoProcess, KilledPeerGivesRetryExceeded) {
  const testing::Child child = testing::fork_child(child_waits);
  ASSERT_GE(child.pid, 0);

  EndpointConfig config;
  config.retry_count = 2;
  config.retry_timeout_ns = 1'000'000;
  Side s;
  ASSERT_TRUE(testing::open_side(s, config));
  std::vector<uint8_t> local(4096, 0);
  auto mr = s.pd->register_memory(local.data(), local.size(), kAllAccess, MemoryKind::kHost);
  ASSERT_TRUE(mr.ok());
  s.mr = std::move(mr).value();
  const Card mine = testing::card_of(s);
  Card theirs;
  ASSERT_TRUE(testing::read_card(child.from_child, &theirs));
  ASSERT_TRUE(s.ep->connect({theirs.address, sizeof theirs.address}).ok());
  ASSERT_TRUE(testing::write_card(child.to_child, mine));
  ASSERT_TRUE(testing::read_card(child.from_child, &theirs));

  // Alive: a read brings the child's bytes, every one checked.
  Sge sge{reinterpret_cast<uint64_t>(local.data()), 4096, s.mr->lkey()};
  WorkRequest wr;
  wr.cookie = 1;
  wr.opcode = Opcode::kRead;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.remote_addr = theirs.addr;
  wr.rkey = theirs.rkey;
  ASSERT_TRUE(s.ep->post_send({&wr, 1}).ok());
  auto read = testing::wait_one(*s.provider, *s.cq);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status, Status::kSuccess);
  for (size_t i = 0; i < local.size(); ++i) ASSERT_EQ(local[i], pattern(i)) << "byte " << i;

  // Killed (and not yet reaped: a zombie is dead too): the next write gives up.
  ASSERT_EQ(kill(child.pid, SIGKILL), 0);
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, child.pid, &info, WEXITED | WNOWAIT), 0);  // dead, left a zombie
  wr.cookie = 2;
  wr.opcode = Opcode::kWrite;
  ASSERT_TRUE(s.ep->post_send({&wr, 1}).ok());
  auto lost = testing::wait_one(*s.provider, *s.cq);
  ASSERT_TRUE(lost.has_value()) << "no completion after the peer died";
  EXPECT_EQ(lost->cookie, 2u);
  EXPECT_EQ(lost->status, Status::kRetryExceeded);
  EXPECT_EQ(s.ep->state(), EndpointState::kError);
  EXPECT_EQ(testing::wait_child(child.pid), 128);
}

// Without a GPU, registering GPU memory fails with the runtime's reason.
TEST(IpcProvider, GpuMemoryWithoutGpuIsRefusedWithAReason) {
  Side s;
  ASSERT_TRUE(testing::open_side(s));
  std::vector<uint8_t> host(256);
  auto mr = s.pd->register_memory(host.data(), host.size(), kAllAccess, MemoryKind::kDevice);
  ASSERT_FALSE(mr.ok());
  EXPECT_FALSE(mr.error().message.empty());
}

}  // namespace
}  // namespace ferry::ipc
