// Null providers as a Cluster (transport/cluster.h), for overhead benchmarks and tests:
// wall-clock time, nothing to fault, nothing on a wire.
#include <string>
#include <vector>

#include "transport/null/null_provider.h"
#include "transport/wall_clock_cluster.h"

namespace ferry::null {
namespace {

class NullCluster final : public WallClockCluster {
 public:
  NullCluster(std::vector<std::unique_ptr<Provider>> providers, size_t nics)
      : WallClockCluster(std::move(providers)), nics_(nics) {}

  const char* provider_name() const override { return "null"; }
  std::string mode() const override { return "wall-clock, moves nothing"; }
  size_t nics_per_node() const override { return nics_; }
  VoidResult inject(const FabricFault& fault) override {
    return make_error(ErrorCode::kUnsupported,
                      std::string("null: cannot inject ") + to_string(fault.kind) + ": there is no fabric to fault");
  }
  // Nothing goes on a wire: every counter stays 0.
  Result<NicCounters> nic_counters(uint32_t node, uint32_t nic) const override {
    if (node >= providers_.size() || nic >= nics_) {
      return make_error(ErrorCode::kOutOfRange, "null: no NIC " + std::to_string(nic) + " on node " + std::to_string(node));
    }
    return NicCounters{};
  }

 private:
  const size_t nics_;
};

}  // namespace

Result<std::unique_ptr<Cluster>> open_cluster(uint32_t nodes, const std::vector<double>& nic_gbps) {
  if (nodes == 0) return make_error(ErrorCode::kInvalidArgument, "null: a cluster needs at least one node");
  if (nic_gbps.empty()) return make_error(ErrorCode::kInvalidArgument, "null: a node needs at least one NIC");
  std::vector<std::unique_ptr<Provider>> providers;
  for (uint32_t n = 0; n < nodes; ++n) providers.push_back(open_provider(n, nic_gbps));
  return std::unique_ptr<Cluster>(std::make_unique<NullCluster>(std::move(providers), nic_gbps.size()));
}

}  // namespace ferry::null
