// The fabric's event counters over a whole replay (drops, retransmissions, PFC, ECN,
// CNPs) in one list whose names are the same on every provider; what a provider does not
// count carries the reason instead of a value, so that a 0 always means none happened.
#pragma once

#include <vector>

#include "tools/ferry/replay/replay.h"
#include "transport/cluster.h"

namespace ferry::replay {

std::vector<FabricCounter> fabric_counters(const Cluster& fabric);

}  // namespace ferry::replay
