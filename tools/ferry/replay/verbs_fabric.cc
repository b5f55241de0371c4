// The scenario on verbs: every rank's engine opens this host's RDMA devices itself (a
// fabric node per rank), in wall-clock time. In one process, ranks that stand for
// different cluster nodes share this host's NICs; spread over processes (one per host),
// each process's ranks use its host's. No fault can be injected into real NICs.
#include <memory>

#include "tools/ferry/replay/fabric_mapping.h"
#include "transport/verbs/verbs_cluster.h"

namespace ferry::replay {

using namespace scenarios;

FabricMapping make_verbs_fabric(const Scenario& scenario, uint32_t ranks, const FabricChoices& choices,
                                std::vector<std::string>& notes) {
  verbs::VerbsOptions options;
  // The scenario's verbs section (when the scenario is on verbs), then the command line's
  // choices over it.
  const auto* v = std::get_if<VerbsFabric>(&scenario.fabric.params);
  if (v && v->port) options.port = static_cast<uint8_t>(*v->port);
  if (v && v->gid_index) options.gid_index = static_cast<int>(*v->gid_index);
  if (v && v->max_inline) options.max_inline = *v->max_inline;
  if (choices.verbs_port) options.port = *choices.verbs_port;
  if (choices.verbs_gid_index) options.gid_index = *choices.verbs_gid_index;
  if (choices.verbs_max_inline) options.max_inline = *choices.verbs_max_inline;
  if (!choices.verbs_device.empty()) {
    options.device_filter = choices.verbs_device;
  } else if (v && !v->devices.empty()) {
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
