// The arithmetic of combine, in one place so that ExpertParallel and the local reference
// round identically. Combine reduces in two steps (docs/moe.md):
//   on each expert rank r, per token it received:
//     partial_r = bf16(Σ_{j: expert j on r} weights[j] × rows[j])  fp32, j ascending
//   on the token's rank:
//     out = bf16(Σ_r partial_r)                                    fp32, r ascending
// Both steps are weighted_sum (the second with unit weights, as 1 × x = x exactly), so
// the result never depends on the order in which rows or replies arrived.
#pragma once

#include <cstdint>
#include <span>

namespace ferry::moe {

// out = bf16(Σ_j weights[j] × rows[j]) accumulated in fp32, j in ascending order.
// rows[j] is a bf16 row of out.size() elements, or null where slot j has no expert;
// accumulator holds out.size() floats of scratch.
void weighted_sum(std::span<const uint8_t* const> rows, std::span<const float> weights,
                  std::span<float> accumulator, std::span<uint16_t> out);

// Both steps for one token, without the network: slot j's row rows[j] (null: no expert)
// was computed on rank slot_ranks[j]. Allocates its scratch: for references and tests.
void reduced_weighted_sum(std::span<const uint8_t* const> rows, std::span<const float> weights,
                          std::span<const uint32_t> slot_ranks, std::span<uint16_t> out);

}  // namespace ferry::moe
