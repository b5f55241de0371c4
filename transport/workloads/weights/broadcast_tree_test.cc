// Chains and k-ary trees from any root: every rank but the root has one parent, parents
// and children agree, and every rank is reached.
#include "transport/workloads/weights/broadcast_tree.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ferry::weights {
namespace {

TEST(BroadcastTree, EveryRankIsReachedOnceFromAnyRoot) {
  for (uint32_t size = 1; size <= 12; ++size) {
    for (uint32_t fanout : {1u, 2u, 3u, 5u}) {
      for (uint32_t root = 0; root < size; ++root) {
        const BroadcastTree tree(size, root, fanout);
        std::vector<int> reached(size, 0);
        for (uint32_t r = 0; r < size; ++r) {
          const auto children = tree.children(r);
          EXPECT_LE(children.size(), fanout);
          for (uint32_t c : children) {
            ++reached[c];
            EXPECT_EQ(tree.parent(c), r);
          }
        }
        EXPECT_FALSE(tree.parent(root).has_value());
        for (uint32_t r = 0; r < size; ++r) {
          EXPECT_EQ(reached[r], r == root ? 0 : 1)
              << "size " << size << " fanout " << fanout << " rank " << r;
        }
      }
    }
  }
}

TEST(BroadcastTree, FanoutOneIsAChainFromTheRoot) {
  const BroadcastTree chain(5, 3, 1);
  EXPECT_EQ(chain.children(3), std::vector<uint32_t>{4});
  EXPECT_EQ(chain.children(4), std::vector<uint32_t>{0});
  EXPECT_EQ(chain.children(1), std::vector<uint32_t>{2});
  EXPECT_TRUE(chain.children(2).empty());
  EXPECT_EQ(chain.depth(), 4u);
}

TEST(BroadcastTree, TreesAreShallow) {
  EXPECT_EQ(BroadcastTree(9, 0, 2).depth(), 3u);  // 1 + 2 + 4 + 2
  EXPECT_EQ(BroadcastTree(9, 0, 3).depth(), 2u);  // 1 + 3 + 5
  EXPECT_EQ(BroadcastTree(1, 0, 3).depth(), 0u);
  EXPECT_EQ(BroadcastTree(7, 4, 2).children(4), (std::vector<uint32_t>{5, 6}));
}

}  // namespace
}  // namespace ferry::weights
