#include "transport/workloads/moe/gpu/gpu_moe.h"

#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <string>

namespace ferry::moe::gpu {
namespace {

constexpr int kThreads = 256;
constexpr uint32_t kGroup = 128;  // elements per FP8 scale (moe/fp8.h)

__device__ float bf16_to_float(uint16_t v) { return __uint_as_float(uint32_t{v} << 16); }

// Round to nearest, ties to even; NaN stays a quiet NaN: moe::float_to_bf16, bit for bit.
__device__ uint16_t float_to_bf16(float f) {
  const uint32_t bits = __float_as_uint(f);
  const uint32_t rounded = (bits + 0x7fff + ((bits >> 16) & 1)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x40;
  return static_cast<uint16_t>((bits & 0x7fffffff) > 0x7f800000 ? quiet_nan : rounded);
}

__device__ float e4m3_to_float(uint8_t q) {
  const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(q), __NV_E4M3);
  return __half2float(__half(h));
}

// One warp per group of 128 elements, four per lane.
__global__ void quantize_kernel(const uint16_t* in, uint8_t* out, float* scales, uint64_t groups) {
  const uint64_t group = (uint64_t{blockIdx.x} * kThreads + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (group >= groups) return;
  const uint2 raw = reinterpret_cast<const uint2*>(in + group * kGroup)[lane];
  const uint16_t* h = reinterpret_cast<const uint16_t*>(&raw);
  float x[4];
  float amax = 0;
  for (int k = 0; k < 4; ++k) {
    x[k] = bf16_to_float(h[k]);
    amax = fmaxf(amax, fabsf(x[k]));
  }
  for (int offset = 16; offset > 0; offset /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
  const float scale = amax > 0 ? __fdiv_rn(amax, 448.0f) : 1.0f;
  uint32_t packed = 0;
  for (int k = 0; k < 4; ++k) {
    const uint32_t q = __nv_cvt_float_to_fp8(__fdiv_rn(x[k], scale), __NV_SATFINITE, __NV_E4M3);
    packed |= q << (8 * k);
  }
  reinterpret_cast<uint32_t*>(out + group * kGroup)[lane] = packed;
  if (lane == 0) scales[group] = scale;
}

__global__ void dequantize_kernel(const uint8_t* in, const float* scales, uint16_t* out, uint64_t groups) {
  const uint64_t group = (uint64_t{blockIdx.x} * kThreads + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (group >= groups) return;
  const uint32_t packed = reinterpret_cast<const uint32_t*>(in + group * kGroup)[lane];
  const float scale = scales[group];
  uint2 raw;
  uint16_t* h = reinterpret_cast<uint16_t*>(&raw);
  for (int k = 0; k < 4; ++k) h[k] = float_to_bf16(__fmul_rn(e4m3_to_float((packed >> (8 * k)) & 0xff), scale));
  reinterpret_cast<uint2*>(out + group * kGroup)[lane] = raw;
}

// One thread block per token; each thread sums 8 consecutive elements (one 16-byte
// vector of every row) when the rows allow, else one.
template <int kPer>
__global__ void combine_kernel(const uint16_t* rows, const int32_t* index, const float* weights, uint32_t top_k,
                               uint32_t hidden, uint16_t* out) {
  const uint64_t token = blockIdx.x;
  for (uint32_t first = threadIdx.x * kPer; first < hidden; first += kThreads * kPer) {
    float acc[kPer];
    for (int k = 0; k < kPer; ++k) acc[k] = 0.0f;
    for (uint32_t j = 0; j < top_k; ++j) {
      const int32_t row = index[token * top_k + j];
      if (row < 0) continue;
      const float w = weights[token * top_k + j];
      const uint16_t* src = rows + uint64_t(row) * hidden + first;
      uint16_t x[kPer];
      if constexpr (kPer == 8) {
        *reinterpret_cast<uint4*>(x) = *reinterpret_cast<const uint4*>(src);
      } else {
        x[0] = src[0];
      }
      for (int k = 0; k < kPer; ++k) acc[k] = __fadd_rn(acc[k], __fmul_rn(w, bf16_to_float(x[k])));
    }
    uint16_t o[kPer];
    for (int k = 0; k < kPer; ++k) o[k] = float_to_bf16(acc[k]);
    if constexpr (kPer == 8) {
      *reinterpret_cast<uint4*>(out + token * hidden + first) = *reinterpret_cast<const uint4*>(o);
    } else {
      out[token * hidden + first] = o[0];
    }
  }
}

VoidResult launched(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return make_error(ErrorCode::kUnavailable, std::string(what) + ": " + cudaGetErrorString(e));
  return {};
}

VoidResult check_groups(uint32_t hidden, const void* a, const void* b) {
  if (hidden == 0 || hidden % kGroup != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "FP8 rows need a multiple of 128 elements, not " + std::to_string(hidden));
  }
  if (reinterpret_cast<uintptr_t>(a) % 8 != 0 || reinterpret_cast<uintptr_t>(b) % 8 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "FP8 rows must start 8-byte aligned");
  }
  return {};
}

unsigned warp_blocks(uint64_t groups) { return static_cast<unsigned>((groups * 32 + kThreads - 1) / kThreads); }

}  // namespace

VoidResult launch_quantize_fp8(const uint16_t* in, uint8_t* out, float* scales, uint32_t rows, uint32_t hidden,
                               void* stream) {
  if (auto ok = check_groups(hidden, in, out); !ok.ok()) return ok;
  const uint64_t groups = uint64_t{rows} * (hidden / kGroup);
  if (groups == 0) return {};
  quantize_kernel<<<warp_blocks(groups), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(in, out, scales, groups);
  return launched("FP8 quantize launch");
}

VoidResult launch_dequantize_fp8(const uint8_t* in, const float* scales, uint16_t* out, uint32_t rows,
                                 uint32_t hidden, void* stream) {
  if (auto ok = check_groups(hidden, in, out); !ok.ok()) return ok;
  const uint64_t groups = uint64_t{rows} * (hidden / kGroup);
  if (groups == 0) return {};
  dequantize_kernel<<<warp_blocks(groups), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(in, scales, out, groups);
  return launched("FP8 dequantize launch");
}

VoidResult launch_weighted_combine(const uint16_t* rows, const int32_t* index, const float* weights, uint32_t tokens,
                                   uint32_t top_k, uint32_t hidden, uint16_t* out, void* stream) {
  if (tokens == 0 || hidden == 0) return {};
  const auto s = static_cast<cudaStream_t>(stream);
  const bool vector = hidden % 8 == 0 && reinterpret_cast<uintptr_t>(rows) % 16 == 0 &&
                      reinterpret_cast<uintptr_t>(out) % 16 == 0;
  if (vector) {
    combine_kernel<8><<<tokens, kThreads, 0, s>>>(rows, index, weights, top_k, hidden, out);
  } else {
    combine_kernel<1><<<tokens, kThreads, 0, s>>>(rows, index, weights, top_k, hidden, out);
  }
  return launched("combine launch");
}

}  // namespace ferry::moe::gpu
