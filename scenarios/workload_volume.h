// What each workload moves, from its shape and the model: the figures `ferry validate`
// prints, and what a replayer sizes its buffers from. Bytes; products saturate.
#pragma once

#include <cstdint>

#include "scenarios/model_spec.h"
#include "scenarios/workload_spec.h"

namespace ferry::scenarios {

// One all-reduce's payload on each rank: batch x hidden_size x dtype_bytes.
uint64_t tp_decode_allreduce_bytes(const TpDecodeSpec& spec, const ModelSpec& model);
// All-reduces per decode step: two per layer (after attention, after the MLP).
uint64_t tp_decode_allreduces_per_token(const ModelSpec& model);

// The KV cache one request of `context_tokens` migrates: every layer, every KV head.
uint64_t pd_request_kv_bytes(uint64_t context_tokens, const ModelSpec& model);

// What one rank dispatches in one round, at most: tokens_per_rank x top_k rows of hidden x
// dtype (bf16), or of hidden bytes and hidden / 128 fp32 scales (fp8). A token crosses
// once to each rank it reaches, so routings that share ranks move less.
uint64_t moe_dispatch_bytes_per_rank(const MoeSpec& spec, const ModelSpec& model);
// What comes back in combine, at most: tokens_per_rank x top_k rows of hidden bf16 values
// (one reduced row per token and rank it reached: as many rows as dispatch moved).
uint64_t moe_combine_bytes_per_rank(const MoeSpec& spec, const ModelSpec& model);

// One micro-batch's activations crossing one stage boundary.
uint64_t pipeline_micro_batch_bytes(const PipelineSpec& spec, const ModelSpec& model);

// Chunks of a weight broadcast, the last one possibly short.
uint64_t weight_load_chunks(const WeightLoadSpec& spec);

}  // namespace ferry::scenarios
