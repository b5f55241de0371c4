#include "scenarios/model_spec.h"

#include "scenarios/saturating.h"

namespace ferry::scenarios {
namespace {

uint64_t attention_parameters(const ModelSpec& m) {
  const uint64_t h = m.hidden_size;
  if (m.attention == Attention::kGqa) {
    const uint64_t q_and_o = saturating_product(2, m.attention_heads, m.head_dim, h);
    const uint64_t k_and_v = saturating_product(2, m.kv_heads, m.head_dim, h);
    return saturating_add(q_and_o, k_and_v);
  }
  // MLA: queries through an optional low-rank bottleneck; keys and values rebuilt from the
  // latent (kv_lora_rank) plus a shared rotary key; the output projection from the values.
  const uint64_t qk_head = uint64_t{m.qk_nope_head_dim} + m.qk_rope_head_dim;
  const uint64_t q = m.q_lora_rank > 0 ? saturating_add(saturating_product(h, m.q_lora_rank),
                                                        saturating_product(m.q_lora_rank, m.attention_heads, qk_head))
                                       : saturating_product(h, m.attention_heads, qk_head);
  const uint64_t kv_down = saturating_product(h, uint64_t{m.kv_lora_rank} + m.qk_rope_head_dim);
  const uint64_t kv_up =
      saturating_product(m.kv_lora_rank, m.attention_heads, uint64_t{m.qk_nope_head_dim} + m.v_head_dim);
  const uint64_t o = saturating_product(m.attention_heads, m.v_head_dim, h);
  return saturating_add(saturating_add(q, kv_down), saturating_add(kv_up, o));
}

uint64_t ffn_parameters(uint64_t hidden, uint64_t width) { return saturating_product(3, hidden, width); }

}  // namespace

uint64_t ModelSpec::kv_width() const {
  if (attention == Attention::kMla) return uint64_t{kv_lora_rank} + qk_rope_head_dim;
  return saturating_product(2, kv_heads, head_dim);
}

uint64_t ModelSpec::kv_bytes_per_token() const { return saturating_product(layers, kv_width(), dtype_bytes); }

uint64_t ModelSpec::activation_bytes_per_token() const { return saturating_product(hidden_size, dtype_bytes); }

uint64_t ModelSpec::expert_bytes() const {
  return is_moe() ? saturating_mul(ffn_parameters(hidden_size, expert_intermediate_size), dtype_bytes) : 0;
}

uint64_t ModelSpec::parameter_count() const {
  const uint64_t embeddings = saturating_product(2, vocab_size, hidden_size);
  const uint64_t attention_all = saturating_mul(layers, attention_parameters(*this));
  const uint64_t dense_ffn_layers = layers - moe_layers();
  const uint64_t dense = saturating_mul(dense_ffn_layers, ffn_parameters(hidden_size, intermediate_size));
  const uint64_t moe_layer = saturating_add(
      saturating_mul(uint64_t{experts} + shared_experts, ffn_parameters(hidden_size, expert_intermediate_size)),
      saturating_product(hidden_size, experts));
  const uint64_t moe = saturating_mul(moe_layers(), moe_layer);
  return saturating_add(saturating_add(embeddings, attention_all), saturating_add(dense, moe));
}

uint64_t ModelSpec::parameter_bytes() const { return saturating_mul(parameter_count(), dtype_bytes); }

std::string dtype_name(uint32_t dtype_bytes) {
  switch (dtype_bytes) {
    case 1:
      return "fp8";
    case 2:
      return "bf16";
    case 4:
      return "fp32";
    default:
      return std::to_string(dtype_bytes) + "-byte";
  }
}

}  // namespace ferry::scenarios
