// MemoryRegistry: registers a buffer once on every rail of a node, with a cache.
//
// Registration is slow on hardware (pinning, NIC translation tables), so it never sits on
// the hot path: a buffer is registered once, on every device (rail) of the node, and a
// later request for any range inside it is a lookup. A rail whose NIC is dead is left
// out (the registration is absent there) as long as another rail registers, so that a
// node keeps working on the NICs it has left. The peer learns of a registration
// through a RegionDescriptor, which serialises to bytes for the out-of-band exchange.
//
// Deregistration while transfers are in flight is refused (kFailedPrecondition naming
// how many), never deferred silently: the caller waits for its transfers, or cancels them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "transport/engine/region_descriptor.h"
#include "transport/provider.h"
#include "transport/result.h"

namespace ferry {

class Registration {
 public:
  uint64_t addr() const { return addr_; }
  uint64_t length() const { return length_; }
  uint32_t access() const { return access_; }
  MemoryKind kind() const { return kind_; }
  int32_t device() const { return device_; }  // the GPU, for kDevice; -1 for host memory
  // Keys on a rail the registration is present on (has_rail).
  uint32_t lkey(size_t rail) const { return regions_[rail]->lkey(); }
  uint32_t rkey(size_t rail) const { return regions_[rail]->rkey(); }
  bool has_rail(size_t rail) const { return rail < regions_.size() && regions_[rail] != nullptr; }
  // A bit per rail the registration is present on.
  uint64_t present_rails() const { return present_rails_; }
  RegionDescriptor descriptor() const;
  // Transfers using this registration; deregistration waits for zero.
  uint32_t in_flight = 0;

 private:
  friend class MemoryRegistry;
  uint64_t addr_ = 0;
  uint64_t length_ = 0;
  uint32_t access_ = 0;
  MemoryKind kind_ = MemoryKind::kHost;
  int32_t device_ = -1;
  std::vector<std::unique_ptr<MemoryRegion>> regions_;  // one per rail; null where absent
  uint64_t present_rails_ = 0;
};

class MemoryRegistry {
 public:
  // One protection domain per rail; they must outlive the registry.
  explicit MemoryRegistry(std::vector<ProtectionDomain*> rails) : rails_(std::move(rails)) {}

  // Returns the registration covering [addr, addr+length) with at least `access` and of
  // that memory kind, registering the range on every rail if none does. A rail whose
  // device is gone (kUnavailable) is skipped; it fails only when no rail registers.
  Result<const Registration*> register_memory(void* addr, size_t length, uint32_t access,
                                              MemoryKind kind = MemoryKind::kHost);
  // The registration covering the range, or null.
  Registration* find(uint64_t addr, uint64_t length);
  // Deregisters the registration that starts at addr.
  VoidResult deregister(void* addr);

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t size() const { return by_start_.size(); }

 private:
  std::vector<ProtectionDomain*> rails_;
  std::multimap<uint64_t, std::unique_ptr<Registration>> by_start_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace ferry
