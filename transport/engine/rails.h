// Rails: one per device of the node, each with its protection domain and its one
// completion queue, shared by every peer's endpoint on that device.
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
  std::unique_ptr<CompletionQueue> cq;
  double gbps = 0;
  uint32_t max_send_wr = 0;
  uint32_t max_sge = 0;
  uint64_t max_message = 0;
  TransferCounters counters;
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
