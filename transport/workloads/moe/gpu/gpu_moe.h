// The GPU side of MoE dispatch and combine, each kernel producing the same bytes as its
// CPU counterpart:
//   quantize   bf16 rows -> e4m3 rows + one fp32 scale per 128 elements (moe/fp8.h), the
//              FP8 dispatch format;
//   dequantize e4m3 rows + scales -> bf16 rows (x = e4m3 * scale, rounded once);
//   combine    out[t] = bf16(Σ_j weight[t][j] × rows[index[t][j]]) in fp32, j ascending,
//              as moe::weighted_sum (weighted_sum.h).
// Permute and unpermute (token rows into expert order and back) are row gathers:
// gpu::launch_paged_copy with one row per page (transport/gpu/paged_copy.h).
// Every pointer is GPU memory; each call launches on `stream` (a cudaStream_t, or null)
// and returns without waiting.
#pragma once

#include <cstdint>

#include "transport/result.h"

namespace ferry::moe::gpu {

// rows x hidden bf16 values -> rows x hidden e4m3 bytes and rows x hidden/128 scales.
// hidden must be a multiple of 128.
VoidResult launch_quantize_fp8(const uint16_t* in, uint8_t* out, float* scales, uint32_t rows, uint32_t hidden,
                               void* stream = nullptr);
VoidResult launch_dequantize_fp8(const uint8_t* in, const float* scales, uint16_t* out, uint32_t rows,
                                 uint32_t hidden, void* stream = nullptr);

// tokens x top_k: index (row of `rows`, or -1 for none) and weight; out: tokens x hidden.
VoidResult launch_weighted_combine(const uint16_t* rows, const int32_t* index, const float* weights, uint32_t tokens,
                                   uint32_t top_k, uint32_t hidden, uint16_t* out, void* stream = nullptr);

}  // namespace ferry::moe::gpu
