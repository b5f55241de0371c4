// This host's RDMA devices as a Cluster (transport/cluster.h): `nodes` providers, each
// opening every matching device, all in this process and in wall-clock time. Wire
// counters are the ports' own (sysfs). A real fabric cannot be stepped, faulted or traced
// from here: those calls are refused with an error saying so.
#pragma once

#include <memory>

#include "transport/cluster.h"
#include "transport/verbs/verbs_provider.h"

namespace ferry::verbs {

Result<std::unique_ptr<Cluster>> open_cluster(uint32_t nodes, const VerbsOptions& options = {});

}  // namespace ferry::verbs
