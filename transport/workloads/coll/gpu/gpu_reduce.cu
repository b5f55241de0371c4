#include "transport/workloads/coll/gpu/gpu_reduce.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <string>

namespace ferry::coll::gpu {
namespace {

constexpr int kThreads = 256;

struct Sources {
  const void* p[kMaxReduceSources];
  int n;
};

template <DType D>
struct Element;
template <>
struct Element<DType::kFloat32> {
  using T = float;
  static __device__ float load(T v) { return v; }
  static __device__ T store(float v) { return v; }
};
template <>
struct Element<DType::kFloat16> {
  using T = __half;
  static __device__ float load(T v) { return __half2float(v); }
  static __device__ T store(float v) { return __float2half_rn(v); }
};
template <>
struct Element<DType::kBFloat16> {
  using T = __nv_bfloat16;
  static __device__ float load(T v) { return __bfloat162float(v); }
  static __device__ T store(float v) { return __float2bfloat16_rn(v); }
};

template <ReduceOp Op>
__device__ float combine(float acc, float v) {
  if constexpr (Op == ReduceOp::kSum) {
    return __fadd_rn(acc, v);
  } else {
    return fmaxf(acc, v);
  }
}

// Each thread reduces one 16-byte vector of every source per step. The number of sources
// is a template argument so that all N loads of a step are issued before the first is
// used: with a run-time count the loop waits on each source in turn.
template <DType D, ReduceOp Op, int N>
__global__ void reduce_vector_kernel(void* dst, Sources s, size_t vectors) {
  using E = Element<D>;
  using T = typename E::T;
  constexpr int kPer = 16 / sizeof(T);
  for (size_t v = blockIdx.x * size_t{kThreads} + threadIdx.x; v < vectors; v += size_t{gridDim.x} * kThreads) {
    uint4 in[N];
#pragma unroll
    for (int j = 0; j < N; ++j) in[j] = static_cast<const uint4*>(s.p[j])[v];
    float acc[kPer];
    const T* f = reinterpret_cast<const T*>(&in[0]);
#pragma unroll
    for (int k = 0; k < kPer; ++k) acc[k] = E::load(f[k]);
#pragma unroll
    for (int j = 1; j < N; ++j) {
      const T* x = reinterpret_cast<const T*>(&in[j]);
#pragma unroll
      for (int k = 0; k < kPer; ++k) acc[k] = combine<Op>(acc[k], E::load(x[k]));
    }
    uint4 out;
    T* o = reinterpret_cast<T*>(&out);
#pragma unroll
    for (int k = 0; k < kPer; ++k) o[k] = E::store(acc[k]);
    static_cast<uint4*>(dst)[v] = out;
  }
}

template <DType D, ReduceOp Op, int N = 1>
void launch_vectors(void* dst, const Sources& s, size_t vectors, unsigned blocks, cudaStream_t stream) {
  if constexpr (N < kMaxReduceSources) {
    if (s.n != N) return launch_vectors<D, Op, N + 1>(dst, s, vectors, blocks, stream);
  }
  reduce_vector_kernel<D, Op, N><<<blocks, kThreads, 0, stream>>>(dst, s, vectors);
}

// Elements the vector kernel does not cover (unaligned buffers, or a tail).
template <DType D, ReduceOp Op>
__global__ void reduce_scalar_kernel(void* dst, Sources s, size_t first, size_t count) {
  using E = Element<D>;
  using T = typename E::T;
  for (size_t i = first + blockIdx.x * size_t{kThreads} + threadIdx.x; i < count; i += size_t{gridDim.x} * kThreads) {
    float acc = E::load(static_cast<const T*>(s.p[0])[i]);
    for (int j = 1; j < s.n; ++j) acc = combine<Op>(acc, E::load(static_cast<const T*>(s.p[j])[i]));
    static_cast<T*>(dst)[i] = E::store(acc);
  }
}

unsigned blocks_for(size_t items) {
  const size_t blocks = (items + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535 ? (blocks == 0 ? 1 : blocks) : 65535);
}

template <DType D, ReduceOp Op>
void launch(void* dst, const Sources& s, size_t count, bool aligned, cudaStream_t stream) {
  constexpr size_t kPer = 16 / sizeof(typename Element<D>::T);
  const size_t vectors = aligned ? count / kPer : 0;
  if (vectors > 0) launch_vectors<D, Op>(dst, s, vectors, blocks_for(vectors), stream);
  const size_t first = vectors * kPer;
  if (first < count) {
    reduce_scalar_kernel<D, Op><<<blocks_for(count - first), kThreads, 0, stream>>>(dst, s, first, count);
  }
}

template <DType D>
void launch_op(void* dst, const Sources& s, size_t count, ReduceOp op, bool aligned, cudaStream_t stream) {
  if (op == ReduceOp::kSum) {
    launch<D, ReduceOp::kSum>(dst, s, count, aligned, stream);
  } else {
    launch<D, ReduceOp::kMax>(dst, s, count, aligned, stream);
  }
}

}  // namespace

VoidResult launch_reduce(void* dst, std::span<const void* const> sources, size_t count, DType dtype, ReduceOp op,
                         void* stream) {
  if (sources.empty() || sources.size() > kMaxReduceSources) {
    return make_error(ErrorCode::kInvalidArgument, "GPU reduce takes 1 to " + std::to_string(kMaxReduceSources) +
                                                       " sources, not " + std::to_string(sources.size()));
  }
  if (count == 0) return {};
  Sources s{};
  s.n = static_cast<int>(sources.size());
  uintptr_t bits = reinterpret_cast<uintptr_t>(dst);
  for (size_t j = 0; j < sources.size(); ++j) {
    if (sources[j] == nullptr) return make_error(ErrorCode::kInvalidArgument, "GPU reduce: source " + std::to_string(j) + " is null");
    s.p[j] = sources[j];
    bits |= reinterpret_cast<uintptr_t>(sources[j]);
  }
  const bool aligned = bits % 16 == 0;
  const auto st = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::kFloat32: launch_op<DType::kFloat32>(dst, s, count, op, aligned, st); break;
    case DType::kFloat16: launch_op<DType::kFloat16>(dst, s, count, op, aligned, st); break;
    case DType::kBFloat16: launch_op<DType::kBFloat16>(dst, s, count, op, aligned, st); break;
  }
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return make_error(ErrorCode::kUnavailable, std::string("GPU reduce launch: ") + cudaGetErrorString(e));
  return {};
}

}  // namespace ferry::coll::gpu
