// Two processes and GPU memory: a child writes into its parent's GPU memory through the
// CUDA IPC handle the parent published, every byte checked. Needs a GPU (tag `gpu`).
#include <gtest/gtest.h>

#include "transport/gpu/testing/gpu_test.h"
#include "transport/ipc/testing/two_process.h"

namespace ferry::ipc {
namespace {

using testing::Card;
using testing::kAllAccess;
using testing::Side;

constexpr size_t kBytes = 4 << 20;

// The child: from host memory into the parent's GPU region; rkey 0 means "no GPU, stop".
int child_writes(int to_parent, int from_parent) {
  Side s;
  const std::vector<uint8_t> src = gpu::testing::pattern_bytes(7, kBytes);
  if (!testing::open_side(s)) return 2;
  auto mr = s.pd->register_memory(const_cast<uint8_t*>(src.data()), src.size(), kAllAccess, MemoryKind::kHost);
  if (!mr.ok()) return 3;
  s.mr = std::move(mr).value();
  const Card mine = testing::card_of(s);
  Card parent;
  if (!testing::write_card(to_parent, mine) || !testing::read_card(from_parent, &parent)) return 4;
  if (parent.rkey == 0) return 0;
  if (!s.ep->connect({parent.address, sizeof parent.address}).ok()) return 5;
  Sge sge{reinterpret_cast<uint64_t>(src.data()), static_cast<uint32_t>(kBytes), s.mr->lkey()};
  WorkRequest wr;
  wr.cookie = 1;
  wr.opcode = Opcode::kWriteWithImm;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.remote_addr = parent.addr;
  wr.rkey = parent.rkey;
  wr.imm = 9;
  if (!s.ep->post_send({&wr, 1}).ok()) return 6;
  auto c = testing::wait_one(*s.provider, *s.cq);
  return c && c->status == Status::kSuccess ? 0 : 7;
}

TEST(IpcGpu, ChildWritesEveryByteOfParentGpuMemory) {
  // Fork before CUDA starts in this process: a child of a CUDA process cannot use CUDA.
  const testing::Child child = testing::fork_child(child_writes);
  ASSERT_GE(child.pid, 0);
  Card theirs;
  ASSERT_TRUE(testing::read_card(child.from_child, &theirs));
  if (auto here = gpu::available(); !here.ok()) {
    ASSERT_TRUE(testing::write_card(child.to_child, Card{}));  // rkey 0: the child stops
    EXPECT_EQ(testing::wait_child(child.pid), 0);
    GTEST_SKIP() << "needs a GPU: " << here.error().message;
  }
  Side s;
  ASSERT_TRUE(testing::open_side(s));
  auto dst = gpu::DeviceBuffer::allocate(kBytes + 2);
  ASSERT_TRUE(dst.ok()) << dst.error().to_string();
  const std::vector<uint8_t> canary(kBytes + 2, 0xee);
  ASSERT_TRUE(gpu::copy(dst->data(), canary.data(), canary.size()).ok());
  uint8_t* region = dst->as<uint8_t>() + 1;
  auto mr = s.pd->register_memory(region, kBytes, kAllAccess, MemoryKind::kDevice);
  ASSERT_TRUE(mr.ok()) << mr.error().to_string();
  s.mr = std::move(mr).value();
  const Card mine = testing::card_of(s, region);
  ASSERT_TRUE(s.ep->connect({theirs.address, sizeof theirs.address}).ok());
  RecvRequest recv{5, nullptr, 0};
  ASSERT_TRUE(s.ep->post_recv({&recv, 1}).ok());
  ASSERT_TRUE(testing::write_card(child.to_child, mine));

  auto landed = testing::wait_one(*s.provider, *s.cq);
  ASSERT_TRUE(landed.has_value()) << "no write-with-imm from the child within the timeout";
  EXPECT_EQ(landed->status, Status::kSuccess);
  EXPECT_EQ(landed->imm, 9u);
  EXPECT_EQ(testing::wait_child(child.pid), 0);
  const auto got = gpu::testing::download(dst->data(), kBytes + 2);
  const auto want = gpu::testing::pattern_bytes(7, kBytes);
  EXPECT_EQ(got.front(), 0xee);
  EXPECT_EQ(got.back(), 0xee);
  size_t wrong = 0;
  for (size_t i = 0; i < kBytes; ++i) wrong += got[1 + i] != want[i];
  EXPECT_EQ(wrong, 0u);
}

}  // namespace
}  // namespace ferry::ipc
