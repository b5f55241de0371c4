#include "tools/ferry/replay/fabric_counters.h"

#include <string_view>

#include "sim/simulation.h"

namespace ferry::replay {

namespace {

constexpr char kLinkLoss[] = "packets lost on links";
constexpr char kSwitchDrops[] = "packets dropped at full switch queues";
constexpr char kRetransmits[] = "packets retransmitted";
constexpr char kTimeouts[] = "retransmission timeouts";
constexpr char kPfcPauses[] = "PFC pause frames";
constexpr char kPfcPaused[] = "time paused by PFC (summed over devices)";
constexpr char kEcnMarks[] = "ECN-marked packets";
constexpr char kCnps[] = "CNPs sent";
constexpr char kMaxQueue[] = "largest switch queue";

FabricCounter counted(const char* name, uint64_t value, const char* unit = "") { return {name, value, "", unit}; }
FabricCounter absent(const char* name, std::string why, const char* unit = "") {
  return {name, std::nullopt, std::move(why), unit};
}

std::vector<FabricCounter> sim_counters(const sim::Simulation& s) {
  const sim::SimulationCounters c = s.counters();
  const sim::SimulationConfig& config = s.config();
  const bool pfc = config.pfc.enabled, dcqcn = config.congestion.enabled;
  const auto when = [](bool on, const char* name, uint64_t value, const char* off, const char* unit = "") {
    return on ? counted(name, value, unit) : absent(name, off, unit);
  };
  return {
      counted(kLinkLoss, c.packets_lost),
      counted(kSwitchDrops, c.packets_dropped),
      counted(kRetransmits, c.retransmitted_packets),
      counted(kTimeouts, c.timeouts),
      when(pfc, kPfcPauses, c.pfc_pauses, "PFC off in this run"),
      when(pfc, kPfcPaused, c.pfc_paused_ns, "PFC off in this run", "ns"),
      when(dcqcn, kEcnMarks, c.ecn_marked, "ECN marking off in this run (sim marks only for DCQCN)"),
      when(dcqcn, kCnps, c.cnps_sent, "DCQCN off in this run"),
      counted(kMaxQueue, c.max_switch_queue_bytes, "B"),
  };
}

std::vector<FabricCounter> emu_counters(const Cluster& emu) {
  uint64_t retransmitted = 0;
  for (uint32_t node = 0; node < emu.node_count(); ++node) {
    for (uint32_t nic = 0; nic < emu.nics_per_node(); ++nic) {
      if (const Result<NicCounters> c = emu.nic_counters(node, nic); c.ok()) retransmitted += c->retransmitted_packets;
    }
  }
  const char* no_switch = "not modelled (no switches)";
  const char* no_cc = "not modelled (no congestion control)";
  return {
      absent(kLinkLoss, "not counted (loss delays operations)"),
      absent(kSwitchDrops, no_switch),
      counted(kRetransmits, retransmitted),
      absent(kTimeouts, "not counted"),
      absent(kPfcPauses, no_cc),
      absent(kPfcPaused, no_cc, "ns"),
      absent(kEcnMarks, no_cc),
      absent(kCnps, no_cc),
      absent(kMaxQueue, no_switch, "B"),
  };
}

std::vector<FabricCounter> uncounted(const std::string& why) {
  std::vector<FabricCounter> out;
  for (const char* name : {kLinkLoss, kSwitchDrops, kRetransmits, kTimeouts, kPfcPauses, kPfcPaused, kEcnMarks, kCnps,
                           kMaxQueue}) {
    out.push_back(absent(name, why, name == kPfcPaused ? "ns" : name == kMaxQueue ? "B" : ""));
  }
  return out;
}

}  // namespace

std::vector<FabricCounter> fabric_counters(const Cluster& fabric) {
  const std::string_view provider = fabric.provider_name();
  if (provider == "sim") {
    if (const auto* s = dynamic_cast<const sim::Simulation*>(&fabric)) return sim_counters(*s);
  }
  if (provider == "emu") return emu_counters(fabric);
  return uncounted("not read: " + std::string(provider) + " runs on a real network");
}

}  // namespace ferry::replay
