// The checks an HCA makes of scatter-gather lists against a NIC's memory registrations
// (transport/provider_support/memory_registration.h), and the copies between them.
#pragma once

#include <cstdint>

#include "transport/provider.h"
#include "transport/provider_support/memory_registration.h"

namespace ferry::sim {

// A 12-bit generation: a stale key matches again only after 4096 reuses of its slot.
inline constexpr uint32_t kKeyGenerationBits = 12;

// A scatter-gather list as one side of a data movement: whose keys name it, in which
// protection domain, and which rights it needs.
struct MemoryList {
  const KeyTable* keys = nullptr;
  uint32_t pd_id = 0;
  const Sge* sges = nullptr;
  uint32_t count = 0;
  uint32_t needed = 0;
};

uint64_t total_length(const Sge* sges, uint32_t count);

// Every non-empty entry that [offset, offset + length) of the list touches is allowed.
// length 0 checks every entry.
bool allowed(const MemoryList& list, uint64_t offset, uint64_t length);

// Copies [src_offset, +length) of one list to [dst_offset, +length) of another, piece
// by piece like DMA (provider_support/dma_copy.h: host or GPU memory). Check first: this
// assumes both ranges are allowed and inside their lists. False when a GPU copy failed.
bool copy(const MemoryList& src, uint64_t src_offset, const MemoryList& dst,
          uint64_t dst_offset, uint64_t length);

}  // namespace ferry::sim
