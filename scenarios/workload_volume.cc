#include "scenarios/workload_volume.h"

#include "scenarios/saturating.h"

namespace ferry::scenarios {

uint64_t tp_decode_allreduce_bytes(const TpDecodeSpec& spec, const ModelSpec& model) {
  return saturating_mul(spec.batch, model.activation_bytes_per_token());
}

uint64_t tp_decode_allreduces_per_token(const ModelSpec& model) { return uint64_t{2} * model.layers; }

uint64_t pd_request_kv_bytes(uint64_t context_tokens, const ModelSpec& model) {
  return saturating_mul(context_tokens, model.kv_bytes_per_token());
}

uint64_t moe_dispatch_bytes_per_rank(const MoeSpec& spec, const ModelSpec& model) {
  const uint64_t row = spec.dispatch_dtype == DispatchDtype::kFp8
                           ? model.hidden_size + model.hidden_size / kFp8ScaleGroup * sizeof(float)
                           : model.activation_bytes_per_token();
  return saturating_product(spec.tokens_per_rank, spec.top_k, row);
}

uint64_t moe_combine_bytes_per_rank(const MoeSpec& spec, const ModelSpec& model) {
  return saturating_product(spec.tokens_per_rank, spec.top_k, uint64_t{model.hidden_size} * 2);
}

uint64_t pipeline_micro_batch_bytes(const PipelineSpec& spec, const ModelSpec& model) {
  return saturating_mul(spec.micro_batch_tokens, model.activation_bytes_per_token());
}

uint64_t weight_load_chunks(const WeightLoadSpec& spec) {
  return spec.chunk_bytes == 0 ? 0 : spec.bytes / spec.chunk_bytes + (spec.bytes % spec.chunk_bytes != 0 ? 1 : 0);
}

}  // namespace ferry::scenarios
