// Dispatch and combine with the whole exchange in GPU memory (on a GPU; skipped, saying
// why, without one): every rank's receive region, received rows and combined tokens are
// byte for byte those of the same calls in host memory, and those are checked against
// the local reference (rows, counts, origins, combined tokens bit for bit).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "transport/gpu/testing/gpu_test.h"
#include "transport/workloads/moe/testing/moe_cluster.h"

namespace ferry::moe::testing {
namespace {

MoeClusterOptions options(uint32_t ranks, const std::string& provider, MoeMode mode, uint32_t element_bytes) {
  MoeClusterOptions o;
  o.provider = provider;
  o.ranks = ranks;
  o.moe.experts = 4 * ranks;
  o.moe.top_k = 4;
  o.moe.hidden = 80;  // 160-byte bf16 rows, 80-byte fp8 rows: not multiples of the 64-byte alignment
  o.moe.element_bytes = element_bytes;
  o.moe.max_tokens = 24;
  o.moe.mode = mode;
  o.moe.memory = MemoryKind::kDevice;
  return o;
}

// "" when equal, else the first element that differs.
template <typename T>
std::string difference(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size()) {
    return std::to_string(got.size()) + " elements where the host path has " + std::to_string(want.size());
  }
  const auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin());
  if (g == got.end()) return "";
  return "element " + std::to_string(g - got.begin()) + " is " + std::to_string(*g) + " where the host path has " +
         std::to_string(*w);
}

// The same calls on a cluster in GPU memory and on its twin in host memory: both pass
// the reference's checks, and every byte the exchange left behind is the same.
void expect_same_as_host(const MoeClusterOptions& gpu_options,
                         const std::vector<std::tuple<Routing, uint32_t>>& calls) {
  MoeClusterOptions host_options = gpu_options;
  host_options.moe.memory = MemoryKind::kHost;
  MoeCluster gpu(gpu_options);
  MoeCluster host(host_options);
  uint64_t seed = 1;
  for (const auto& [routing, tokens] : calls) {
    SCOPED_TRACE(routing_name(routing) + ", " + std::to_string(tokens) + " tokens");
    const std::vector<RankInputs> inputs = host.make_inputs(routing, tokens, seed++);
    std::vector<std::vector<uint16_t>> host_combined, gpu_combined;
    ASSERT_EQ(host.cycle(inputs, &host_combined), "");
    ASSERT_EQ(gpu.cycle(inputs, &gpu_combined), "");
    ASSERT_EQ(gpu_combined.size(), host_combined.size());
    for (uint32_t r = 0; r < gpu.size(); ++r) {
      EXPECT_EQ(difference(gpu_combined[r], host_combined[r]), "") << "combined tokens of rank " << r;
    }
    for (uint32_t r = 0; r < gpu.size(); ++r) {
      const ExpertBatch& got = gpu.rank(r).received();
      const ExpertBatch& want = host.rank(r).received();
      ASSERT_EQ(got.rows(), want.rows()) << "rank " << r;
      EXPECT_TRUE(std::equal(got.all_origins().begin(), got.all_origins().end(), want.all_origins().begin()))
          << "rank " << r;
      EXPECT_EQ(difference(gpu.received_rows(r), host.received_rows(r)), "") << "received rows of rank " << r;
      // Dispatch slots and combine replies: the messages were the host path's, byte for byte.
      EXPECT_EQ(difference(gpu.region().read(r, 0, gpu.geometry().region_bytes()), host.region().bytes(r)), "")
          << "receive region of rank " << r;
      for (auto [g, h] : {std::pair{gpu.rank(r).last_dispatch(), host.rank(r).last_dispatch()},
                          std::pair{gpu.rank(r).last_combine(), host.rank(r).last_combine()}}) {
        EXPECT_EQ(g.messages, h.messages) << "rank " << r;
        EXPECT_EQ(g.payload_bytes, h.payload_bytes) << "rank " << r;
        EXPECT_EQ(g.wire_bytes, h.wire_bytes) << "rank " << r;
      }
      EXPECT_TRUE(gpu.rank(r).memory() == host.rank(r).memory()) << "rank " << r;
    }
  }
}

using Case = std::tuple<uint32_t, std::string, MoeMode, uint32_t>;

class ExpertParallelGpu : public ::testing::TestWithParam<Case> {};

