#include "transport/workloads/kv/kv_route.h"

namespace ferry {
namespace {

// The prefill rank that sends `head` to `decode_rank`.
uint32_t source_rank(const PagedKvLayout& prefill, uint32_t head, uint32_t decode_rank) {
  if (prefill.replicas() == 1) return head / prefill.heads_per_rank();
  return head * prefill.replicas() + decode_rank % prefill.replicas();
}

}  // namespace

Result<std::vector<KvRoute>> plan_kv_routes(const PagedKvLayout& prefill, const PagedKvLayout& decode) {
  if (auto valid = prefill.validate(); !valid.ok()) {
    return make_error(valid.error().code, "prefill layout: " + valid.error().message);
  }
  if (auto valid = decode.validate(); !valid.ok()) {
    return make_error(valid.error().code, "decode layout: " + valid.error().message);
  }
  if (!prefill.same_model(decode)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "prefill and decode layouts describe different models (layers, block size, "
                      "KV heads, head size and element size must match)");
  }
  std::vector<KvRoute> routes;
  for (uint32_t d = 0; d < decode.tp; ++d) {
    const HeadRange wanted = decode.heads_of(d);
    for (uint32_t head = wanted.first; head < wanted.end(); ++head) {
      const uint32_t p = source_rank(prefill, head, d);
      KvRoute* last = routes.empty() ? nullptr : &routes.back();
      if (last != nullptr && last->decode_rank == d && last->prefill_rank == p && last->heads.end() == head) {
        ++last->heads.count;  // contiguous on both sides: the same route grows
        continue;
      }
      routes.push_back(KvRoute{p, d, HeadRange{head, 1}, head - prefill.heads_of(p).first,
                               head - wanted.first});
    }
  }
  return routes;
}

}  // namespace ferry
