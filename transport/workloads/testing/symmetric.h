// Groups and symmetric regions over an EngineCluster, set up in process: what the workloads'
// tests and benchmarks start from. (Across processes the descriptors travel through the
// exchange instead; the workloads do not care how they came.)
#pragma once

#include <memory>
#include <stdexcept>
#include <vector>

#include "transport/engine/engine_cluster.h"
#include "transport/workloads/group.h"

namespace ferry::testing {

// One group of every rank of the cluster, per rank.
inline std::vector<Group> make_groups(EngineCluster& cluster) {
  std::vector<std::string> names;
  for (size_t r = 0; r < cluster.size(); ++r) names.push_back(rank_name(r));
  std::vector<Group> groups;
  for (size_t r = 0; r < cluster.size(); ++r) {
    groups.emplace_back(cluster.engine(r), static_cast<uint32_t>(r), names);
  }
  return groups;
}

// Owns one buffer per rank and returns, per rank, its view of all of them.
class SymmetricAllocation {
 public:
  SymmetricAllocation(EngineCluster& cluster, uint64_t bytes) : storage_(cluster.size()) {
    std::vector<std::vector<uint8_t>> descriptors;
    for (size_t r = 0; r < cluster.size(); ++r) {
      storage_[r].assign(bytes, 0);
      auto reg = cluster.engine(r).register_memory(storage_[r].data(), bytes);
      if (!reg.ok()) throw std::runtime_error(reg.error().to_string());
      descriptors.push_back((*reg)->descriptor().serialize());
    }
    for (size_t r = 0; r < cluster.size(); ++r) {
      SymmetricRegion view;
      view.local = storage_[r].data();
      view.bytes = bytes;
      view.remote.resize(cluster.size());
      for (size_t peer = 0; peer < cluster.size(); ++peer) {
        if (peer == r) continue;
        auto region = cluster.engine(r).import_region(rank_name(peer), descriptors[peer]);
        if (!region.ok()) throw std::runtime_error(region.error().to_string());
        view.remote[peer] = *region;
      }
      views_.push_back(std::move(view));
    }
  }

  const SymmetricRegion& view(size_t rank) const { return views_.at(rank); }
  std::vector<uint8_t>& bytes(size_t rank) { return storage_.at(rank); }

 private:
  std::vector<std::vector<uint8_t>> storage_;
  std::vector<SymmetricRegion> views_;
};

}  // namespace ferry::testing
