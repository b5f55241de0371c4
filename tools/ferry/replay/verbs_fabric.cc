// The verbs side of a replay: every rank's engine opens this host's RDMA devices itself,
// all in this one process, and everything runs in wall-clock time. Ranks that stand for
// different cluster nodes therefore share this host's NICs.
#include <memory>

#include "tools/ferry/replay/replay_fabric.h"
#include "transport/verbs/verbs_provider.h"

namespace ferry::replay {
namespace {

using namespace scenarios;

class VerbsReplayFabric final : public ReplayFabric {
 public:
  explicit VerbsReplayFabric(std::vector<std::unique_ptr<Provider>> providers)
      : providers_(std::move(providers)), origin_ns_(clock_now()) {}

  const char* provider_name() const override { return "verbs"; }
  std::string mode() const override { return "wall-clock"; }
  Provider& provider_for(uint32_t rank) override { return *providers_.at(rank); }
  uint64_t now_ns() const override { return clock_now() - origin_ns_; }
  uint64_t engine_origin_ns() const override { return origin_ns_; }
  bool virtual_time() const override { return false; }
  void advance(uint64_t) override {}  // the NICs move by themselves

  void schedule_faults(const std::vector<FaultSpec>& faults, const ClusterSpec&, uint32_t,
                       std::vector<std::string>& notes) override {
    if (!faults.empty()) {
      notes.push_back("verbs cannot inject faults into real NICs: the scenario's " + std::to_string(faults.size()) +
                      " fault(s) were not applied");
    }
  }
  uint64_t faults_applied() const override { return 0; }
  uint64_t trace_hash() const override { return 0; }

 private:
  // The engines' clock (their timestamps, such as when a KV transfer landed, are on it).
  uint64_t clock_now() const { return providers_.empty() ? 0 : providers_.front()->clock().now_ns(); }

  std::vector<std::unique_ptr<Provider>> providers_;
  uint64_t origin_ns_;
};

}  // namespace

std::unique_ptr<ReplayFabric> make_verbs_fabric(const Scenario& scenario, uint32_t ranks,
                                                std::vector<std::string>& notes, std::string& error) {
  verbs::VerbsOptions options;
  if (const auto* v = std::get_if<VerbsFabric>(&scenario.fabric.params); v && !v->devices.empty()) {
    options.device_filter = v->devices.front();
    if (v->devices.size() > 1) {
      notes.push_back("verbs opens only the devices matching the first of the scenario's device names ('" +
                      options.device_filter + "')");
    }
  }
  std::vector<std::unique_ptr<Provider>> providers;
  for (uint32_t r = 0; r < ranks; ++r) {
    auto provider = verbs::open_provider(options);
    if (!provider.ok()) {
      error = "verbs: " + provider.error().to_string();
      return nullptr;
    }
    providers.push_back(std::move(provider).value());
  }
  return std::make_unique<VerbsReplayFabric>(std::move(providers));
}

}  // namespace ferry::replay
