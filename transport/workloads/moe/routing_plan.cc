#include "transport/workloads/moe/routing_plan.h"

#include <algorithm>
#include <string>

namespace ferry::moe {

RoutingPlan::RoutingPlan(const MoeGeometry& geometry)
    : geometry_(geometry),
      token_start_(geometry.ranks() + 1, 0),
      route_start_(geometry.ranks() + 1, 0),
      counts_(uint64_t{geometry.ranks()} * geometry.experts_per_rank(), 0),
      route_cursor_(counts_.size(), 0),
      token_cursor_(geometry.ranks(), 0),
      last_token_(geometry.ranks(), 0) {}

void RoutingPlan::reserve_worst_case() {
  const MoeGeometry& g = geometry_;
  tokens_flat_.reserve(uint64_t{g.max_tokens()} * g.max_ranks_per_token());
  routes_flat_.reserve(uint64_t{g.max_tokens()} * g.top_k());
}

VoidResult RoutingPlan::build(std::span<const int32_t> topk_idx) {
  const MoeGeometry& g = geometry_;
  const uint32_t k = g.top_k();
  const uint32_t ranks = g.ranks();
  const uint32_t per_rank = g.experts_per_rank();
  if (topk_idx.size() % k != 0 || topk_idx.size() / k > g.max_tokens()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "topk_idx holds " + std::to_string(topk_idx.size()) + " ids: not [tokens, " +
                          std::to_string(k) + "] with at most " + std::to_string(g.max_tokens()) + " tokens");
  }
  tokens_ = static_cast<uint32_t>(topk_idx.size() / k);

  // Pass 1: check, and count tokens and routes per destination and local expert.
  std::fill(counts_.begin(), counts_.end(), 0);
  std::fill(last_token_.begin(), last_token_.end(), 0);
  std::fill(token_cursor_.begin(), token_cursor_.end(), 0);
  for (uint32_t t = 0; t < tokens_; ++t) {
    const int32_t* slots = topk_idx.data() + uint64_t{t} * k;
    for (uint32_t j = 0; j < k; ++j) {
      const int32_t expert = slots[j];
      if (expert == -1) continue;
      if (expert < 0 || static_cast<uint32_t>(expert) >= g.config().experts) {
        return make_error(ErrorCode::kInvalidArgument, "token " + std::to_string(t) + " slot " + std::to_string(j) +
                                                           ": expert " + std::to_string(expert) + " does not exist");
      }
      if (std::find(slots, slots + j, expert) != slots + j) {
        return make_error(ErrorCode::kInvalidArgument,
                          "token " + std::to_string(t) + " chose expert " + std::to_string(expert) + " twice");
      }
      const uint32_t rank = g.rank_of(expert);
      ++counts_[uint64_t{rank} * per_rank + g.local_expert(expert)];
      if (last_token_[rank] != t + 1) {
        last_token_[rank] = t + 1;
        ++token_cursor_[rank];
      }
    }
  }
  for (uint32_t r = 0; r < ranks; ++r) {
    token_start_[r + 1] = token_start_[r] + token_cursor_[r];
    token_cursor_[r] = token_start_[r];
    uint32_t routes = 0;
    for (uint32_t e = 0; e < per_rank; ++e) routes += counts_[uint64_t{r} * per_rank + e];
    route_start_[r + 1] = route_start_[r] + routes;
  }
  tokens_flat_.resize(token_start_[ranks]);
  routes_flat_.resize(route_start_[ranks]);

  // Pass 2: place each token once per destination and each route in its expert's run.
  for (uint32_t r = 0; r < ranks; ++r) {
    uint32_t next = route_start_[r];
    for (uint32_t e = 0; e < per_rank; ++e) {
      route_cursor_[uint64_t{r} * per_rank + e] = next;
      next += counts_[uint64_t{r} * per_rank + e];
    }
  }
  std::fill(last_token_.begin(), last_token_.end(), 0);
  for (uint32_t t = 0; t < tokens_; ++t) {
    const int32_t* slots = topk_idx.data() + uint64_t{t} * k;
    for (uint32_t j = 0; j < k; ++j) {
      if (slots[j] == -1) continue;
      const uint32_t rank = g.rank_of(slots[j]);
      if (last_token_[rank] != t + 1) {
        last_token_[rank] = t + 1;
        tokens_flat_[token_cursor_[rank]++] = t;
      }
      const uint32_t ordinal = token_cursor_[rank] - 1 - token_start_[rank];
      const uint32_t local = g.local_expert(slots[j]);
      routes_flat_[route_cursor_[uint64_t{rank} * per_rank + local]++] =
          RowRoute{ordinal, static_cast<uint16_t>(local), static_cast<uint16_t>(j)};
    }
  }
  return {};
}

std::span<const uint32_t> RoutingPlan::tokens_to(uint32_t rank) const {
  return {tokens_flat_.data() + token_start_[rank], token_start_[rank + 1] - token_start_[rank]};
}

std::span<const RowRoute> RoutingPlan::routes_to(uint32_t rank) const {
  return {routes_flat_.data() + route_start_[rank], route_start_[rank + 1] - route_start_[rank]};
}

std::span<const uint32_t> RoutingPlan::counts_to(uint32_t rank) const {
  const uint32_t per_rank = geometry_.experts_per_rank();
  return {counts_.data() + uint64_t{rank} * per_rank, per_rank};
}

}  // namespace ferry::moe
