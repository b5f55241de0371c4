// The scenario on tcp: a fabric node per rank, each with its own tcp provider listening on
// loopback, all in this one process, in wall-clock time. The cluster's NICs and rates are
// not modelled (the host's loopback carries everything), and no fault can be injected.
#include <memory>

#include "tools/ferry/replay/fabric_mapping.h"
#include "transport/tcp/tcp_provider.h"

namespace ferry::replay {

FabricMapping make_tcp_fabric(const scenarios::Scenario&, uint32_t ranks, std::vector<std::string>& notes) {
  FabricMapping out;
  auto cluster = tcp::open_cluster(ranks);
  if (!cluster.ok()) {
    out.error = "tcp: " + cluster.error().to_string();
    return out;
  }
  notes.push_back("tcp runs every rank over this host's loopback: the cluster's NICs and rates are not modelled");
  out.fabric = std::move(cluster).value();
  for (uint32_t r = 0; r < ranks; ++r) out.rank_nodes.push_back(r);
  out.injects_faults = false;
  out.engine = replay_engine_config();
  return out;
}

}  // namespace ferry::replay
