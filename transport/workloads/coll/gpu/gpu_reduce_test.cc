// The GPU reduction gives the bits coll::reduce gives, for every element type and
// operation, aligned or not.
#include "transport/workloads/coll/gpu/gpu_reduce.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "transport/gpu/testing/gpu_test.h"
#include "transport/workloads/coll/reduction.h"

namespace ferry::coll {
namespace {

using ferry::gpu::DeviceBuffer;
using ferry::gpu::testing::download;
using ferry::gpu::testing::upload;

struct ReduceCase {
  DType dtype;
  ReduceOp op;
  size_t sources;
  size_t count;
  size_t offset_elements;  // a start that is not 16-byte aligned takes the scalar path
};

// Values with fractions, signs and a spread of magnitudes, so rounding and order matter.
std::vector<uint8_t> inputs(size_t source, size_t count, DType dtype) {
  std::vector<uint8_t> out(count * element_bytes(dtype));
  for (size_t i = 0; i < count; ++i) {
    const double x = std::sin(double(i * 31 + source * 977)) * std::ldexp(1.0, int((i + source) % 20) - 6);
    store_from_float(out.data(), i, dtype, static_cast<float>(x));
  }
  return out;
}

class GpuReduceTest : public ::testing::TestWithParam<ReduceCase> {};

TEST_P(GpuReduceTest, MatchesTheCpuReductionBitForBit) {
  FERRY_REQUIRE_GPU();
  const ReduceCase c = GetParam();
  const size_t bytes = element_bytes(c.dtype);
  const size_t offset = c.offset_elements * bytes;
  std::vector<std::vector<uint8_t>> host;
  std::vector<const void*> host_ptrs;
  std::vector<DeviceBuffer> gpu;
  std::vector<const void*> gpu_ptrs;
  for (size_t s = 0; s < c.sources; ++s) {
    std::vector<uint8_t> padded(offset, 0);
    const std::vector<uint8_t> values = inputs(s, c.count, c.dtype);
    padded.insert(padded.end(), values.begin(), values.end());
    host.push_back(values);
    gpu.push_back(upload(padded));
    gpu_ptrs.push_back(gpu.back().as<uint8_t>() + offset);
  }
  for (const auto& h : host) host_ptrs.push_back(h.data());
  std::vector<uint8_t> want(c.count * bytes);
  reduce(want.data(), host_ptrs, c.count, c.dtype, c.op);

  auto out = DeviceBuffer::allocate(offset + c.count * bytes);
  ASSERT_TRUE(out.ok());
  void* dst = out->as<uint8_t>() + offset;
  ASSERT_TRUE(gpu::launch_reduce(dst, gpu_ptrs, c.count, c.dtype, c.op).ok());
  EXPECT_EQ(download(dst, c.count * bytes), want);

  // In place: the first source is also the destination.
  ASSERT_TRUE(gpu::launch_reduce(const_cast<void*>(gpu_ptrs[0]), gpu_ptrs, c.count, c.dtype, c.op).ok());
  EXPECT_EQ(download(gpu_ptrs[0], c.count * bytes), want) << "in place";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GpuReduceTest,
    ::testing::Values(ReduceCase{DType::kFloat32, ReduceOp::kSum, 2, 1 << 20, 0},
                      ReduceCase{DType::kFloat32, ReduceOp::kSum, 8, 100'003, 0},
                      ReduceCase{DType::kFloat32, ReduceOp::kMax, 3, 4099, 1},
                      ReduceCase{DType::kFloat16, ReduceOp::kSum, 2, 1 << 20, 0},
                      ReduceCase{DType::kFloat16, ReduceOp::kSum, 7, 65'537, 3},
                      ReduceCase{DType::kFloat16, ReduceOp::kMax, 4, 1000, 0},
                      ReduceCase{DType::kBFloat16, ReduceOp::kSum, 2, 1 << 20, 0},
                      ReduceCase{DType::kBFloat16, ReduceOp::kSum, 16, 12'345, 5},
                      ReduceCase{DType::kBFloat16, ReduceOp::kMax, 2, 999, 0}));

TEST(GpuReduce, RefusesTooManyOrNoSources) {
  std::vector<const void*> none;
  EXPECT_FALSE(gpu::launch_reduce(nullptr, none, 8, DType::kFloat32, ReduceOp::kSum).ok());
  std::vector<const void*> many(gpu::kMaxReduceSources + 1, reinterpret_cast<const void*>(16));
  const VoidResult r = gpu::launch_reduce(nullptr, many, 8, DType::kFloat32, ReduceOp::kSum);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry::coll
