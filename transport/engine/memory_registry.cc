#include "transport/engine/memory_registry.h"

#include "transport/gpu/runtime.h"

#include <string>

namespace ferry {

RegionDescriptor Registration::descriptor() const {
  RegionDescriptor d{addr_, length_, {}, kind_, device_};
  for (size_t rail = 0; rail < regions_.size(); ++rail) {
    d.rkeys.push_back(has_rail(rail) ? regions_[rail]->rkey() : 0);
    if (!has_rail(rail)) d.absent_rails |= 1ull << rail;
  }
  return d;
}

Registration* MemoryRegistry::find(uint64_t addr, uint64_t length) {
  // Candidates start at or before addr; the cache is small, so scan them backwards.
  auto it = by_start_.upper_bound(addr);
  while (it != by_start_.begin()) {
    --it;
    Registration& r = *it->second;
    if (addr - r.addr_ <= r.length_ && length <= r.length_ - (addr - r.addr_)) return &r;
  }
  return nullptr;
}

Result<const Registration*> MemoryRegistry::register_memory(void* addr, size_t length,
                                                            uint32_t access, MemoryKind kind) {
  if (rails_.empty()) return make_error(ErrorCode::kFailedPrecondition, "no rails to register on");
  const auto start = reinterpret_cast<uint64_t>(addr);
  if (Registration* cached = find(start, length);
      cached != nullptr && (cached->access_ & access) == access && cached->kind_ == kind) {
    ++hits_;
    return static_cast<const Registration*>(cached);
  }
  ++misses_;
  auto registration = std::make_unique<Registration>();
  registration->addr_ = start;
  registration->length_ = length;
  registration->access_ = access;
  registration->kind_ = kind;
  registration->device_ = kind == MemoryKind::kDevice ? gpu::query_pointer(addr).device : -1;
  std::string unavailable;  // why each skipped rail could not register
  for (size_t rail = 0; rail < rails_.size(); ++rail) {
    auto region = rails_[rail]->register_memory(addr, length, access, kind);
    if (region.ok()) {
      registration->regions_.push_back(std::move(region).value());
      registration->present_rails_ |= 1ull << rail;
      continue;
    }
    const std::string why = "rail " + std::to_string(rail) + ": " + region.error().message;
    // Anything but a dead device would fail on every rail alike: report it as it is.
    if (region.error().code != ErrorCode::kUnavailable) {
      return make_error(region.error().code, "registering on " + why);
    }
    unavailable += (unavailable.empty() ? "" : "; ") + why;
    registration->regions_.push_back(nullptr);
  }
  if (registration->present_rails_ == 0) {
    return make_error(ErrorCode::kUnavailable, "no rail can register the buffer (" + unavailable + ")");
  }
  const Registration* result = registration.get();
  by_start_.emplace(start, std::move(registration));
  return result;
}

VoidResult MemoryRegistry::deregister(void* addr) {
  const auto start = reinterpret_cast<uint64_t>(addr);
  auto range = by_start_.equal_range(start);
  if (range.first == range.second) {
    return make_error(ErrorCode::kNotFound, "no registration starts at this address");
  }
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second->in_flight > 0) {
      return make_error(ErrorCode::kFailedPrecondition,
                        std::to_string(it->second->in_flight) +
                            " transfer(s) in flight use this registration");
    }
  }
  by_start_.erase(range.first, range.second);
  return {};
}

}  // namespace ferry
