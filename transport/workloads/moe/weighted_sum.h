// The arithmetic of combine, in one place so that ExpertParallel and the local reference
// round identically: out = bf16(Σ_j weights[j] × rows[j]) accumulated in fp32, j in
// ascending order whatever order the rows arrived in.
#pragma once

#include <cstdint>
#include <span>

namespace ferry::moe {

// rows[j] is a bf16 row of out.size() elements, or null where slot j has no expert;
// accumulator holds out.size() floats of scratch.
void weighted_sum(std::span<const uint8_t* const> rows, std::span<const float> weights,
                  std::span<float> accumulator, std::span<uint16_t> out);

}  // namespace ferry::moe
