// Pipelines whose receive slots, activations and header scratch are GPU memory (on a
// GPU; skipped, saying why, without one): every micro-batch arrives whole and in order
// at every stage, over emu and sim, every byte checked.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "transport/gpu/testing/gpu_test.h"
#include "transport/workloads/pp/testing/pipeline.h"

namespace ferry::pp::testing {
namespace {

class GpuPipelines : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind>> {};

TEST_P(GpuPipelines, StagesForwardGpuActivationsInOrder) {
  FERRY_REQUIRE_GPU();
  PipelineOptions o;
  o.world.provider = std::get<0>(GetParam());
  o.world.kind = std::get<1>(GetParam());
  o.world.memory = MemoryKind::kDevice;
  o.micro_batches = 20;
  Pipeline p(o);
  ASSERT_EQ(p.memory.kind(), MemoryKind::kDevice);
  p.start();
  ASSERT_TRUE(p.run()) << "the pipeline did not finish";
  for (size_t s = 0; s < p.stages(); ++s) {
    EXPECT_TRUE(p.tasks[s].result().ok()) << "stage " << s << ": " << p.tasks[s].result().error().message;
  }
  EXPECT_TRUE(p.mismatches.empty()) << p.mismatches.front();
  EXPECT_EQ(p.receivers[p.last()]->received(), o.micro_batches);
}

INSTANTIATE_TEST_SUITE_P(All, GpuPipelines, ::testing::ValuesIn(ferry::testing::gpu_test_fabrics()),
                         [](const auto& info) { return ferry::testing::provider_kind_name(info.param); });

}  // namespace
}  // namespace ferry::pp::testing
