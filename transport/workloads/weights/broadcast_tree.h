// BroadcastTree: who a rank receives a broadcast from and forwards it to.
//
// Ranks are renumbered from the root (v = (rank - root) mod size). v's parent is
// (v - 1) / fanout and its children are fanout*v + 1 ... fanout*v + fanout: a k-ary tree
// filled level by level, and with fanout 1 a chain root -> root+1 -> ... . A chain keeps
// every link busy at the full link rate; a tree shortens the path from the root to the
// last rank but divides each forwarding rank's link rate among its children.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace ferry::weights {

class BroadcastTree {
 public:
  // size >= 1, root < size, fanout >= 1.
  BroadcastTree(uint32_t size, uint32_t root, uint32_t fanout);

  std::optional<uint32_t> parent(uint32_t rank) const;
  std::vector<uint32_t> children(uint32_t rank) const;
  // Hops from the root to its farthest rank.
  uint32_t depth() const;

 private:
  uint32_t relative(uint32_t rank) const { return (rank + size_ - root_) % size_; }
  uint32_t absolute(uint32_t v) const { return (v + root_) % size_; }

  uint32_t size_;
  uint32_t root_;
  uint32_t fanout_;
};

}  // namespace ferry::weights
