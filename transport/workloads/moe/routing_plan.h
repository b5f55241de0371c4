// RoutingPlan: where one rank's tokens go in one dispatch, built from its top-k expert
// ids. Per destination rank: the tokens it receives, each once however many of its
// experts the token chose, and one route per (token, expert), grouped by the
// destination's local expert. The origin keeps the plan until combine, whose replies
// come back in route order.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "transport/result.h"
#include "transport/workloads/moe/geometry.h"
#include "transport/workloads/moe/wire_format.h"

namespace ferry::moe {

class RoutingPlan {
 public:
  explicit RoutingPlan(const MoeGeometry& geometry);

  // Sizes every array for max_tokens so that build() allocates nothing.
  void reserve_worst_case();

  // topk_idx is [tokens, top_k]: expert ids, -1 for an unused slot. Refuses ids out of
  // range and a token that names one expert twice.
  VoidResult build(std::span<const int32_t> topk_idx);

  uint32_t tokens() const { return tokens_; }
  // s's indices of the tokens `rank` receives, ascending.
  std::span<const uint32_t> tokens_to(uint32_t rank) const;
  // Their routes; RowRoute::token is an ordinal into tokens_to(rank).
  std::span<const RowRoute> routes_to(uint32_t rank) const;
  // Rows for each of `rank`'s local experts.
  std::span<const uint32_t> counts_to(uint32_t rank) const;

 private:
  MoeGeometry geometry_;
  uint32_t tokens_ = 0;
  std::vector<uint32_t> token_start_;  // per rank, into tokens_flat_ (ranks + 1)
  std::vector<uint32_t> route_start_;  // per rank, into routes_flat_ (ranks + 1)
  std::vector<uint32_t> tokens_flat_;
  std::vector<RowRoute> routes_flat_;
  std::vector<uint32_t> counts_;       // [ranks, experts_per_rank]
  // Scratch of build(), kept to allocate nothing.
  std::vector<uint32_t> route_cursor_;  // [ranks, experts_per_rank]: the next route's place
  std::vector<uint32_t> token_cursor_;  // per rank: tokens counted, then the next token's place
  std::vector<uint32_t> last_token_;    // per rank: the last token seen for it, plus one
};

}  // namespace ferry::moe
