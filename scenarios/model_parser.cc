// The `model` section: a preset's name; a preset with some dimensions overridden
// ({preset: NAME, KEY: VALUE...}); or a model written out in full ({custom: {...}}).
#include <string>
#include <vector>

#include "scenarios/mapping_reader.h"
#include "scenarios/model_presets.h"
#include "scenarios/section_parsers.h"
#include "scenarios/suggest.h"

namespace ferry::scenarios {
namespace {

// Bounds far above any published model, low enough for every derived figure to fit in
// 64 bits.
constexpr WholeRange kLayers{1, 1024};
constexpr WholeRange kHidden{1, 65536};
constexpr WholeRange kHeads{1, 1024};
constexpr WholeRange kHeadDim{1, 4096};
constexpr WholeRange kFfnWidth{1, 1 << 20};
constexpr WholeRange kVocab{1, 1 << 22};
constexpr WholeRange kExperts{0, 4096};
constexpr WholeRange kLatent{1, 65536};

constexpr std::string_view kMoeKeys[] = {"experts_per_token", "shared_experts", "expert_intermediate_size",
                                         "dense_layers"};

std::optional<ModelSpec> find_preset(const YamlNode& node, const std::string& field, Diagnostics& diagnostics) {
  const std::optional<std::string_view> name = scalar_text(node, field, "a preset name", diagnostics);
  if (!name) return std::nullopt;
  if (const ModelPreset* preset = find_model_preset(*name)) return preset->spec;
  std::vector<std::string_view> names;
  for (const ModelPreset& preset : model_presets()) names.push_back(preset.name);
  diagnostics.error(node.mark, field + ": unknown preset " + quote_value(*name) + suggestion_suffix(*name, names));
  return std::nullopt;
}

template <typename T>
void read_into(T& target, std::optional<uint64_t> value) {
  if (value) target = static_cast<T>(*value);
}

void read_attention(MappingReader& reader, Presence need, ModelSpec& m) {
  if (m.attention == Attention::kGqa) {
    read_into(m.kv_heads, reader.whole("kv_heads", need, kHeads));
    read_into(m.head_dim, reader.whole("head_dim", need, kHeadDim));
    for (std::string_view key : {"kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "q_lora_rank"}) {
      reader.forbid(key, "applies to attention mla, not gqa");
    }
    if (m.kv_heads > 0 && m.attention_heads % m.kv_heads != 0) {
      reader.error("kv_heads", "must divide the " + std::to_string(m.attention_heads) + " attention heads, got " +
                                   std::to_string(m.kv_heads));
    }
    return;
  }
  read_into(m.kv_lora_rank, reader.whole("kv_lora_rank", need, kLatent));
  read_into(m.qk_rope_head_dim, reader.whole("qk_rope_head_dim", need, kHeadDim));
  read_into(m.qk_nope_head_dim, reader.whole("qk_nope_head_dim", need, kHeadDim));
  read_into(m.v_head_dim, reader.whole("v_head_dim", need, kHeadDim));
  read_into(m.q_lora_rank, reader.whole("q_lora_rank", Presence::kOptional, {0, kLatent.max}));
  for (std::string_view key : {"kv_heads", "head_dim"}) {
    reader.forbid(key,
                  "applies to attention gqa, not mla (mla caches a latent of kv_lora_rank + "
                  "qk_rope_head_dim elements per token per layer)");
  }
  m.kv_heads = m.attention_heads;
  m.head_dim = m.qk_nope_head_dim + m.qk_rope_head_dim;
}

void read_experts(MappingReader& reader, Presence need, ModelSpec& m) {
  read_into(m.experts, reader.whole("experts", Presence::kOptional, kExperts));
  if (!m.is_moe()) {
    for (std::string_view key : kMoeKeys) reader.forbid(key, "applies to mixture-of-experts models (experts > 0)");
    m.experts_per_token = m.shared_experts = m.expert_intermediate_size = m.dense_layers = 0;
    return;
  }
  const Presence per_token_need = m.experts_per_token == 0 ? Presence::kRequired : need;
  read_into(m.experts_per_token, reader.whole("experts_per_token", per_token_need, {1, kExperts.max}));
  read_into(m.shared_experts, reader.whole("shared_experts", Presence::kOptional, {0, 64}));
  if (m.expert_intermediate_size == 0) m.expert_intermediate_size = m.intermediate_size;
  read_into(m.expert_intermediate_size, reader.whole("expert_intermediate_size", Presence::kOptional, kFfnWidth));
  read_into(m.dense_layers, reader.whole("dense_layers", Presence::kOptional, {0, kLayers.max}));
  if (m.experts_per_token > m.experts) {
    reader.error("experts_per_token", "must be at most the " + std::to_string(m.experts) + " experts, got " +
                                          std::to_string(m.experts_per_token));
  }
  if (m.layers > 0 && m.dense_layers >= m.layers) {
    reader.error("dense_layers", "must be less than the " + std::to_string(m.layers) +
                                     " layers (a mixture-of-experts model needs a MoE layer), got " +
                                     std::to_string(m.dense_layers));
  }
}

// The dimensions, over `m`: every one required for a custom model, any one overriding a
// preset's.
void read_dimensions(MappingReader& reader, Presence need, ModelSpec& m) {
  if (std::optional<std::string> name = reader.text("name", Presence::kOptional)) m.name = std::move(*name);
  read_into(m.layers, reader.whole("layers", need, kLayers));
  read_into(m.hidden_size, reader.whole("hidden_size", need, kHidden));
  read_into(m.attention_heads, reader.whole("attention_heads", need, kHeads));
  read_into(m.intermediate_size, reader.whole("intermediate_size", need, kFfnWidth));
  read_into(m.vocab_size, reader.whole("vocab_size", need, kVocab));
  read_into(m.dtype_bytes, reader.whole("dtype_bytes", Presence::kOptional, {1, 8}));
  read_attention(reader, need, m);
  read_experts(reader, need, m);
}

}  // namespace

std::optional<ModelSpec> parse_model(const YamlNode& node, Diagnostics& diagnostics) {
  const size_t errors_before = diagnostics.count();
  std::optional<ModelSpec> model;
  if (!node.is_mapping()) {
    model = find_preset(node, "model", diagnostics);
  } else {
    MappingReader reader(node, "model", diagnostics);
    const YamlNode* preset = reader.get("preset");
    const YamlNode* custom = reader.get("custom");
    if (preset != nullptr && custom != nullptr) {
      reader.error_here("give either preset or custom, not both");
    } else if (preset != nullptr) {
      model = find_preset(*preset, reader.field("preset"), diagnostics);
      if (model) {
        reader.forbid("attention", "cannot change a preset's attention; write the model out under custom");
        read_dimensions(reader, Presence::kOptional, *model);
      }
    } else if (custom != nullptr) {
      if (expect_mapping(*custom, reader.field("custom"), diagnostics)) {
        MappingReader custom_reader(*custom, reader.field("custom"), diagnostics);
        model = ModelSpec{};
        model->name = "custom";
        model->attention =
            custom_reader.choice("attention", Presence::kOptional, kAttentionNames).value_or(Attention::kGqa);
        read_dimensions(custom_reader, Presence::kRequired, *model);
        custom_reader.finish();
      }
    } else {
      reader.error_here("give a preset name, {preset: NAME} with overrides, or {custom: {...}}");
    }
    // Without a preset, the other keys cannot be told apart from typos of the model's.
    if (model) reader.finish();
  }
  if (diagnostics.count() != errors_before) return std::nullopt;
  return model;
}

}  // namespace ferry::scenarios
