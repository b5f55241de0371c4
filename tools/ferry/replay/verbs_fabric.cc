// The scenario on verbs: every rank's engine opens this host's RDMA devices itself (a
// fabric node per rank), all in this one process, and everything runs in wall-clock
// time. Ranks that stand for different cluster nodes therefore share this host's NICs,
// and no fault can be injected into them.
#include <memory>

#include "tools/ferry/replay/fabric_mapping.h"
#include "transport/verbs/verbs_cluster.h"

namespace ferry::replay {

using namespace scenarios;

FabricMapping make_verbs_fabric(const Scenario& scenario, uint32_t ranks, std::vector<std::string>& notes) {
  verbs::VerbsOptions options;
  if (const auto* v = std::get_if<VerbsFabric>(&scenario.fabric.params); v && !v->devices.empty()) {
    options.device_filter = v->devices.front();
    if (v->devices.size() > 1) {
      notes.push_back("verbs opens only the devices matching the first of the scenario's device names ('" +
                      options.device_filter + "')");
    }
  }
  FabricMapping out;
  auto cluster = verbs::open_cluster(ranks, options);
  if (!cluster.ok()) {
    out.error = "verbs: " + cluster.error().to_string();
    return out;
  }
  out.fabric = std::move(cluster).value();
  for (uint32_t r = 0; r < ranks; ++r) out.rank_nodes.push_back(r);
  out.injects_faults = false;
  out.engine = replay_engine_config();  // the engine's own timeouts suit real NICs
  return out;
}

}  // namespace ferry::replay
