#include "transport/engine/peers.h"

namespace ferry::engine_internal {

Result<uint32_t> PeerTable::find(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end() || peers_[it->second]->state == PeerState::kRemoved) {
    return make_error(ErrorCode::kNotFound, "unknown peer '" + name + "' (add_peer first)");
  }
  return it->second;
}

std::optional<uint32_t> PeerTable::entry(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

uint32_t PeerTable::add(const std::string& name, size_t rails) {
  auto it = by_name_.find(name);
  if (it != by_name_.end() && peers_[it->second]->state != PeerState::kRemoved &&
      peers_[it->second]->state != PeerState::kDead) {
    return it->second;
  }
  auto peer = std::make_unique<Peer>();
  peer->name = name;
  peer->rails.resize(rails);
  const uint32_t index = static_cast<uint32_t>(peers_.size());
  peers_.push_back(std::move(peer));
  by_name_[name] = index;
  return index;
}

void PeerTable::bind(uint32_t rail, uint32_t endpoint_id, uint32_t peer) {
  by_endpoint_[key(rail, endpoint_id)] = peer;
}

void PeerTable::unbind(uint32_t rail, uint32_t endpoint_id) { by_endpoint_.erase(key(rail, endpoint_id)); }

std::optional<uint32_t> PeerTable::owner(uint32_t rail, uint32_t endpoint_id) const {
  auto it = by_endpoint_.find(key(rail, endpoint_id));
  if (it == by_endpoint_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ferry::engine_internal
