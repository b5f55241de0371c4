#include "scenarios/scale.h"

#include <cmath>
#include <limits>
#include <variant>

namespace ferry::scenarios {
namespace {

struct ScaleWorkload {
  double factor;

  void operator()(TpDecodeSpec& spec) const { spec.tokens = scaled(spec.tokens, factor); }
  void operator()(PdDisaggSpec& spec) const {
    ContextLengths& context = spec.context;
    for (uint64_t& length : context.list) length = scaled(length, factor);
    if (context.kind != ContextLengths::Kind::kList) {
      context.min = scaled(context.min, factor);
      context.max = scaled(context.max, factor);
      if (context.kind == ContextLengths::Kind::kLognormal) context.median = scaled(context.median, factor);
    }
  }
  void operator()(MoeSpec& spec) const { spec.tokens_per_rank = scaled(spec.tokens_per_rank, factor); }
  void operator()(PipelineSpec& spec) const { spec.micro_batch_tokens = scaled(spec.micro_batch_tokens, factor); }
  void operator()(WeightLoadSpec& spec) const { spec.bytes = scaled(spec.bytes, factor); }
};

}  // namespace

uint64_t scaled(uint64_t value, double factor) {
  const double product = std::nearbyint(static_cast<double>(value) * factor);
  if (!(product < 18446744073709551616.0)) return std::numeric_limits<uint64_t>::max();
  return product < 1 ? 1 : static_cast<uint64_t>(product);
}

void apply_scale(Scenario& scenario, double factor) {
  scenario.scale = factor;
  if (factor == 1) return;
  for (WorkloadSpec& workload : scenario.workloads) std::visit(ScaleWorkload{factor}, workload.params);
}

}  // namespace ferry::scenarios
