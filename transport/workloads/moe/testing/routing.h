// Routings a test or benchmark feeds to dispatch: the top-k expert ids and weights of
// one rank's tokens, from a seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "transport/workloads/moe/geometry.h"

namespace ferry::moe::testing {

enum class Routing {
  kUniform,                // k distinct experts drawn uniformly
  kSkewed,                 // one hot expert in 9 tokens of 10, the other slots uniform
  kRankReceivesNothing,    // no token chooses an expert of the last rank
  kDuplicateDestinations,  // each token's first experts share one rank
  kUnusedSlots,            // uniform, but a quarter of the slots are -1 and every 7th token has none
};

std::string routing_name(Routing routing);

// topk_idx [tokens, top_k] of `rank`.
std::vector<int32_t> make_topk(const MoeGeometry& geometry, Routing routing, uint32_t rank, uint32_t tokens,
                               uint64_t seed);
// topk_weights [tokens, top_k]: positive, in (0, 1].
std::vector<float> make_weights(const MoeGeometry& geometry, uint32_t rank, uint32_t tokens, uint64_t seed);

}  // namespace ferry::moe::testing
