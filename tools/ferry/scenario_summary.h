// One paragraph saying what a valid scenario would run: the cluster and fabric, the
// model and its derived figures, each workload with what it moves, the faults.
#pragma once

#include <string>

#include "scenarios/scenario.h"

namespace ferry::cli {

// Unwrapped: the caller wraps it to its width.
std::string summarize(const scenarios::Scenario& scenario);

}  // namespace ferry::cli
