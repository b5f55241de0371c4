#include "python/ferry/_native/symmetric.h"

#include <string>

#include "python/ferry/_native/errors.h"
#include "transport/engine/memory_registry.h"

namespace ferry::python {

std::vector<SymmetricRegion> symmetric_regions(Core& core, const std::vector<Memory>& buffers,
                                               std::vector<Hold>& held) {
  if (buffers.size() != core.size()) {
    fail(ErrorCode::kInvalidArgument, std::to_string(buffers.size()) + " buffers for " + std::to_string(core.size()) + " ranks: one per rank");
  }
  std::vector<std::vector<uint8_t>> descriptors;
  for (size_t r = 0; r < buffers.size(); ++r) {
    if (buffers[r].bytes != buffers[0].bytes) fail(ErrorCode::kInvalidArgument, "every rank's buffer must have the same size");
    const Registration* reg = core.acquire(r, buffers[r].addr, buffers[r].bytes, buffers[r].kind);
    held.push_back({r, reinterpret_cast<uint64_t>(buffers[r].addr), buffers[r].bytes});
    RegionDescriptor d = reg->descriptor();
    d.addr = reinterpret_cast<uint64_t>(buffers[r].addr);
    d.length = buffers[r].bytes;
    descriptors.push_back(d.serialize());
  }
  std::vector<SymmetricRegion> regions(buffers.size());
  for (size_t r = 0; r < buffers.size(); ++r) {
    regions[r].local = static_cast<uint8_t*>(buffers[r].addr);
    regions[r].bytes = buffers[r].bytes;
    regions[r].remote.resize(buffers.size());
    for (size_t peer = 0; peer < buffers.size(); ++peer) {
      if (peer != r) regions[r].remote[peer] = core.import(r, peer, descriptors[peer]);
    }
  }
  return regions;
}

std::vector<Group> all_ranks(Core& core) {
  (void)core.cluster("a workload over every rank");
  std::vector<std::string> names;
  for (size_t r = 0; r < core.size(); ++r) names.push_back(rank_name(r));
  std::vector<Group> groups;
  for (size_t r = 0; r < core.size(); ++r) groups.emplace_back(core.engine(r), static_cast<uint32_t>(r), names);
  return groups;
}

}  // namespace ferry::python