TEST_P(ExpertParallelGpu, DispatchAndCombineGiveTheHostPathsBytes) {
  FERRY_REQUIRE_GPU();
  const auto [ranks, provider, mode, element_bytes] = GetParam();
  expect_same_as_host(options(ranks, provider, mode, element_bytes),
                      {{Routing::kUniform, 24}, {Routing::kDuplicateDestinations, 17}, {Routing::kUnusedSlots, 24},
                       {Routing::kRankReceivesNothing, 20}});
}

INSTANTIATE_TEST_SUITE_P(
    All, ExpertParallelGpu,
    ::testing::Combine(::testing::Values(2u, 3u, 4u, 8u), ::testing::Values(fabrics::kEmu, fabrics::kEmuFast),
                       ::testing::Values(MoeMode::kLowLatency, MoeMode::kNormal), ::testing::Values(2u, 1u)),
    [](const auto& info) {
      return "Ep" + std::to_string(std::get<0>(info.param)) + "_" +
             (std::get<1>(info.param) == fabrics::kEmuFast ? "Fast" : "Deterministic") + "_" +
             (std::get<2>(info.param) == MoeMode::kLowLatency ? "LowLatency" : "Normal") + "_" +
             (std::get<3>(info.param) == 2 ? "Bf16" : "Fp8");
    });

// DeepSeek-V3's row size: the kernels' 16-byte paths, a hot expert, and normal mode
// growing its GPU buffers from one call to the next.
TEST(ExpertParallelGpuShapes, FullSizeRowsAndASkewedRouting) {
  FERRY_REQUIRE_GPU();
  MoeClusterOptions o = options(4, fabrics::kEmu, MoeMode::kNormal, 2);
  o.moe.hidden = 7168;
  o.moe.experts = 32;
  o.moe.top_k = 8;
  o.moe.max_tokens = 32;
  expect_same_as_host(o, {{Routing::kUniform, 8}, {Routing::kSkewed, 32}});
}

// Rows of odd sizes (100 fp8 bytes, 200 bf16 bytes): the copies' narrow accesses and the
// combine kernel's one-element path (hidden not a multiple of 8); top-k above the
// experts of a rank; ranks with no tokens.
TEST(ExpertParallelGpuShapes, OddRowSizesTopKAboveARanksExpertsAndEmptyRanks) {
  FERRY_REQUIRE_GPU();
  for (uint32_t element_bytes : {1u, 2u}) {
    SCOPED_TRACE(std::to_string(element_bytes) + "-byte elements");
    MoeClusterOptions o = options(3, fabrics::kEmu, MoeMode::kLowLatency, element_bytes);
    o.moe.hidden = 100;
    o.moe.experts = 6;
    o.moe.top_k = 5;
    expect_same_as_host(o, {{Routing::kDuplicateDestinations, 24}, {Routing::kUniform, 0}, {Routing::kSkewed, 7}});
  }
}

// Host memory where the exchange expects GPU memory is refused by name, before anything
// is sent, rather than handed to a kernel.
TEST(ExpertParallelGpuInputs, HostBuffersAreRefusedNamingWhich) {
  FERRY_REQUIRE_GPU();
  const MoeClusterOptions o = options(2, fabrics::kEmu, MoeMode::kLowLatency, 2);
  MoeCluster moe(o);

  std::vector<uint8_t> host_memory(moe.geometry().region_bytes());
  SymmetricRegion host_region = moe.region().view(0);
  host_region.local = host_memory.data();
  auto refused = ExpertParallel::create(moe.group(0), o.moe, host_region);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("the receive region is host memory"), std::string::npos)
      << refused.error().message;

  const std::vector<RankInputs> inputs = moe.make_inputs(Routing::kUniform, 16, 1);
  Task<VoidResult> dispatch = moe.rank(0).dispatch(inputs[0].topk, inputs[0].weights, inputs[0].hidden);  // host memory
  dispatch.start();
  ASSERT_TRUE(dispatch.done()) << "a refused input must not wait for the other ranks";
  ASSERT_FALSE(dispatch.result().ok());
  EXPECT_EQ(dispatch.result().error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(dispatch.result().error().message.find("hidden is host memory"), std::string::npos)
      << dispatch.result().error().message;
  EXPECT_TRUE(moe.drain());
}

}  // namespace
}  // namespace ferry::moe::testing
