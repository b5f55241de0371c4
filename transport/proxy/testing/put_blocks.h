// A kernel for the GPU tests of the proxy: each block fills its block of the local window
// with a round's bytes, puts it to the same offset of a peer's window with a signal, and
// waits until the whole grid's puts of this round are done. Plain C++ (launchers only).
#pragma once

#include <cstdint>

#include "transport/proxy/ring.h"
#include "transport/result.h"

namespace ferry::proxy::testing {

struct PutBlocks {
  Context context;
  void* window = nullptr;  // the proxy's local window (GPU or pinned host memory)
  uint32_t blocks = 0;
  uint64_t block_bytes = 0;
  uint32_t peer = 1;
  uint32_t signal = 0;
  // Pinned host memory: the round the kernel reads at its start (set it before each
  // replay of a graph), and one status per block, written at its end.
  const uint32_t* round = nullptr;
  uint32_t* statuses = nullptr;
};

// Byte i of the window in round r.
FERRY_HD uint8_t round_byte(uint32_t r, uint64_t i) {
  const uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t{r} * 0xbf58476d1ce4e5b9ull);
  return static_cast<uint8_t>((x >> 29) ^ (x >> 47));
}

// A stream that never waits for the legacy default stream: emu moves GPU memory with
// cudaMemcpy on the default stream, which must run while the kernel spins.
Result<void*> create_stream();
void destroy_stream(void* stream);
VoidResult synchronize(void* stream);

VoidResult launch_put_blocks(const PutBlocks& p, void* stream);

// The launch captured once into an executable graph; replays reuse its arguments.
Result<void*> capture_put_blocks(const PutBlocks& p, void* stream);
VoidResult launch_graph(void* graph, void* stream);
void destroy_graph(void* graph);

}  // namespace ferry::proxy::testing
