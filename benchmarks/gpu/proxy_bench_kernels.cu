#include "benchmarks/gpu/proxy_bench_kernels.h"

#include <cuda_runtime.h>

#include <string>

#include "transport/proxy/device_api.cuh"

namespace ferry::bench {
namespace {

__global__ void round_trips_kernel(FerryContext ctx, uint64_t before, uint32_t count, uint64_t* times_ns,
                                   uint32_t* status) {
  *status = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t t0 = ferry::proxy::now_ns();
    FerryStatus s = ferry_put_signal(ctx, 1, 0, 0, 8, 0, 1);
    if (s == FerryStatus::kOk) s = ferry_wait(ctx, 0, before + i + 1);
    const uint64_t t1 = ferry::proxy::now_ns();
    if (s != FerryStatus::kOk) {
      *status = static_cast<uint32_t>(s);
      return;
    }
    times_ns[i] = t1 - t0;
  }
}

}  // namespace

VoidResult launch_round_trips(const proxy::Context& context, uint64_t counter_before, uint32_t count,
                              uint64_t* times_ns, uint32_t* status, void* stream) {
  round_trips_kernel<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(context, counter_before, count, times_ns, status);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) {
    return make_error(ErrorCode::kUnavailable, std::string("round trips launch: ") + cudaGetErrorString(e));
  }
  return {};
}

}  // namespace ferry::bench
