#include "scenarios/model_presets.h"

#include <vector>

namespace ferry::scenarios {
namespace {

ModelSpec gqa(std::string_view name, uint32_t layers, uint32_t hidden, uint32_t heads, uint32_t kv_heads,
              uint32_t head_dim, uint32_t intermediate, uint32_t vocab) {
  ModelSpec m;
  m.name = name;
  m.layers = layers;
  m.hidden_size = hidden;
  m.attention_heads = heads;
  m.kv_heads = kv_heads;
  m.head_dim = head_dim;
  m.intermediate_size = intermediate;
  m.vocab_size = vocab;
  return m;
}

ModelSpec with_experts(ModelSpec m, uint32_t experts, uint32_t per_token, uint32_t shared, uint32_t width,
                       uint32_t dense_layers) {
  m.experts = experts;
  m.experts_per_token = per_token;
  m.shared_experts = shared;
  m.expert_intermediate_size = width;
  m.dense_layers = dense_layers;
  return m;
}

// DeepSeek-V3's attention, also Kimi-K2's: kv_lora_rank 512, qk_rope_head_dim 64,
// qk_nope_head_dim 128, v_head_dim 128, q_lora_rank 1536.
ModelSpec with_mla(ModelSpec m) {
  m.attention = Attention::kMla;
  m.head_dim = 128 + 64;  // qk_nope_head_dim + qk_rope_head_dim: a query/key head
  m.kv_lora_rank = 512;
  m.qk_rope_head_dim = 64;
  m.qk_nope_head_dim = 128;
  m.v_head_dim = 128;
  m.q_lora_rank = 1536;
  return m;
}

std::vector<ModelPreset> build_presets() {
  return {
      {"llama-3-70b", "meta-llama/Meta-Llama-3-70B config.json",
       gqa("llama-3-70b", 80, 8192, 64, 8, 128, 28672, 128256)},
      {"llama-3-405b", "meta-llama/Llama-3.1-405B config.json",
       gqa("llama-3-405b", 126, 16384, 128, 8, 128, 53248, 128256)},
      {"deepseek-v3", "deepseek-ai/DeepSeek-V3 config.json",
       with_mla(with_experts(gqa("deepseek-v3", 61, 7168, 128, 128, 0, 18432, 129280), 256, 8, 1, 2048, 3))},
      {"mixtral-8x22b", "mistralai/Mixtral-8x22B-v0.1 config.json",
       with_experts(gqa("mixtral-8x22b", 56, 6144, 48, 8, 128, 16384, 32000), 8, 2, 0, 16384, 0)},
      {"kimi-k2", "moonshotai/Kimi-K2-Instruct config.json",
       with_mla(with_experts(gqa("kimi-k2", 61, 7168, 64, 64, 0, 18432, 163840), 384, 8, 1, 2048, 1))},
  };
}

}  // namespace

std::span<const ModelPreset> model_presets() {
  static const std::vector<ModelPreset> presets = build_presets();
  return presets;
}

const ModelPreset* find_model_preset(std::string_view name) {
  for (const ModelPreset& preset : model_presets()) {
    if (preset.name == name) return &preset;
  }
  return nullptr;
}

}  // namespace ferry::scenarios
