// Scaling a scenario up or down: `scale:` in the file, times `ferry ... --scale`.
#pragma once

#include <cstdint>

#include "scenarios/scenario.h"

namespace ferry::scenarios {

// Multiplies what the workloads move by `factor`: their token counts (tokens decoded,
// context lengths, tokens per rank, micro-batch tokens) and byte sizes (weights). Shapes
// stay as written: parallel degrees, counts (requests, batch, micro-batches, rounds),
// block and chunk sizes, the cluster and the model. Scenario::scale records the factor.
void apply_scale(Scenario& scenario, double factor);

// value x factor, rounded to the nearest whole number, at least 1, at most UINT64_MAX.
uint64_t scaled(uint64_t value, double factor);

}  // namespace ferry::scenarios
