// What a MoE layer's expert-parallel exchange looks like: the model's shape and the mode.
#pragma once

#include <cstdint>

#include "transport/provider.h"

namespace ferry::moe {

// kNormal grows its staging buffers to what each call needs (a registration only when one
// grows), so memory follows the routing: for prefill-sized batches. kLowLatency allocates
// and registers every buffer for the worst case at setup, so a call registers nothing
// and allocates nothing but small bookkeeping: for decode batches.
enum class MoeMode { kNormal, kLowLatency };

// The most tokens per rank a low-latency exchange accepts.
inline constexpr uint32_t kLowLatencyMaxTokens = 128;

struct MoeConfig {
  uint32_t experts = 0;  // across the group; expert e lives on rank e / (experts / ranks)
  uint32_t top_k = 0;    // experts per token
  uint32_t hidden = 0;   // elements per token
  // Bytes per dispatched element: 2 for bf16 (stored as uint16_t), 1 for fp8, ...
  // Dispatch moves opaque rows of hidden × element_bytes; combine is always bf16.
  uint32_t element_bytes = 2;
  // Each dispatched row also carries one fp32 scale per this many elements, after its
  // elements (fp8 dispatch: kFp8GroupElements, fp8.h); 0: none. Must divide hidden.
  uint32_t scale_group = 0;
  uint32_t max_tokens = 0;  // per rank and call
  MoeMode mode = MoeMode::kNormal;
  // Where the exchange's bytes live: the receive region, the staging, the hidden states,
  // the expert rows and outputs and the combined tokens are all host memory, or all GPU
  // memory (kDevice: packing, unpacking and the weighted sum run as kernels). topk_idx
  // and topk_weights are host memory either way.
  MemoryKind memory = MemoryKind::kHost;
};

}  // namespace ferry::moe
