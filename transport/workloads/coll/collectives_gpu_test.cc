// Every collective and algorithm on GPU memory (on a GPU; skipped, saying why, without
// one): the caller's buffers and the scratch in GPU memory, copies on the copy engines
// and reductions in the kernel, fp32, fp16 and bf16, over emu and sim, every element of
// every rank checked against the exact reference; a host buffer on a GPU communicator
// refused, naming both kinds.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "transport/gpu/testing/gpu_test.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/coll_world.h"
#include "transport/workloads/coll/testing/exact_inputs.h"

namespace ferry::coll::testing {
namespace {

using gpu::DeviceBuffer;
using gpu::testing::download;
using gpu::testing::upload;

struct GpuCase {
  Collective collective;
  Algorithm algorithm;
  uint32_t ranks;
  std::string provider = fabrics::kEmu;
};

size_t bytes_of(size_t count, DType dtype) { return count * element_bytes(dtype); }

// A GPU buffer of `count` elements holding rank `rank`'s exact values.
DeviceBuffer exact_on_gpu(size_t count, DType d, uint32_t rank, uint32_t ranks, uint64_t seed) {
  std::vector<uint8_t> host(bytes_of(count, d));
  fill_exact(host.data(), count, d, rank, ranks, seed);
  return upload(host);
}

size_t wrong_on_gpu(const DeviceBuffer& buffer, size_t count, DType d, const std::function<float(size_t)>& expected) {
  const std::vector<uint8_t> host = download(buffer.data(), bytes_of(count, d));
  return count_wrong(host.data(), count, d, expected);
}

Task<TransferResult> one_call(Communicator& comm, GpuCase c, DType d, size_t count, uint64_t seed, size_t* wrong) {
  const uint32_t n = comm.size(), me = comm.rank();
  TransferResult r;
  switch (c.collective) {
    case Collective::kAllReduce: {
      DeviceBuffer data = exact_on_gpu(count, d, me, n, seed);
      r = co_await all_reduce(comm, data.data(), count, d, ReduceOp::kSum, c.algorithm);
      *wrong += wrong_on_gpu(data, count, d, [&](size_t i) { return exact_reduction(i, n, ReduceOp::kSum, seed); });
      break;
    }
    case Collective::kReduceScatter: {
      DeviceBuffer send = exact_on_gpu(n * count, d, me, n, seed);
      DeviceBuffer recv = upload(std::vector<uint8_t>(bytes_of(count, d), 0));
      r = co_await reduce_scatter(comm, send.data(), recv.data(), count, d, ReduceOp::kMax, c.algorithm);
      *wrong += wrong_on_gpu(recv, count, d,
                             [&](size_t i) { return exact_reduction(me * count + i, n, ReduceOp::kMax, seed); });
      break;
    }
    case Collective::kAllGather: {
      DeviceBuffer send = exact_on_gpu(count, d, me, n, seed);
      DeviceBuffer recv = upload(std::vector<uint8_t>(bytes_of(n * count, d), 0));
      r = co_await all_gather(comm, send.data(), recv.data(), count, d, c.algorithm);
      *wrong += wrong_on_gpu(recv, n * count, d,
                             [&](size_t i) { return exact_value(uint32_t(i / count), i % count, n, seed); });
      break;
    }
    case Collective::kBroadcast: {
      DeviceBuffer data = exact_on_gpu(count, d, me, n, seed);
      r = co_await broadcast(comm, data.data(), count, d, n - 1, c.algorithm);
      *wrong += wrong_on_gpu(data, count, d, [&](size_t i) { return exact_value(n - 1, i, n, seed); });
      break;
    }
    case Collective::kAllToAll: {
      DeviceBuffer send = exact_on_gpu(n * count, d, me, n, seed);
      DeviceBuffer recv = upload(std::vector<uint8_t>(bytes_of(n * count, d), 0));
      r = co_await all_to_all(comm, send.data(), recv.data(), count, d);
      *wrong += wrong_on_gpu(recv, n * count, d, [&](size_t i) {
        return exact_value(uint32_t(i / count), me * count + i % count, n, seed);
      });
      break;
    }
  }
  co_return r;
}

Task<TransferResult> calls(Communicator& comm, GpuCase c, size_t* wrong) {
  uint64_t seed = 7;
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    for (size_t count : {size_t{1}, size_t{301}, size_t{70'001}}) {  // the largest takes several rounds
      TransferResult r = co_await one_call(comm, c, d, count, ++seed, wrong);
      if (!r.ok()) co_return r;
    }
  }
  co_return TransferResult{};
}

class CollectivesGpu : public ::testing::TestWithParam<GpuCase> {};

TEST_P(CollectivesGpu, EveryElementOfEveryRankIsExact) {
  FERRY_REQUIRE_GPU();
  const GpuCase c = GetParam();
  WorldOptions o;
  o.provider = c.provider;
  o.ranks = c.ranks;
  o.memory = MemoryKind::kDevice;
  CollWorld world(o, 256 << 10);
  ASSERT_EQ(world.comm(0).memory(), MemoryKind::kDevice);
  std::vector<size_t> wrong(c.ranks, 0);
  auto results = world.run([&](uint32_t r) { return calls(world.comm(r), c, &wrong[r]); });
  for (uint32_t r = 0; r < c.ranks; ++r) {
    EXPECT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].error().message;
    EXPECT_EQ(wrong[r], 0u) << "rank " << r;
  }
}

std::vector<GpuCase> cases() {
  std::vector<GpuCase> out;
  const std::pair<Collective, std::vector<Algorithm>> table[] = {
      {Collective::kAllReduce, {Algorithm::kOneShot, Algorithm::kTwoShot, Algorithm::kRing}},
      {Collective::kReduceScatter, {Algorithm::kOneShot, Algorithm::kRing}},
      {Collective::kAllGather, {Algorithm::kOneShot, Algorithm::kRing}},
      {Collective::kBroadcast, {Algorithm::kOneShot, Algorithm::kTwoShot}},
      {Collective::kAllToAll, {Algorithm::kOneShot}},
  };
  for (const auto& [collective, algorithms] : table) {
    for (Algorithm a : algorithms) {
      if (!supports(collective, a)) continue;
      for (uint32_t ranks : {2u, 4u}) out.push_back({collective, a, ranks});
    }
  }
  out.push_back({Collective::kAllReduce, Algorithm::kRing, 8, fabrics::kSim});
  out.push_back({Collective::kAllReduce, Algorithm::kOneShot, 8, fabrics::kEmuFast});
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, CollectivesGpu, ::testing::ValuesIn(cases()), [](const auto& info) {
  const GpuCase& c = info.param;
  std::string name = std::string(to_string(c.collective)) + "_" + to_string(c.algorithm) + "_" +
                     std::to_string(c.ranks) + "ranks_" + c.provider;
  for (char& ch : name) {
    if (ch == '-') ch = '_';
  }
  return name;
});

// The caller's buffer in host memory, the scratch in GPU memory: refused before anything
// moves, naming both kinds.
TEST(CollectivesGpuArguments, AHostBufferOnAGpuCommunicatorIsRefused) {
  FERRY_REQUIRE_GPU();
  WorldOptions o;
  o.memory = MemoryKind::kDevice;
  CollWorld world(o, 64 << 10);
  std::vector<std::vector<float>> host(2, std::vector<float>(64, 1.0f));
  auto results = world.run([&](uint32_t r) {
    return all_reduce(world.comm(r), host[r].data(), 64, DType::kFloat32, ReduceOp::kSum, Algorithm::kRing);
  });
  for (uint32_t r = 0; r < 2; ++r) {
    ASSERT_FALSE(results[r].ok()) << "rank " << r;
    EXPECT_EQ(results[r].error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(results[r].error().message.find("host memory, the communicator's scratch in GPU memory"),
              std::string::npos)
        << results[r].error().message;
  }
}

}  // namespace
}  // namespace ferry::coll::testing
