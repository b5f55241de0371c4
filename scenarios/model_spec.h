// ModelSpec: the dimensions of a transformer that decide what its inference moves, and
// the figures derived from them.
//
// Formulas (docs/scenarios.md explains them). d = dtype_bytes, L = layers, h = hidden_size.
//  - KV bytes per token, all layers: L x kv_width x d, where kv_width (elements per token
//    per layer) is 2 x kv_heads x head_dim for GQA (a K and a V row per KV head) and
//    kv_lora_rank + qk_rope_head_dim for MLA (one compressed latent plus the shared
//    rotary key, cached instead of K and V).
//  - Activation bytes per token per layer: h x d (the hidden state that all-reduces,
//    pipeline stages and expert dispatch move).
//  - Expert bytes: 3 x h x expert_intermediate_size x d (gate, up and down projections).
//  - Parameters (approximate: norms, biases and multi-token-prediction heads left out):
//    2 x vocab x h (untied embedding and output head) + L x attention + dense FFN layers x
//    3 x h x intermediate_size + MoE layers x ((experts + shared_experts) x 3 x h x
//    expert_intermediate_size + h x experts for the router); attention is
//    h x (heads + 2 x kv_heads) x head_dim + heads x head_dim x h for GQA, and for MLA
//    the low-rank projections (model_spec.cc).
#pragma once

#include <cstdint>
#include <string>

#include "scenarios/named.h"

namespace ferry::scenarios {

enum class Attention {
  kGqa,  // grouped-query (multi-head when kv_heads == attention_heads)
  kMla,  // multi-head latent attention (DeepSeek-V3, Kimi-K2)
};

inline constexpr Named<Attention> kAttentionNames[] = {
    {"gqa", Attention::kGqa},
    {"mla", Attention::kMla},
};

struct ModelSpec {
  std::string name;
  uint32_t layers = 0;
  uint32_t hidden_size = 0;
  uint32_t attention_heads = 0;
  // GQA: the KV heads and the width of every head. MLA caches a latent instead (see
  // kv_width()); there kv_heads is attention_heads, as in the published configs, and
  // head_dim is a query/key head's width, qk_nope_head_dim + qk_rope_head_dim.
  uint32_t kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t intermediate_size = 0;  // FFN width of a dense layer
  uint32_t vocab_size = 0;

  // Mixture of experts; experts == 0 is a dense model.
  uint32_t experts = 0;                   // routed experts per MoE layer
  uint32_t experts_per_token = 0;         // top-k
  uint32_t shared_experts = 0;            // run for every token, besides the routed ones
  uint32_t expert_intermediate_size = 0;  // FFN width of one expert
  uint32_t dense_layers = 0;              // leading layers with a dense FFN instead

  uint32_t dtype_bytes = 2;  // weights, activations and KV cache: 2 for bf16

  Attention attention = Attention::kGqa;
  // MLA only.
  uint32_t kv_lora_rank = 0;      // the cached latent's width
  uint32_t qk_rope_head_dim = 0;  // the rotary part of a key, cached beside the latent
  uint32_t qk_nope_head_dim = 0;
  uint32_t v_head_dim = 0;
  uint32_t q_lora_rank = 0;  // 0: queries are not compressed

  bool is_moe() const { return experts > 0; }
  uint32_t moe_layers() const { return is_moe() ? layers - dense_layers : 0; }

  // Elements cached per token per layer.
  uint64_t kv_width() const;
  uint64_t kv_bytes_per_token() const;          // all layers
  uint64_t activation_bytes_per_token() const;  // one layer
  uint64_t expert_bytes() const;                // one routed expert; 0 for a dense model
  uint64_t parameter_count() const;             // approximate, see above
  uint64_t parameter_bytes() const;
};

// "bf16" for 2 bytes, "fp8" for 1, "fp32" for 4, else "4-byte".
std::string dtype_name(uint32_t dtype_bytes);

}  // namespace ferry::scenarios
