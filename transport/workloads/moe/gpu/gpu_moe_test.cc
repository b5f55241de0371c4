// The MoE kernels give the bytes of their CPU counterparts: FP8 quantisation (moe/fp8.h),
// dequantisation, the weighted combine (moe/weighted_sum.h), and permute/unpermute as
// row gathers.
#include "transport/workloads/moe/gpu/gpu_moe.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "transport/gpu/paged_copy.h"
#include "transport/gpu/testing/gpu_test.h"
#include "transport/workloads/moe/bf16.h"
#include "transport/workloads/moe/fp8.h"
#include "transport/workloads/moe/weighted_sum.h"

namespace ferry::moe {
namespace {

using ferry::gpu::DeviceBuffer;
using ferry::gpu::testing::download;
using ferry::gpu::testing::upload;

std::vector<uint16_t> activations(uint32_t rows, uint32_t hidden) {
  std::vector<uint16_t> out(size_t{rows} * hidden);
  for (size_t i = 0; i < out.size(); ++i) {
    // Groups of very different magnitudes, some all zero.
    const size_t group = i / kFp8GroupElements;
    const double magnitude = group % 7 == 3 ? 0.0 : std::ldexp(1.0, int(group % 11) - 5);
    out[i] = float_to_bf16(static_cast<float>(std::sin(double(i) * 0.37) * magnitude));
  }
  return out;
}

// The CPU reference of quantise (per 128-element group) and dequantise.
void quantize_on_cpu(const std::vector<uint16_t>& in, std::vector<uint8_t>& q, std::vector<float>& scales) {
  q.resize(in.size());
  scales.resize(in.size() / kFp8GroupElements);
  for (size_t g = 0; g < scales.size(); ++g) {
    float amax = 0;
    for (size_t k = 0; k < kFp8GroupElements; ++k) amax = std::fmax(amax, std::fabs(bf16_to_float(in[g * 128 + k])));
    const float scale = fp8_scale(amax);
    scales[g] = scale;
    for (size_t k = 0; k < kFp8GroupElements; ++k) q[g * 128 + k] = float_to_e4m3(bf16_to_float(in[g * 128 + k]) / scale);
  }
}

TEST(GpuMoe, Fp8QuantiseAndDequantiseMatchTheCpu) {
  FERRY_REQUIRE_GPU();
  const uint32_t rows = 96, hidden = 7168;  // DeepSeek-V3's hidden size
  const std::vector<uint16_t> in = activations(rows, hidden);
  std::vector<uint8_t> want_q;
  std::vector<float> want_scales;
  quantize_on_cpu(in, want_q, want_scales);

  DeviceBuffer gpu_in = upload(in);
  auto q = DeviceBuffer::allocate(in.size());
  auto scales = DeviceBuffer::allocate(want_scales.size() * sizeof(float));
  ASSERT_TRUE(q.ok() && scales.ok());
  ASSERT_TRUE(gpu::launch_quantize_fp8(gpu_in.as<uint16_t>(), q->as<uint8_t>(), scales->as<float>(), rows, hidden).ok());
  EXPECT_EQ(download(q->data(), in.size()), want_q);
  EXPECT_EQ(download<float>(scales->data(), want_scales.size()), want_scales);

  std::vector<uint16_t> want_back(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    want_back[i] = float_to_bf16(e4m3_to_float(want_q[i]) * want_scales[i / 128]);
  }
  auto back = DeviceBuffer::allocate(in.size() * 2);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(gpu::launch_dequantize_fp8(q->as<uint8_t>(), scales->as<float>(), back->as<uint16_t>(), rows, hidden).ok());
  EXPECT_EQ(download<uint16_t>(back->data(), in.size()), want_back);
}

TEST(GpuMoe, Fp8RefusesRowsThatAreNotWholeGroups) {
  const VoidResult r = gpu::launch_quantize_fp8(nullptr, nullptr, nullptr, 1, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

struct CombineCase {
  uint32_t tokens, top_k, hidden;
};

class GpuCombineTest : public ::testing::TestWithParam<CombineCase> {};

TEST_P(GpuCombineTest, MatchesWeightedSum) {
  FERRY_REQUIRE_GPU();
  const CombineCase c = GetParam();
  const uint32_t expert_rows = c.tokens * c.top_k;
  const std::vector<uint16_t> rows = activations(expert_rows, c.hidden);
  std::vector<int32_t> index(size_t{c.tokens} * c.top_k);
  std::vector<float> weights(index.size());
  for (size_t i = 0; i < index.size(); ++i) {
    index[i] = (i % 5 == 4) ? -1 : static_cast<int32_t>((i * 7) % expert_rows);  // some slots empty
    weights[i] = 0.05f + 0.9f * float((i * 37) % 101) / 101.0f;
  }
  std::vector<uint16_t> want(size_t{c.tokens} * c.hidden);
  std::vector<float> acc(c.hidden);
  for (uint32_t t = 0; t < c.tokens; ++t) {
    std::vector<const uint8_t*> slot_rows(c.top_k);
    for (uint32_t j = 0; j < c.top_k; ++j) {
      const int32_t r = index[size_t{t} * c.top_k + j];
      slot_rows[j] = r < 0 ? nullptr : reinterpret_cast<const uint8_t*>(rows.data() + size_t(r) * c.hidden);
    }
    weighted_sum(slot_rows, std::span<const float>(weights.data() + size_t{t} * c.top_k, c.top_k), acc,
                 std::span<uint16_t>(want.data() + size_t{t} * c.hidden, c.hidden));
  }
  DeviceBuffer gpu_rows = upload(rows);
  DeviceBuffer gpu_index = upload(index);
  DeviceBuffer gpu_weights = upload(weights);
  auto out = DeviceBuffer::allocate(want.size() * 2);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(gpu::launch_weighted_combine(gpu_rows.as<uint16_t>(), gpu_index.as<int32_t>(), gpu_weights.as<float>(),
                                           c.tokens, c.top_k, c.hidden, out->as<uint16_t>())
                  .ok());
  EXPECT_EQ(download<uint16_t>(out->data(), want.size()), want);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuCombineTest,
                         ::testing::Values(CombineCase{64, 8, 7168}, CombineCase{33, 2, 4096}, CombineCase{5, 3, 1001}));

// Permute (tokens into expert order) and unpermute are row gathers and scatters.
TEST(GpuMoe, PermuteAndUnpermuteAreRowGathers) {
  FERRY_REQUIRE_GPU();
  const uint32_t tokens = 300, hidden = 7168, row_bytes = hidden * 2;
  const std::vector<uint16_t> x = activations(tokens, hidden);
  std::vector<uint32_t> order(tokens);
  for (uint32_t i = 0; i < tokens; ++i) order[i] = (i * 113) % tokens;  // a permutation: 113 is prime to 300
  std::vector<uint16_t> want(x.size());
  for (uint32_t i = 0; i < tokens; ++i) std::copy_n(x.begin() + size_t(order[i]) * hidden, hidden, want.begin() + size_t(i) * hidden);

  DeviceBuffer gpu_x = upload(x);
  DeviceBuffer gpu_order = upload(order);
  auto permuted = DeviceBuffer::allocate(x.size() * 2);
  auto restored = DeviceBuffer::allocate(x.size() * 2);
  ASSERT_TRUE(permuted.ok() && restored.ok());
  ferry::gpu::PagedCopy gather;
  gather.src = gpu_x.data();
  gather.dst = permuted->data();
  gather.src_pages = gpu_order.as<uint32_t>();
  gather.pages = tokens;
  gather.src_page_stride = gather.dst_page_stride = gather.row_bytes = row_bytes;
  ASSERT_TRUE(ferry::gpu::launch_paged_copy(gather).ok());
  EXPECT_EQ(download<uint16_t>(permuted->data(), x.size()), want);

  ferry::gpu::PagedCopy scatter = gather;
  scatter.src = permuted->data();
  scatter.dst = restored->data();
  scatter.src_pages = nullptr;
  scatter.dst_pages = gpu_order.as<uint32_t>();
  ASSERT_TRUE(ferry::gpu::launch_paged_copy(scatter).ok());
  EXPECT_EQ(download<uint16_t>(restored->data(), x.size()), x);
}

}  // namespace
}  // namespace ferry::moe
