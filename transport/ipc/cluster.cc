// Providers of this process as a Cluster (transport/cluster.h), for tests: wall-clock
// time, no faults (a dead peer is a killed process, see ipc_two_process_test.cc).
#include <string>
#include <vector>

#include "transport/ipc/ipc_provider.h"
#include "transport/wall_clock_cluster.h"

namespace ferry::ipc {
namespace {

class IpcCluster final : public WallClockCluster {
 public:
  using WallClockCluster::WallClockCluster;

  const char* provider_name() const override { return "ipc"; }
  std::string mode() const override { return "wall-clock, shared memory"; }
  size_t nics_per_node() const override { return 1; }
  VoidResult inject(const FabricFault& fault) override {
    return make_error(ErrorCode::kUnsupported, std::string("ipc: cannot inject ") + to_string(fault.kind) +
                                                   " between processes of one host; kill the peer process instead");
  }
  Result<NicCounters> nic_counters(uint32_t node, uint32_t nic) const override {
    if (node >= providers_.size() || nic != 0) {
      return make_error(ErrorCode::kOutOfRange, "ipc: no NIC " + std::to_string(nic) + " on node " + std::to_string(node));
    }
    return make_error(ErrorCode::kUnsupported, "ipc: no wire, no wire counters");
  }
};

}  // namespace

Result<std::unique_ptr<Cluster>> open_cluster(uint32_t nodes) {
  if (nodes == 0) return make_error(ErrorCode::kInvalidArgument, "ipc: a cluster needs at least one node");
  std::vector<std::unique_ptr<Provider>> providers;
  for (uint32_t n = 0; n < nodes; ++n) {
    auto provider = open_provider();
    if (!provider.ok()) return provider.error();
    providers.push_back(std::move(provider).value());
  }
  return std::unique_ptr<Cluster>(std::make_unique<IpcCluster>(std::move(providers)));
}

}  // namespace ferry::ipc
