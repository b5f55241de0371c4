#include "transport/workloads/moe/testing/routing.h"

#include <algorithm>

#include "transport/workloads/moe/testing/payload.h"

namespace ferry::moe::testing {
namespace {

// A small deterministic generator over mix().
class Draw {
 public:
  explicit Draw(uint64_t seed) : state_(seed) {}
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(mix(state_++) % n); }

 private:
  uint64_t state_;
};

// Fills slots [from, k) with distinct experts drawn from [lo, hi), not already chosen.
void fill_distinct(int32_t* slots, uint32_t from, uint32_t k, uint32_t lo, uint32_t hi, Draw& draw) {
  for (uint32_t j = from; j < k; ++j) {
    int32_t e;
    do {
      e = static_cast<int32_t>(lo + draw.below(hi - lo));
    } while (std::find(slots, slots + j, e) != slots + j);
    slots[j] = e;
  }
}

}  // namespace

std::string routing_name(Routing routing) {
  switch (routing) {
    case Routing::kUniform: return "Uniform";
    case Routing::kSkewed: return "Skewed";
    case Routing::kRankReceivesNothing: return "RankReceivesNothing";
    case Routing::kDuplicateDestinations: return "DuplicateDestinations";
    case Routing::kUnusedSlots: return "UnusedSlots";
  }
  return "?";
}

std::vector<int32_t> make_topk(const MoeGeometry& g, Routing routing, uint32_t rank, uint32_t tokens,
                               uint64_t seed) {
  const uint32_t k = g.top_k();
  const uint32_t experts = g.config().experts;
  const uint32_t per_rank = g.experts_per_rank();
  Draw draw(mix(seed) ^ (uint64_t{rank} << 32) ^ static_cast<uint64_t>(routing) << 56);
  std::vector<int32_t> topk(uint64_t{tokens} * k, -1);
  for (uint32_t t = 0; t < tokens; ++t) {
    int32_t* slots = topk.data() + uint64_t{t} * k;
    switch (routing) {
      case Routing::kUniform:
        fill_distinct(slots, 0, k, 0, experts, draw);
        break;
      case Routing::kSkewed: {
        const uint32_t hot = experts / 2 + 1;  // not on rank 0, not an edge case of placement
        uint32_t from = 0;
        if (draw.below(10) != 0) slots[from++] = static_cast<int32_t>(hot);
        fill_distinct(slots, from, k, 0, experts, draw);
        break;
      }
      case Routing::kRankReceivesNothing:
        fill_distinct(slots, 0, k, 0, experts - per_rank, draw);
        break;
      case Routing::kDuplicateDestinations: {
        const uint32_t shared = std::min(k, per_rank);
        const uint32_t base = draw.below(g.ranks()) * per_rank;
        fill_distinct(slots, 0, shared, base, base + per_rank, draw);
        fill_distinct(slots, shared, k, 0, experts, draw);
        break;
      }
      case Routing::kUnusedSlots:
        fill_distinct(slots, 0, k, 0, experts, draw);
        for (uint32_t j = 0; j < k; ++j) {
          if (t % 7 == 6 || draw.below(4) == 0) slots[j] = -1;
        }
        break;
    }
  }
  return topk;
}

std::vector<float> make_weights(const MoeGeometry& g, uint32_t rank, uint32_t tokens, uint64_t seed) {
  Draw draw(mix(seed + 1) ^ (uint64_t{rank} << 40));
  std::vector<float> weights(uint64_t{tokens} * g.top_k());
  for (float& w : weights) w = static_cast<float>(1 + draw.below(1024)) / 1024.0f;
  return weights;
}

}  // namespace ferry::moe::testing
