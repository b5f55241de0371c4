#include "transport/wall_clock_cluster.h"

namespace ferry {

bool WallClockCluster::step() {
  bool ran = false;
  for (auto& provider : providers_) ran = provider->progress() || ran;
  const uint64_t now = now_ns();
  for (size_t i = 0; i < pending_.size();) {
    if (pending_[i].at_ns > now) {
      ++i;
      continue;
    }
    auto fn = std::move(pending_[i].fn);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    fn();
    ran = true;
  }
  return ran;
}

}  // namespace ferry
