#include "transport/workloads/weights/broadcast_tree.h"

namespace ferry::weights {

BroadcastTree::BroadcastTree(uint32_t size, uint32_t root, uint32_t fanout)
    : size_(size), root_(root), fanout_(fanout) {}

std::optional<uint32_t> BroadcastTree::parent(uint32_t rank) const {
  const uint32_t v = relative(rank);
  if (v == 0) return std::nullopt;
  return absolute((v - 1) / fanout_);
}

std::vector<uint32_t> BroadcastTree::children(uint32_t rank) const {
  std::vector<uint32_t> out;
  const uint64_t first = uint64_t{fanout_} * relative(rank) + 1;
  for (uint64_t v = first; v < first + fanout_ && v < size_; ++v) {
    out.push_back(absolute(static_cast<uint32_t>(v)));
  }
  return out;
}

uint32_t BroadcastTree::depth() const {
  uint32_t hops = 0;
  for (uint32_t v = size_ - 1; v != 0; v = (v - 1) / fanout_) ++hops;  // the last rank is the deepest
  return hops;
}

}  // namespace ferry::weights
