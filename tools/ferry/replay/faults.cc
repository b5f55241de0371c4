#include "tools/ferry/replay/faults.h"

#include <cstdio>
#include <string_view>

namespace ferry::replay {

using namespace scenarios;

namespace {

FabricFaultKind fabric_kind(FaultKind kind) {
  switch (kind) {
    case FaultKind::kLinkDown: return FabricFaultKind::kLinkDown;
    case FaultKind::kLinkUp: return FabricFaultKind::kLinkUp;
    case FaultKind::kNicDeath: return FabricFaultKind::kNicDeath;
    case FaultKind::kNodeLoss: return FabricFaultKind::kNodeLoss;
    case FaultKind::kLossRate: return FabricFaultKind::kLossRate;
  }
  return FabricFaultKind::kLinkDown;
}

// The fault as the report lists it: names as in scenario files and NIC timelines.
AppliedFault describe(const FaultSpec& f) {
  AppliedFault out;
  out.at_ns = f.at_ns;
  out.kind = name_of(kFaultNames, f.kind);
  out.target = "node" + std::to_string(f.node);
  if (f.kind != FaultKind::kNodeLoss) out.target += "/nic" + std::to_string(f.nic.value_or(0));
  if (f.kind == FaultKind::kLossRate) {
    char value[32];
    std::snprintf(value, sizeof value, "%g", f.value);
    out.detail = std::string("loss probability ") + value;
  }
  return out;
}

}  // namespace

void schedule_faults(World& world, const std::vector<FaultSpec>& faults, const FabricMapping& mapping,
                     std::shared_ptr<FaultLog> log, std::vector<std::string>& notes) {
  if (faults.empty()) return;
  if (!mapping.injects_faults) {
    notes.push_back(std::string(world.fabric().provider_name()) + " cannot inject faults into real NICs: the scenario's " +
                    std::to_string(faults.size()) + " fault(s) were not applied");
    return;
  }
  bool approximated = false;
  for (const FaultSpec& f : faults) {
    if (f.node >= mapping.fault_nodes.size() || mapping.fault_nodes[f.node].empty()) continue;  // no rank there
    approximated |= f.kind == FaultKind::kNicDeath || f.kind == FaultKind::kNodeLoss;
    const std::vector<uint32_t> nodes = mapping.fault_nodes[f.node];
    Cluster& fabric = world.fabric();
    fabric.at(world.fabric_ns(f.at_ns), [&fabric, f, nodes, log] {
      ++log->applied;
      log->faults.push_back(describe(f));
      for (uint32_t node : nodes) {
        const FabricFault fault{fabric_kind(f.kind), node, f.nic.value_or(0), f.value};
        if (VoidResult done = fabric.inject(fault); !done.ok()) {
          log->errors.push_back("fault at line " + std::to_string(f.where.line) + ": " + done.error().to_string());
        }
      }
    });
  }
  // sim has no NIC or host to kill: peers see what they see on hardware (no answer, then
  // kRetryExceeded), but the node's own engines time out too, where emu flushes them.
  if (approximated && std::string_view(world.fabric().provider_name()) == "sim") {
    notes.push_back("sim applies nic_death as the NIC's link going down for good and node_loss as all the "
                    "node's links going down for good (the node's own endpoints time out rather than flush)");
  }
}

}  // namespace ferry::replay
