// A NIC's memory registrations and the checks an HCA makes against them.
//
// Keys are (slot + 1) << 12 | generation: a deregistered region frees its slot at once,
// and its key matches nothing until the slot has been reused 4096 times. lkey == rkey.
#pragma once

#include <cstdint>
#include <vector>

#include "transport/provider.h"

namespace ferry::sim {

struct Registration {
  uint64_t addr = 0;
  uint64_t length = 0;
  uint32_t access = 0;
  uint32_t pd_id = 0;
  uint32_t key = 0;
  bool live = false;
  MemoryKind kind = MemoryKind::kHost;
};

class KeyTable {
 public:
  uint32_t add(uint64_t addr, uint64_t length, uint32_t access, uint32_t pd_id,
               MemoryKind kind = MemoryKind::kHost);
  void remove(uint32_t key);
  const Registration* lookup(uint32_t key) const;

  // [addr, addr + length) lies in a live region of `pd_id`, named by `key`, that grants
  // every right in `needed`.
  bool allows(uint32_t pd_id, uint32_t key, uint64_t addr, uint64_t length,
              uint32_t needed) const;
  // Some live region is GPU memory: copies through this NIC use the CUDA copy engines.
  bool has_gpu_memory() const { return gpu_regions_ > 0; }

 private:
  std::vector<Registration> slots_;
  uint32_t gpu_regions_ = 0;
  std::vector<uint32_t> free_slots_;
};

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
