// RegionDescriptor: what a peer needs to write into (or read from) a registered buffer,
// and its bytes for the out-of-band exchange. Those bytes come from the peer, so parsing
// refuses anything but a well-formed descriptor of this version.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "transport/provider.h"
#include "transport/result.h"

namespace ferry {

struct RegionDescriptor {
  uint64_t addr = 0;
  uint64_t length = 0;
  std::vector<uint32_t> rkeys;  // one per rail, in rail order
  MemoryKind kind = MemoryKind::kHost;
  int32_t device = -1;  // kDevice: the GPU's ordinal on its host

  std::vector<uint8_t> serialize() const;
  // Refuses anything but a well-formed descriptor of this version.
  static Result<RegionDescriptor> parse(std::span<const uint8_t> bytes);
  bool contains(uint64_t address, uint64_t bytes) const {
    return address >= addr && bytes <= length && address - addr <= length - bytes;
  }
};

}  // namespace ferry
