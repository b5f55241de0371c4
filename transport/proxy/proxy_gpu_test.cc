// Kernels start transfers through the proxy (on a GPU; skipped, saying why, without
// one): each block of a kernel puts its block of the local window — GPU memory, or pinned
// host memory — into the peer's buffer over emu's fast mode and waits on the signal
// counter; the host checks every byte. The same launch captured in a CUDA graph is
// replayed ten times, every replay's bytes checked.
#include <gtest/gtest.h>

#include <vector>

#include "transport/engine/testing/world.h"
#include "transport/gpu/testing/gpu_test.h"
#include "transport/proxy/proxy.h"
#include "transport/proxy/testing/put_blocks.h"

namespace ferry::proxy {
namespace {

using ferry::testing::World;
using ferry::testing::WorldOptions;
using testing::PutBlocks;

constexpr uint32_t kBlocks = 32;  // all resident at once: every block waits for all
constexpr uint64_t kBlockBytes = 64 << 10;
constexpr uint64_t kBytes = kBlocks * kBlockBytes;

WorldOptions fast() {
  WorldOptions o;
  o.provider = fabrics::kEmuFast;
  o.ranks = 2;
  o.bytes = kBytes;
  return o;
}

template <typename T>
T ok_or_fail(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return r.ok() ? std::move(r).value() : T{};
}

class ProxyGpu : public ::testing::TestWithParam<MemoryKind> {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_GPU();
    world_ = std::make_unique<World>(fast());
    if (GetParam() == MemoryKind::kDevice) {
      device_window_ = ok_or_fail(gpu::DeviceBuffer::allocate(kBytes));
      window_ = device_window_.data();
    } else {
      host_window_ = ok_or_fail(gpu::PinnedBuffer::allocate(kBytes));
      window_ = host_window_.data();
    }
    auto reg = world_->engine(0).register_memory(window_, kBytes);
    ASSERT_TRUE(reg.ok()) << reg.error().to_string();
    ASSERT_EQ((*reg)->kind(), GetParam());
    shared_ = ok_or_fail(gpu::PinnedBuffer::allocate(sizeof(uint32_t) * (kBlocks + 1)));
    ChannelOptions o;
    o.capacity = 64;
    o.signals = 4;
    o.timeout_ns = 10'000'000'000;
    o.producers = MemoryKind::kDevice;
    auto made = Channel::create(o);
    ASSERT_TRUE(made.ok()) << made.error().to_string();
    channel_ = std::move(made).value();

    ProxyConfig c;
    c.local_window = window_;
    c.local_bytes = kBytes;
    c.peers = {PeerWindow{}, PeerWindow{rank_name(1), world_->regions[0][1], kBytes}};
    source_ = std::make_unique<Proxy>(world_->engine(0), c);
    target_ = std::make_unique<Proxy>(world_->engine(1), ProxyConfig{});
    ASSERT_TRUE(source_->add_channel(*channel_).ok());
    ASSERT_TRUE(target_->start().ok());
    ASSERT_TRUE(source_->start().ok());
    stream_ = ok_or_fail(testing::create_stream());
  }

  void TearDown() override {
    if (source_) source_->stop();
    if (target_) target_->stop();
    if (stream_ != nullptr) testing::destroy_stream(stream_);
  }

  PutBlocks put_blocks() {
    PutBlocks p;
    p.context = channel_->context();
    p.window = window_;
    p.blocks = kBlocks;
    p.block_bytes = kBlockBytes;
    p.signal = 1;
    p.round = shared_.as<uint32_t>();
    p.statuses = shared_.as<uint32_t>() + 1;
    return p;
  }
  void set_round(uint32_t r) {
    shared_.as<uint32_t>()[0] = r;
    for (uint32_t b = 0; b < kBlocks; ++b) shared_.as<uint32_t>()[1 + b] = 0xffffffffu;
  }

  // After round r: every block said ok, the counter stands at (r + 1) per block, and the
  // peer's buffer holds round r's bytes.
  void check_round(uint32_t r) {
    SCOPED_TRACE("round " + std::to_string(r));
    for (uint32_t b = 0; b < kBlocks; ++b) {
      const auto s = static_cast<Status>(shared_.as<uint32_t>()[1 + b]);
      ASSERT_EQ(s, Status::kOk) << "block " << b << ": " << to_string(s);
    }
    EXPECT_EQ(channel_->counter(1), uint64_t{r + 1} * kBlocks);
    EXPECT_EQ(channel_->status(), Status::kOk);
    const std::vector<uint8_t>& got = world_->buffers[1];
    for (uint64_t i = 0; i < kBytes; ++i) {
      ASSERT_EQ(got[i], testing::round_byte(r, i)) << "byte " << i << " (block " << i / kBlockBytes << ")";
    }
  }

  // The memory outlives the engines, the engines the proxies.
  gpu::DeviceBuffer device_window_;
  gpu::PinnedBuffer host_window_;
  void* window_ = nullptr;
  gpu::PinnedBuffer shared_;  // the round, then one status per block
  std::unique_ptr<Channel> channel_;
  std::unique_ptr<World> world_;
  std::unique_ptr<Proxy> source_, target_;
  void* stream_ = nullptr;
};

TEST_P(ProxyGpu, KernelPutsBlocksAndWaitsOnTheSignal) {
  set_round(0);
  ASSERT_TRUE(testing::launch_put_blocks(put_blocks(), stream_).ok());
  ASSERT_TRUE(testing::synchronize(stream_).ok());
  check_round(0);
  EXPECT_TRUE(source_->errors().empty());
}

TEST_P(ProxyGpu, GraphReplaysPutFreshBytesEachTime) {
  auto graph = testing::capture_put_blocks(put_blocks(), stream_);
  ASSERT_TRUE(graph.ok()) << graph.error().to_string();
  for (uint32_t r = 0; r < 10; ++r) {
    set_round(r);
    ASSERT_TRUE(testing::launch_graph(*graph, stream_).ok());
    ASSERT_TRUE(testing::synchronize(stream_).ok());
    check_round(r);
  }
  testing::destroy_graph(*graph);
  EXPECT_TRUE(source_->errors().empty());
  EXPECT_EQ(source_->stats().done, 10u * kBlocks);
}

INSTANTIATE_TEST_SUITE_P(Windows, ProxyGpu, ::testing::Values(MemoryKind::kDevice, MemoryKind::kHost),
                         [](const auto& info) {
                           return std::string(info.param == MemoryKind::kDevice ? "GpuMemory" : "PinnedHostMemory");
                         });

}  // namespace
}  // namespace ferry::proxy
