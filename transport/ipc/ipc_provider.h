// The intra-node provider: peers on the same host, in different processes, reach each
// other without a NIC. Host memory moves with one cross-process copy, GPU memory over
// NVLink/PCIe peer access through CUDA IPC handles. One Provider per process, one Device
// ("ipc:<host>"), RC endpoints; docs/provider-guide.md ("The ipc provider") describes it.
#pragma once

#include <memory>

#include "transport/cluster.h"
#include "transport/provider.h"

namespace ferry::ipc {

// This process's provider: creates its shared-memory segment (unlinked when it goes).
Result<std::unique_ptr<Provider>> open_provider();

// `nodes` providers in this process as a Cluster, for tests: they still reach each other
// through shared memory and cross-process copies. Wall-clock time; faults are refused
// (kill a peer process to test its loss).
Result<std::unique_ptr<Cluster>> open_cluster(uint32_t nodes);

}  // namespace ferry::ipc
