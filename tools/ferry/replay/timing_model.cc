#include "tools/ferry/replay/timing_model.h"

namespace ferry::replay {

std::string timing_model_note(const std::string& provider, const std::string& mode) {
  if (provider == "emu") {
    if (mode == "fast") {
      return "emu fast mode runs in real wall-clock time on this host's threads: no timing model, so the "
             "figures measure the emulator, not a network.";
    }
    return "emu deterministic: NIC ports are fluid and shared evenly between the operations on them; no switches "
           "or switch queues, no congestion control (PFC, ECN, DCQCN), no host or PCIe model; retransmissions "
           "delay operations without occupying the ports.";
  }
  if (provider == "sim") {
    return "sim (ns-3, packet by packet): no host or PCIe model and no NIC processing time; switches are drop-tail "
           "per port with static thresholds and no shared buffer; PFC has one class (802.3x-like PAUSE).";
  }
  if (provider == "verbs") {
    return "verbs runs on real NICs in real wall-clock time: the figures are measured, not modelled, and include "
           "the hosts' load.";
  }
  if (provider == "tcp") {
    return "tcp runs over this host's TCP stack in real wall-clock time: the figures are measured, not modelled, "
           "and say little about an RDMA network.";
  }
  return "";
}

}  // namespace ferry::replay
