// Rails: one per device of the node, each with its protection domain and its completion
// queues, shared by the peers' endpoints on that device. Every endpoint claims room in a
// queue for all it can have outstanding (its send queue and its receive buffers), and a
// queue takes endpoints only while they fit, so no number of busy peers overflows one.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "transport/engine/engine.h"

namespace ferry::engine_internal {

// The most list entries the engine puts in one work request, whatever the devices allow.
inline constexpr uint32_t kMaxSgePerRequest = 32;

struct Rail {
  Device* device = nullptr;
  std::unique_ptr<ProtectionDomain> pd;
  std::vector<std::unique_ptr<CompletionQueue>> cqs;
  std::vector<uint32_t> cq_room;  // entries not claimed by an endpoint, per queue
  std::vector<bool> cq_broken;    // overflowed: polled no more, given to no endpoint
  uint32_t cq_depth = 0;          // of a new queue, unless one endpoint needs more
  uint32_t max_cqe = 0;
  double gbps = 0;
  uint32_t max_send_wr = 0;
  uint32_t max_sge = 0;
  uint64_t max_message = 0;
  TransferCounters counters;

  // A queue with room for `entries` more completions, created when none has it.
  Result<uint32_t> claim_cq(uint32_t entries);
  void release_cq(uint32_t cq, uint32_t entries) { cq_room[cq] += entries; }
};

class RailSet {
 public:
  // Opens every device as a rail and picks the endpoint kind all of them offer (the
  // configured one, else RC, else SRD). Rails opened before a failure stay open.
  VoidResult open(Provider& provider, const EngineConfig& config);

  bool empty() const { return rails_.empty(); }
  size_t size() const { return rails_.size(); }
  Rail& operator[](size_t r) { return rails_[r]; }
  const Rail& operator[](size_t r) const { return rails_[r]; }
  auto begin() const { return rails_.begin(); }
  auto end() const { return rails_.end(); }

  EndpointKind kind() const { return kind_; }
  // The limits every rail accepts.
  uint64_t max_message() const;
  uint32_t max_sge() const;
  std::vector<ProtectionDomain*> domains() const;

 private:
  std::vector<Rail> rails_;
  EndpointKind kind_ = EndpointKind::kRc;
};

}  // namespace ferry::engine_internal
