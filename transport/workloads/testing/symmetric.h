// Groups and symmetric regions over an EngineCluster, set up in process: what the workloads'
// tests and benchmarks start from. (Across processes the descriptors travel through the
// exchange instead; the workloads do not care how they came.)
#pragma once

#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "transport/engine/engine_cluster.h"
#include "transport/gpu/runtime.h"
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

// Owns one buffer per rank, in host memory or (kDevice) GPU memory, and returns, per
// rank, its view of all of them.
class SymmetricAllocation {
 public:
  SymmetricAllocation(EngineCluster& cluster, uint64_t bytes, MemoryKind kind = MemoryKind::kHost)
      : kind_(kind), bytes_(bytes), host_(cluster.size()), device_(cluster.size()) {
    std::vector<std::vector<uint8_t>> descriptors;
    for (size_t r = 0; r < cluster.size(); ++r) {
      uint8_t* memory = allocate(r);
      const Registration* reg = must(cluster.engine(r).register_memory(
          memory, bytes, kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead, kind));
      descriptors.push_back(reg->descriptor().serialize());
    }
    for (size_t r = 0; r < cluster.size(); ++r) {
      SymmetricRegion view;
      view.local = data(r);
      view.bytes = bytes;
      view.remote.resize(cluster.size());
      for (size_t peer = 0; peer < cluster.size(); ++peer) {
        if (peer == r) continue;
        view.remote[peer] = must(cluster.engine(r).import_region(rank_name(peer), descriptors[peer]));
      }
      views_.push_back(std::move(view));
    }
  }

  const SymmetricRegion& view(size_t rank) const { return views_.at(rank); }
  MemoryKind kind() const { return kind_; }
  uint8_t* data(size_t rank) {
    return kind_ == MemoryKind::kDevice ? device_.at(rank).as<uint8_t>() : host_.at(rank).data();
  }
  // Host memory only: the buffer itself.
  std::vector<uint8_t>& bytes(size_t rank) {
    if (kind_ != MemoryKind::kHost) throw std::logic_error("bytes(): the buffers are GPU memory; use read()");
    return host_.at(rank);
  }
  // A copy of rank's buffer from `offset`, and writing into it, for either kind.
  std::vector<uint8_t> read(size_t rank, uint64_t offset, uint64_t length) {
    std::vector<uint8_t> out(length);
    must(gpu::copy(out.data(), data(rank) + offset, length, kind_));
    return out;
  }
  void write(size_t rank, uint64_t offset, std::span<const uint8_t> in) {
    must(gpu::copy(data(rank) + offset, in.data(), in.size(), kind_));
  }

 private:
  uint8_t* allocate(size_t rank) {
    if (kind_ == MemoryKind::kHost) {
      host_[rank].assign(bytes_, 0);
      return host_[rank].data();
    }
    device_[rank] = must(gpu::DeviceBuffer::allocate(bytes_));
    const std::vector<uint8_t> zeros(bytes_, 0);
    must(gpu::copy(device_[rank].data(), zeros.data(), bytes_));
    return device_[rank].as<uint8_t>();
  }

  MemoryKind kind_;
  uint64_t bytes_;
  std::vector<std::vector<uint8_t>> host_;
  std::vector<gpu::DeviceBuffer> device_;
  std::vector<SymmetricRegion> views_;
};

}  // namespace ferry::testing
