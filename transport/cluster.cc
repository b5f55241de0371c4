#include "transport/cluster.h"

namespace ferry {

const char* to_string(FabricFaultKind kind) {
  switch (kind) {
    case FabricFaultKind::kLinkDown: return "link down";
    case FabricFaultKind::kLinkUp: return "link up";
    case FabricFaultKind::kNicDeath: return "NIC death";
    case FabricFaultKind::kNodeLoss: return "node loss";
    case FabricFaultKind::kLossRate: return "loss rate";
  }
  return "unknown fault";
}

}  // namespace ferry
