#include "sim/key_table.h"

#include <algorithm>
#include <cstring>

#include "transport/provider_support/dma_copy.h"

namespace ferry::sim {
namespace {

// Finds the entry holding byte `offset` of the list; false past the end.
bool seek(const MemoryList& list, uint64_t offset, uint32_t* entry, uint64_t* within) {
  for (uint32_t i = 0; i < list.count; ++i) {
    if (offset < list.sges[i].length) {
      *entry = i;
      *within = offset;
      return true;
    }
    offset -= list.sges[i].length;
  }
  return false;
}

}  // namespace

uint64_t total_length(const Sge* sges, uint32_t count) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; ++i) total += sges[i].length;
  return total;
}

bool allowed(const MemoryList& list, uint64_t offset, uint64_t length) {
  uint32_t first = 0;
  uint64_t within = 0;
  if (length == 0) {
    offset = 0;
    length = total_length(list.sges, list.count);
  }
  if (length == 0) return true;
  if (!seek(list, offset, &first, &within)) return false;
  for (uint32_t i = first; i < list.count && length > 0; ++i) {
    const Sge& sge = list.sges[i];
    const uint64_t n = std::min<uint64_t>(sge.length - within, length);
    if (n > 0 && !list.keys->allows(list.pd_id, sge.lkey, sge.addr, sge.length, list.needed)) {
      return false;
    }
    length -= n;
    within = 0;
  }
  return length == 0;
}

bool copy(const MemoryList& src, uint64_t src_offset, const MemoryList& dst, uint64_t dst_offset,
          uint64_t length) {
  uint32_t si = 0, di = 0;
  uint64_t so = 0, doff = 0;
  if (length == 0 || !seek(src, src_offset, &si, &so) || !seek(dst, dst_offset, &di, &doff)) return true;
  const bool gpu = src.keys->has_gpu_memory() || dst.keys->has_gpu_memory();
  while (length > 0 && si < src.count && di < dst.count) {
    const uint64_t n = std::min({src.sges[si].length - so, dst.sges[di].length - doff, length});
    if (n > 0 && !dma_copy(reinterpret_cast<void*>(dst.sges[di].addr + doff),
                           reinterpret_cast<const void*>(src.sges[si].addr + so), n, gpu)) {
      return false;
    }
    so += n;
    doff += n;
    length -= n;
    if (so == src.sges[si].length) ++si, so = 0;
    if (doff == dst.sges[di].length) ++di, doff = 0;
  }
  return true;
}

}  // namespace ferry::sim
