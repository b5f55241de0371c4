// The null provider: the whole provider interface, moving nothing. Every work request
// completes successfully at once, on the posting thread, after the checks every provider
// makes at post time; the target sees nothing. It exists to measure what the engine
// itself costs, with no fabric underneath (docs/provider-guide.md, "The null provider").
// Never use it to move data.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "transport/cluster.h"
#include "transport/provider.h"

namespace ferry::null {

// One node's provider with a device (rail) per entry of `nic_gbps`, reported as its link
// rate (the engine shares pieces between rails by it). `node` only names the devices.
std::unique_ptr<Provider> open_provider(uint32_t node, const std::vector<double>& nic_gbps);

// Work requests `provider` (a null provider) accepted so far, signaled or not: when the
// last of a batch was handed to the fabric, which benchmarks cannot see otherwise.
// kInvalidArgument for a provider of another fabric.
Result<uint64_t> requests_posted(const Provider& provider);

// `nodes` such providers as a Cluster: wall-clock time, no faults, wire counters all 0.
Result<std::unique_ptr<Cluster>> open_cluster(uint32_t nodes, const std::vector<double>& nic_gbps);

}  // namespace ferry::null
