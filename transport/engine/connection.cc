// The connection protocol and the lifecycle of peers (docs/engine.md, "Peers and
// connection"): endpoints are created on first use or on the peer's hello, and pieces
// are posted only once both sides said they connected.
#include <algorithm>
#include <utility>

#include "transport/engine/engine_impl.h"
#include "transport/engine/hello.h"

namespace ferry {

using engine_internal::kRecvCookie;
using engine_internal::PeerState;

bool Engine::Impl::peer_connected(const std::string& peer) const {
  auto index = peers.find(peer);
  return index.ok() && peers[*index].state == PeerState::kReady;
}

VoidResult Engine::Impl::create_endpoint(uint32_t index, uint32_t r) {
  engine_internal::Rail& rail = rails[r];
  PeerRail& pr = peers[index].rails[r];
  EndpointConfig ec = config.endpoint;
  ec.kind = rails.kind();
  const uint32_t entries = rail.max_send_wr + config.recv_buffers;
  auto cq = rail.claim_cq(entries);
  if (!cq.ok()) return cq.error();
  ec.send_cq = ec.recv_cq = rail.cqs[*cq].get();
  ec.max_send_wr = rail.max_send_wr;
  ec.max_recv_wr = config.recv_buffers;
  auto endpoint = rail.pd->create_endpoint(ec);
  if (!endpoint.ok()) {
    rail.release_cq(*cq, entries);
    return endpoint.error();
  }
  std::vector<uint8_t> recv_memory(static_cast<size_t>(config.recv_buffers) * config.control_bytes, 0);
  auto region = rail.pd->register_memory(recv_memory.data(), recv_memory.size(), kAccessLocalWrite,
                                         MemoryKind::kHost);
  if (!region.ok()) {
    rail.release_cq(*cq, entries);
    return region.error();
  }
  pr.cq = *cq;
  pr.cq_entries = entries;
  pr.endpoint = std::move(endpoint).value();
  pr.recv_memory = std::move(recv_memory);  // the heap buffer moves with it: the region stays valid
  pr.recv_region = std::move(region).value();
  peers.bind(r, pr.endpoint->id(), index);
  return {};
}

VoidResult Engine::Impl::create_endpoints(uint32_t index) {
  Peer& peer = peers[index];
  // A rail whose NIC is dead (kUnavailable) gets no endpoint: the peer is reached on the
  // others, and the hello tells it so.
  std::string unavailable;
  bool any = false;
  for (uint32_t r = 0; r < rails.size(); ++r) {
    auto created = create_endpoint(index, r);
    if (created.ok()) {
      any = true;
      continue;
    }
    const std::string why = "rail " + std::to_string(r) + ": " + created.error().message;
    if (created.error().code != ErrorCode::kUnavailable) return make_error(created.error().code, why);
    unavailable += (unavailable.empty() ? "" : "; ") + why;
  }
  if (!any) return make_error(ErrorCode::kUnavailable, "no rail can open an endpoint (" + unavailable + ")");
  engine_internal::ControlChannel& control = peer.control;
  if (control.memory.empty()) {
    control.memory.assign(static_cast<size_t>(config.control_slots) * config.control_bytes, 0);
    auto reg = registry->register_memory(control.memory.data(), control.memory.size(), kAccessLocalWrite);
    if (!reg.ok()) return reg.error();
    control.region = registry->find(reinterpret_cast<uint64_t>(control.memory.data()), 1);
    for (uint32_t s = config.control_slots; s-- > 0;) control.free_slots.push_back(s);
  }
  peer.incarnation = ++incarnations;
  return {};
}

void Engine::Impl::post_recv(PeerRail& pr, uint32_t slot) {
  Sge sge{reinterpret_cast<uint64_t>(pr.recv_memory.data()) + uint64_t{slot} * config.control_bytes,
          config.control_bytes, pr.recv_region->lkey()};
  RecvRequest rr{kRecvCookie | slot, &sge, 1};
  (void)pr.endpoint->post_recv({&rr, 1});  // an endpoint in error flushes it back to us
}

void Engine::Impl::start_connect(uint32_t index) {
  Peer& peer = peers[index];
  if (peer.state != PeerState::kIdle) return;
  if (auto created = create_endpoints(index); !created.ok()) {
    peer_unreachable(index, "cannot open endpoints: " + created.error().to_string());
    return;
  }
  peer.state = PeerState::kConnecting;
  send_hello(index);
}

void Engine::Impl::send_hello(uint32_t index) {
  Peer& peer = peers[index];
  peer.hello_sent = true;
  std::vector<std::vector<uint8_t>> addresses;
  // An empty address: no endpoint on that rail (its NIC is dead here).
  for (const PeerRail& pr : peer.rails) addresses.push_back(pr.endpoint ? pr.endpoint->address() : std::vector<uint8_t>{});
  auto sent = exchange.send(name, peer.name, engine_internal::encode_hello(rails.kind(), peer.incarnation, addresses));
  if (!sent.ok()) {
    peer.handshake_failed = true;
    peer_unreachable(index, "handshake failed: " + sent.error().to_string());
  }
}

void Engine::Impl::on_exchange(const std::string& from, std::span<const uint8_t> bytes) {
  switch (engine_internal::handshake_kind(bytes)) {
    case engine_internal::HandshakeKind::kHello:
      on_hello(from, bytes);
      break;
    case engine_internal::HandshakeKind::kConnected:
      if (auto incarnation = engine_internal::parse_connected(bytes)) on_connected(from, *incarnation);
      break;
    case engine_internal::HandshakeKind::kNone:
      break;
  }
}

void Engine::Impl::on_connected(const std::string& from, uint64_t incarnation) {
  auto index = peers.entry(from);
  if (!index) return;
  Peer& peer = peers[*index];
  // It must answer our current endpoints, which we connected to its current ones.
  if (peer.state != PeerState::kConnecting || !peer.connected_locally || incarnation != peer.incarnation) {
    return;
  }
  peer.state = PeerState::kReady;
  std::deque<uint32_t> waiting;
  waiting.swap(peer.waiting);
  for (uint32_t p : waiting) enqueue(p);
}

void Engine::Impl::on_hello(const std::string& from, std::span<const uint8_t> bytes) {
  const std::optional<engine_internal::Hello> hello = engine_internal::parse_hello(bytes);
  if (!hello) return;  // not a handshake of ours: ignore it rather than trust it

  uint32_t index = add_peer(from);
  if (peers[index].connected_locally) {
    if (peers[index].remote_incarnation == hello->incarnation) return;  // a duplicate
    // The peer restarted its side: what was in flight to it is lost.
    reset_peer(index, "peer '" + from + "' reconnected; transfers in flight to it were lost");
    index = add_peer(from);
  }
  Peer& peer = peers[index];
  if (hello->kind != rails.kind()) {
    peer_unreachable(index, std::string("peer '") + from + "' uses " + to_string(hello->kind) +
                                " endpoints, this engine " + to_string(rails.kind()));
    return;
  }
  if (peer.state == PeerState::kIdle) {
    if (auto created = create_endpoints(index); !created.ok()) {
      peer_unreachable(index, "cannot open endpoints: " + created.error().to_string());
      return;
    }
    peer.state = PeerState::kConnecting;
  }
  peer.usable_rails = std::min<uint32_t>(static_cast<uint32_t>(hello->addresses.size()),
                                         static_cast<uint32_t>(rails.size()));
  bool any_shared = false;  // a rail both sides have an endpoint on
  for (uint32_t r = 0; r < peer.usable_rails; ++r) {
    PeerRail& pr = peer.rails[r];
    // A rail without an endpoint on either side (its NIC is dead there) stays down.
    if (!pr.endpoint || hello->addresses[r].empty()) {
      pr.up = false;
      continue;
    }
    any_shared = true;
    auto connected = pr.endpoint->connect(hello->addresses[r]);
    pr.up = connected.ok();
    if (!connected.ok()) {
      peer.last_error = connected.error().to_string();
      continue;
    }
    // Receives can be posted once the queue pair is connected (not in its reset state),
    // and before the peer hears "connected" and may send.
    for (uint32_t slot = 0; slot < config.recv_buffers; ++slot) post_recv(pr, slot);
  }
  if (!any_shared) {
    // Our hello still goes out, so that the peer learns the same and fails fast too.
    if (!peer.hello_sent) send_hello(index);
    peer.handshake_failed = true;
    peer_unreachable(index, "no rail is live on both sides of peer '" + from + "'");
    return;
  }
  peer.remote_incarnation = hello->incarnation;
  peer.connected_locally = true;
  if (!peer.hello_sent) send_hello(index);
  if (auto sent = exchange.send(name, peer.name, engine_internal::encode_connected(hello->incarnation));
      !sent.ok()) {
    peer_unreachable(index, "handshake failed: " + sent.error().to_string());
  }
}

void Engine::Impl::reset_peer(uint32_t index, const std::string& why) {
  Peer& peer = peers[index];
  std::vector<uint32_t> orphaned;
  for (uint32_t p = 0; p < pool.piece_slots(); ++p) {
    if (pool.piece(p).live && pool.piece(p).peer == index) orphaned.push_back(p);
  }
  for (uint32_t r = 0; r < peer.rails.size(); ++r) {
    PeerRail& pr = peer.rails[r];
    if (pr.endpoint) peers.unbind(r, pr.endpoint->id());
    pr.endpoint.reset();  // destroying it drops what it still held
    // Nothing is posted here any more: its queued pieces are dropped below.
    pr.up = false;
    pr.queue.clear();
    pr.queued_bytes = 0;
    if (pr.cq_entries > 0) rails[r].release_cq(pr.cq, std::exchange(pr.cq_entries, 0));
    pr.recv_region.reset();
  }
  peer.state = PeerState::kRemoved;
  peer.last_error = why;
  fail_expectations(index, why);
  for (uint32_t p : orphaned) drop_piece(p, why);
}

void Engine::Impl::peer_unreachable(uint32_t index, const std::string& why) {
  Peer& peer = peers[index];
  peer.last_error = why;
  for (PeerRail& pr : peer.rails) pr.up = false;
  std::deque<uint32_t> waiting;
  waiting.swap(peer.waiting);
  for (uint32_t p : waiting) drop_piece(p, why);
  for (PeerRail& pr : peer.rails) {
    std::deque<uint32_t> queue;
    queue.swap(pr.queue);
    for (uint32_t p : queue) drop_piece(p, why);
  }
}

Result<RemoteRegion> Engine::Impl::import_region(const std::string& peer, std::span<const uint8_t> bytes) {
  auto descriptor = RegionDescriptor::parse(bytes);
  if (!descriptor.ok()) return descriptor.error();
  if (descriptor->rkeys.size() < rails.size()) {
    // Rails beyond the peer's never reach it: absent, with the keys kept aligned.
    for (size_t r = descriptor->rkeys.size(); r < rails.size(); ++r) descriptor->absent_rails |= 1ull << r;
    descriptor->rkeys.resize(rails.size(), 0);
  }
  const uint32_t index = add_peer(peer);
  remote_regions.emplace_back(index, std::move(descriptor).value());
  return RemoteRegion{static_cast<uint32_t>(remote_regions.size())};
}

}  // namespace ferry
