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
  // A bit per rail the buffer is not registered on (its NIC was dead): its rkey is 0
  // and nothing may reach the buffer through that rail.
  uint64_t absent_rails = 0;

  std::vector<uint8_t> serialize() const;
  // Refuses anything but a well-formed descriptor of this version.
  static Result<RegionDescriptor> parse(std::span<const uint8_t> bytes);
  bool has_rail(size_t rail) const { return rail < rkeys.size() && ((absent_rails >> rail) & 1) == 0; }
  // A bit per rail the buffer can be reached through.
  uint64_t present_rails() const {
    const uint64_t all = rkeys.size() >= 64 ? ~0ull : (1ull << rkeys.size()) - 1;
    return all & ~absent_rails;
  }
  bool contains(uint64_t address, uint64_t bytes) const {
    return address >= addr && bytes <= length && address - addr <= length - bytes;
  }
};

}  // namespace ferry
