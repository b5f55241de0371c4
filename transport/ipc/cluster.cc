// Providers of this process as a Cluster (transport/cluster.h), for tests: wall-clock
// time, no faults (a dead peer is a killed process, see ipc_two_process_test.cc).
#include <string>
#include <vector>

#include "transport/ipc/ipc_provider.h"

namespace ferry::ipc {
namespace {

class IpcCluster final : public Cluster {
 public:
  explicit IpcCluster(std::vector<std::unique_ptr<Provider>> providers) : providers_(std::move(providers)) {}

  const char* provider_name() const override { return "ipc"; }
  std::string mode() const override { return "wall-clock, shared memory"; }
  size_t node_count() const override { return providers_.size(); }
  size_t nics_per_node() const override { return 1; }
  Provider& node(size_t index) override { return *providers_.at(index); }
  bool virtual_time() const override { return false; }
  uint64_t now_ns() const override { return providers_.front()->clock().now_ns(); }
  // Runs the retries that are due and the callbacks of at() whose time came.
  bool step() override {
    bool ran = false;
    for (auto& provider : providers_) ran = provider->progress() || ran;
    const uint64_t now = now_ns();
    for (size_t i = 0; i < pending_.size();) {
      if (pending_[i].at_ns > now) {
        ++i;
        continue;
      }
      auto fn = std::move(pending_[i].fn);
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
      fn();
      ran = true;
    }
    return ran;
  }
  void advance(uint64_t) override { step(); }
  void run_until(uint64_t) override { step(); }
  void at(uint64_t t_ns, std::function<void()> fn) override { pending_.push_back({t_ns, std::move(fn)}); }
  VoidResult inject(const FabricFault& fault) override {
    return make_error(ErrorCode::kUnsupported, std::string("ipc: cannot inject ") + to_string(fault.kind) +
                                                   " between processes of one host; kill the peer process instead");
  }
  uint64_t trace_hash() const override { return 0; }
  Result<NicCounters> nic_counters(uint32_t node, uint32_t nic) const override {
    if (node >= providers_.size() || nic != 0) {
      return make_error(ErrorCode::kOutOfRange, "ipc: no NIC " + std::to_string(nic) + " on node " + std::to_string(node));
    }
    return make_error(ErrorCode::kUnsupported, "ipc: no wire, no wire counters");
  }

 private:
  struct Pending {
    uint64_t at_ns;
    std::function<void()> fn;
  };
  std::vector<std::unique_ptr<Provider>> providers_;
  std::vector<Pending> pending_;
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
