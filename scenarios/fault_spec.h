// FaultSpec: a fault injected at a time of the run (emu and sim providers).
#pragma once

#include <cstdint>
#include <optional>

#include "scenarios/named.h"
#include "scenarios/source_mark.h"

namespace ferry::scenarios {

enum class FaultKind {
  kLinkDown,  // the NIC's link stops carrying packets
  kLinkUp,    // ... and carries them again
  kNicDeath,  // the NIC dies: its endpoints flush, peers time out
  kNodeLoss,  // the node vanishes, as a process that died silently
  kLossRate,  // the NIC's link loses packets with probability `value` from now on
};

inline constexpr Named<FaultKind> kFaultNames[] = {
    {"link_down", FaultKind::kLinkDown}, {"link_up", FaultKind::kLinkUp},     {"nic_death", FaultKind::kNicDeath},
    {"node_loss", FaultKind::kNodeLoss}, {"loss_rate", FaultKind::kLossRate},
};

struct FaultSpec {
  uint64_t at_ns = 0;  // from the start of the run
  FaultKind kind = FaultKind::kLinkDown;
  uint32_t node = 0;
  std::optional<uint32_t> nic;  // every kind but node_loss
  double value = 0;             // loss_rate: the new loss probability, in [0, 1)
  SourceMark where;
};

}  // namespace ferry::scenarios
