#include "transport/engine/rails.h"

#include <algorithm>

namespace ferry::engine_internal {

VoidResult RailSet::open(Provider& provider, const EngineConfig& config) {
  bool all_ordered = true, all_unordered = true;
  for (size_t i = 0; i < provider.device_count(); ++i) {
    Rail rail;
    rail.device = &provider.device(i);
    const DeviceAttributes& attr = rail.device->attributes();
    auto pd = rail.device->create_protection_domain();
    if (!pd.ok()) return make_error(pd.error().code, attr.name + ": " + pd.error().message);
    rail.pd = std::move(pd).value();
    rail.cq_depth = std::min(config.cq_depth, attr.max_cqe);
    rail.max_cqe = attr.max_cqe;
    rail.gbps = attr.link_gbps > 0 ? attr.link_gbps : 1;
    rail.max_send_wr = std::min(config.max_send_wr, attr.max_send_wr);
    rail.max_sge = attr.max_sge;
    rail.max_message = attr.max_message_bytes;
    all_ordered &= attr.ordered;
    all_unordered &= attr.unordered;
    rails_.push_back(std::move(rail));
  }
  if (config.endpoint_kind) {
    kind_ = *config.endpoint_kind;
    if ((kind_ == EndpointKind::kRc && !all_ordered) || (kind_ == EndpointKind::kSrd && !all_unordered)) {
      return make_error(ErrorCode::kUnsupported,
                        std::string("not every rail offers ") + to_string(kind_) + " endpoints");
    }
  } else if (all_ordered) {
    kind_ = EndpointKind::kRc;
  } else if (all_unordered) {
    kind_ = EndpointKind::kSrd;
  } else {
    return make_error(ErrorCode::kUnsupported, "the rails share no endpoint kind");
  }
  return {};
}

Result<uint32_t> Rail::claim_cq(uint32_t entries) {
  for (uint32_t c = 0; c < cqs.size(); ++c) {
    if (!cq_broken[c] && cq_room[c] >= entries) {
      cq_room[c] -= entries;
      return c;
    }
  }
  if (entries > max_cqe) {
    return make_error(ErrorCode::kResourceExhausted,
                      device->attributes().name + ": an endpoint needs " + std::to_string(entries) +
                          " completion entries (send queue and receive buffers), the device allows " +
                          std::to_string(max_cqe) + " per queue");
  }
  const uint32_t depth = std::max(cq_depth, entries);
  auto cq = device->create_completion_queue(depth);
  if (!cq.ok()) return make_error(cq.error().code, device->attributes().name + ": " + cq.error().message);
  cqs.push_back(std::move(cq).value());
  cq_room.push_back(depth - entries);
  cq_broken.push_back(false);
  return static_cast<uint32_t>(cqs.size() - 1);
}

uint64_t RailSet::max_message() const {
  uint64_t m = UINT32_MAX;
  for (const Rail& rail : rails_) m = std::min(m, rail.max_message);
  return m;
}

uint32_t RailSet::max_sge() const {
  uint32_t m = kMaxSgePerRequest;
  for (const Rail& rail : rails_) m = std::min(m, rail.max_sge);
  return m;
}

std::vector<ProtectionDomain*> RailSet::domains() const {
  std::vector<ProtectionDomain*> pds;
  for (const Rail& rail : rails_) pds.push_back(rail.pd.get());
  return pds;
}

}  // namespace ferry::engine_internal
