#include "fabrics/cluster_factory.h"

#include <stdexcept>

#include "emu/fabric.h"
#include "sim/simulation.h"
#include "transport/ipc/ipc_provider.h"
#include "transport/null/null_provider.h"
#include "transport/tcp/tcp_provider.h"
#include "transport/verbs/verbs_cluster.h"

namespace ferry::fabrics {
namespace {

Result<std::unique_ptr<Cluster>> make_emu(const ClusterOptions& o, emu::Mode mode) {
  emu::FabricConfig c;
  c.mode = mode;
  c.seed = o.seed;
  c.nodes = o.nodes;
  c.record_trace = o.record_trace;
  if (o.emu_propagation_delay_ns) c.propagation_delay_ns = *o.emu_propagation_delay_ns;
  if (o.emu_srd_reorder_window_ns) c.srd_reorder_window_ns = *o.emu_srd_reorder_window_ns;
  c.nics.clear();
  for (double gbps : o.nic_gbps) {
    emu::NicConfig nic;
    nic.link_gbps = gbps;
    nic.loss_probability = o.loss;
    c.nics.push_back(nic);
  }
  return std::unique_ptr<Cluster>(std::make_unique<emu::Fabric>(c));
}

Result<std::unique_ptr<Cluster>> make_sim(const ClusterOptions& o) {
  sim::SimulationConfig c;
  // ns-3 wants a seed of at least 1: a bijection from the 64-bit seed onto (seed, run).
  c.seed = static_cast<uint32_t>(o.seed % 0xFFFFFFFFull) + 1;
  c.run = o.seed / 0xFFFFFFFFull + 1;
  c.hosts = o.nodes;
  c.transport = o.kind == EndpointKind::kRc ? sim::Transport::kRoceRc : sim::Transport::kSrd;
  c.record_trace = o.record_trace;
  c.nics.clear();
  for (double gbps : o.nic_gbps) c.nics.push_back(sim::NicConfig{gbps});
  c.access_link.loss = c.fabric_link.loss = o.loss;
  c.pfc.enabled = o.sim_pfc;
  c.congestion.enabled = o.sim_dcqcn;
  if (o.sim_leaf_spine) {
    c.topology = sim::Topology::kLeafSpine;
    c.hosts_per_leaf = o.sim_leaf_spine->hosts_per_leaf;
    c.spines = o.sim_leaf_spine->spines;
    c.oversubscription = o.sim_leaf_spine->oversubscription;
  }
  return std::unique_ptr<Cluster>(std::make_unique<sim::Simulation>(c));
}

}  // namespace

const std::vector<std::string>& provider_names() {
  static const std::vector<std::string> names = {kEmu, kEmuFast, kSim, kVerbs, kIpc, kTcp, kNull};
  return names;
}

Result<std::unique_ptr<Cluster>> make_cluster(const ClusterOptions& o) {
  if (o.nodes == 0) return make_error(ErrorCode::kInvalidArgument, "cluster: nodes must be at least 1");
  if (o.nic_gbps.empty()) return make_error(ErrorCode::kInvalidArgument, "cluster: nic_gbps needs one rate per NIC");
  if ((o.sim_leaf_spine || o.sim_pfc || o.sim_dcqcn) && o.provider != "sim") {
    return make_error(ErrorCode::kInvalidArgument, o.provider +
                                                       ": switches (a leaf-spine, PFC, DCQCN) are modelled by sim only "
                                                       "(emu joins every NIC directly)");
  }
  try {
    if (o.provider == "emu") return make_emu(o, emu::Mode::kDeterministic);
    if (o.provider == "emu-fast") return make_emu(o, emu::Mode::kFast);
    if (o.provider == "sim") return make_sim(o);
  } catch (const std::exception& e) {
    // The fabrics' constructors throw for settings outside their bounds.
    return make_error(ErrorCode::kInvalidArgument, o.provider + ": " + e.what());
  }
  if (o.provider == "verbs") {
    verbs::VerbsOptions v;
    v.device_filter = o.verbs_device;
    return verbs::open_cluster(o.nodes, v);
  }
  if (o.provider == "ipc") {
    if (o.kind != EndpointKind::kRc) return make_error(ErrorCode::kUnsupported, "ipc: RC endpoints only");
    return ipc::open_cluster(o.nodes);
  }
  if (o.provider == "tcp") {
    if (o.kind != EndpointKind::kRc) return make_error(ErrorCode::kUnsupported, "tcp: RC endpoints only");
    return tcp::open_cluster(o.nodes);
  }
  if (o.provider == "null") return null::open_cluster(o.nodes, o.nic_gbps);
  std::string known;
  for (const std::string& name : provider_names()) known += (known.empty() ? "" : ", ") + name;
  return make_error(ErrorCode::kNotFound, "cluster: unknown provider '" + o.provider + "' (known: " + known + ")");
}

}  // namespace ferry::fabrics
