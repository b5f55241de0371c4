// Group: the ranks a workload runs over, as one rank sees them, and the shared rules
// every workload follows for buffers and notification tags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "transport/engine/engine.h"

namespace ferry {

// Notification tags are 16 bits per (peer, tag). Workloads that share an engine take
// disjoint eighths of the space, and within its eighth a workload numbers its calls in
// the order every rank makes them (the usual SPMD rule), so that the tags of one call
// agree on all ranks and a tag comes back only after 8192 further calls: long after any
// resent notification of its previous use has landed.
enum class TagSpace : uint16_t {
  kCollectives = 0x0000,
  kMoe = 0x2000,
  kKv = 0x4000,
  kPipeline = 0x6000,
  kWeights = 0x8000,
  kUser = 0xc000,
};
constexpr uint16_t kTagsPerSpace = 0x2000;

class Group {
 public:
  Group(Engine& engine, uint32_t rank, std::vector<std::string> members)
      : engine_(&engine), rank_(rank), members_(std::move(members)) {}

  Engine& engine() const { return *engine_; }
  uint32_t rank() const { return rank_; }
  uint32_t size() const { return static_cast<uint32_t>(members_.size()); }
  const std::string& name(uint32_t rank) const { return members_.at(rank); }
  const std::vector<std::string>& members() const { return members_; }

  // The next tag of `space` for this rank's next call.
  uint16_t next_tag(TagSpace space) {
    const uint16_t index = counters_[static_cast<uint16_t>(space) >> 13]++ % kTagsPerSpace;
    return static_cast<uint16_t>(static_cast<uint16_t>(space) | index);
  }

 private:
  Engine* engine_;
  uint32_t rank_;
  std::vector<std::string> members_;
  uint32_t counters_[8] = {};
};

// A buffer of the same size on every rank of a group, registered on each, with every
// other rank's region imported: the destination of one-sided writes between ranks.
struct SymmetricRegion {
  uint8_t* local = nullptr;
  uint64_t bytes = 0;
  std::vector<RemoteRegion> remote;  // by rank; remote[rank()] is unused
};

}  // namespace ferry
