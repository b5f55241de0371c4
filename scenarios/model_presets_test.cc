// Every preset's derived figures, against values computed by hand from the published
// configs (the products are spelled out so that each can be checked against a config).
#include "scenarios/model_presets.h"

#include <gtest/gtest.h>

namespace ferry::scenarios {
namespace {

const ModelSpec& preset(std::string_view name) {
  const ModelPreset* found = find_model_preset(name);
  EXPECT_NE(found, nullptr) << name;
  return found->spec;
}

TEST(ModelPresets, Llama3_70B) {
  const ModelSpec& m = preset("llama-3-70b");
  // K and V x 80 layers x 8 KV heads x 128 head dim x 2 bytes (bf16).
  EXPECT_EQ(m.kv_bytes_per_token(), 2u * 80 * 8 * 128 * 2);
  EXPECT_EQ(m.kv_bytes_per_token(), 327'680u);
  EXPECT_EQ(m.activation_bytes_per_token(), 8192u * 2);
  EXPECT_EQ(m.expert_bytes(), 0u);
  const uint64_t attention = 2ull * 8192 * 64 * 128 + 2ull * 8192 * 8 * 128;  // q and o, k and v
  const uint64_t ffn = 3ull * 8192 * 28672;
  const uint64_t embeddings = 2ull * 128256 * 8192;
  EXPECT_EQ(m.parameter_count(), embeddings + 80 * (attention + ffn));
  EXPECT_EQ(m.parameter_count(), 70'552'387'584u);  // published: 70.6 billion
  EXPECT_EQ(m.parameter_bytes(), 2 * 70'552'387'584u);
}

TEST(ModelPresets, Llama3_405B) {
  const ModelSpec& m = preset("llama-3-405b");
  EXPECT_EQ(m.kv_bytes_per_token(), 2u * 126 * 8 * 128 * 2);  // 516,096
  EXPECT_EQ(m.activation_bytes_per_token(), 16384u * 2);
  EXPECT_EQ(m.parameter_count(), 405'849'243'648u);  // published: 405 billion
}

TEST(ModelPresets, DeepSeekV3CachesTheMlaLatent) {
  const ModelSpec& m = preset("deepseek-v3");
  EXPECT_EQ(m.attention, Attention::kMla);
  EXPECT_EQ(m.kv_width(), 512u + 64);                       // kv_lora_rank + qk_rope_head_dim
  EXPECT_EQ(m.kv_bytes_per_token(), 61u * (512 + 64) * 2);  // 70,272: no K/V pair, no per-head rows
  EXPECT_EQ(m.activation_bytes_per_token(), 7168u * 2);
  EXPECT_EQ(m.expert_bytes(), 3ull * 7168 * 2048 * 2);  // gate, up, down: 88,080,384
  EXPECT_EQ(m.moe_layers(), 61u - 3);
  const uint64_t q = 7168ull * 1536 + 1536ull * 128 * (128 + 64);
  const uint64_t kv = 7168ull * (512 + 64) + 512ull * 128 * (128 + 128);
  const uint64_t o = 128ull * 128 * 7168;
  const uint64_t moe_layer = (256ull + 1) * 3 * 7168 * 2048 + 7168ull * 256;
  const uint64_t expected = 2ull * 129280 * 7168 + 61 * (q + kv + o) + 3 * 3ull * 7168 * 18432 + 58 * moe_layer;
  EXPECT_EQ(m.parameter_count(), expected);
  EXPECT_EQ(m.parameter_count(), 671'025'397'760u);  // published: 671 billion (without the MTP module)
}

TEST(ModelPresets, Mixtral8x22B) {
  const ModelSpec& m = preset("mixtral-8x22b");
  EXPECT_EQ(m.kv_bytes_per_token(), 2u * 56 * 8 * 128 * 2);  // 229,376
  EXPECT_EQ(m.expert_bytes(), 3ull * 6144 * 16384 * 2);      // 603,979,776
  EXPECT_EQ(m.moe_layers(), 56u);
  EXPECT_EQ(m.parameter_count(), 140'619'939'840u);  // published: 141 billion
}

TEST(ModelPresets, KimiK2) {
  const ModelSpec& m = preset("kimi-k2");
  EXPECT_EQ(m.kv_bytes_per_token(), 61u * (512 + 64) * 2);
  EXPECT_EQ(m.expert_bytes(), 3ull * 7168 * 2048 * 2);
  EXPECT_EQ(m.experts, 384u);
  EXPECT_EQ(m.moe_layers(), 60u);
  EXPECT_EQ(m.parameter_count(), 1'026'407'202'816u);  // published: 1.04 trillion
}

TEST(ModelPresets, EveryPresetHasASourceAndSaneDimensions) {
  EXPECT_EQ(model_presets().size(), 5u);
  for (const ModelPreset& p : model_presets()) {
    EXPECT_EQ(p.spec.name, p.name);
    EXPECT_NE(p.source.find("config.json"), std::string_view::npos) << p.name;
    EXPECT_EQ(p.spec.attention_heads % p.spec.kv_heads, 0u) << p.name;
    EXPECT_LE(p.spec.experts_per_token, p.spec.experts) << p.name;
    EXPECT_GT(p.spec.parameter_count(), 0u) << p.name;
  }
  EXPECT_EQ(find_model_preset("llama-3-7b"), nullptr);
}

TEST(DerivedFigures, SaturateInsteadOfWrapping) {
  ModelSpec m = preset("deepseek-v3");
  m.experts = 0xFFFFFFFF;
  m.hidden_size = 0xFFFFFFFF;
  m.expert_intermediate_size = 0xFFFFFFFF;
  EXPECT_EQ(m.parameter_count(), UINT64_MAX);
}

}  // namespace
}  // namespace ferry::scenarios
