// The scenario on tcp: a fabric node per rank, each with its own tcp provider listening on
// the chosen host address (loopback by default), in wall-clock time: every rank in this
// process, or, spread over processes, this node's ranks. The cluster's NICs and rates
// are not modelled (the host's network carries everything), and no fault can be injected.
#include <memory>

#include "tools/ferry/replay/fabric_mapping.h"
#include "transport/tcp/tcp_provider.h"

namespace ferry::replay {

FabricMapping make_tcp_fabric(const scenarios::Scenario&, uint32_t ranks, const FabricChoices& choices,
                              std::vector<std::string>& notes) {
  FabricMapping out;
  tcp::TcpOptions options;
  options.host = choices.host;
  auto cluster = tcp::open_cluster(ranks, options);
  if (!cluster.ok()) {
    out.error = "tcp: " + cluster.error().to_string();
    return out;
  }
  notes.push_back("tcp runs its ranks over this host's TCP stack (" + choices.host +
                  "): the cluster's NICs and rates are not modelled");
  out.fabric = std::move(cluster).value();
  for (uint32_t r = 0; r < ranks; ++r) out.rank_nodes.push_back(r);
  out.injects_faults = false;
  out.engine = replay_engine_config();
  return out;
}

}  // namespace ferry::replay
