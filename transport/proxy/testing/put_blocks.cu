#include "transport/proxy/testing/put_blocks.h"

#include <cuda_runtime.h>

#include <string>

#include "transport/proxy/device_api.cuh"

namespace ferry::proxy::testing {
namespace {

__global__ void put_blocks_kernel(PutBlocks p) {
  const uint32_t r = *static_cast<const volatile uint32_t*>(p.round);
  const uint64_t first = uint64_t{blockIdx.x} * p.block_bytes;
  uint8_t* mine = static_cast<uint8_t*>(p.window) + first;
  for (uint64_t i = threadIdx.x; i < p.block_bytes; i += blockDim.x) mine[i] = round_byte(r, first + i);
  FerryStatus s = ferry_put_signal_block(p.context, p.peer, first, first, p.block_bytes, p.signal, 1);
  // Counters only grow: round r is done at (r + 1) puts per block.
  if (s == FerryStatus::kOk) s = ferry_wait_block(p.context, p.signal, uint64_t{r + 1} * gridDim.x);
  if (threadIdx.x == 0) p.statuses[blockIdx.x] = static_cast<uint32_t>(s);
}

Error cuda_error(const char* what, cudaError_t e) {
  return make_error(ErrorCode::kInternal, std::string(what) + ": " + cudaGetErrorString(e));
}

}  // namespace

Result<void*> create_stream() {
  cudaStream_t s = nullptr;
  if (cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking); e != cudaSuccess) {
    return cuda_error("cudaStreamCreateWithFlags", e);
  }
  return static_cast<void*>(s);
}

void destroy_stream(void* stream) { cudaStreamDestroy(static_cast<cudaStream_t>(stream)); }

VoidResult synchronize(void* stream) {
  if (cudaError_t e = cudaStreamSynchronize(static_cast<cudaStream_t>(stream)); e != cudaSuccess) {
    return cuda_error("cudaStreamSynchronize", e);
  }
  return {};
}

VoidResult launch_put_blocks(const PutBlocks& p, void* stream) {
  put_blocks_kernel<<<p.blocks, 256, 0, static_cast<cudaStream_t>(stream)>>>(p);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return cuda_error("put_blocks launch", e);
  return {};
}

Result<void*> capture_put_blocks(const PutBlocks& p, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  // Thread-local: the fabric's threads may call the runtime meanwhile.
  if (cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal); e != cudaSuccess) {
    return cuda_error("cudaStreamBeginCapture", e);
  }
  put_blocks_kernel<<<p.blocks, 256, 0, s>>>(p);
  cudaGraph_t graph = nullptr;
  if (cudaError_t e = cudaStreamEndCapture(s, &graph); e != cudaSuccess) return cuda_error("cudaStreamEndCapture", e);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (e != cudaSuccess) return cuda_error("cudaGraphInstantiate", e);
  return static_cast<void*>(exec);
}

VoidResult launch_graph(void* graph, void* stream) {
  if (cudaError_t e = cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), static_cast<cudaStream_t>(stream));
      e != cudaSuccess) {
    return cuda_error("cudaGraphLaunch", e);
  }
  return {};
}

void destroy_graph(void* graph) { cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph)); }

}  // namespace ferry::proxy::testing
