// Liveness (docs/engine.md, "Liveness"): while work depends on a peer, every rail up to
// it is probed once per keepalive interval with a zero-byte write, which the peer's NIC
// answers without its CPU; a probe that fails takes the rail down like any failed piece,
// and a peer left with no rail is declared dead: its waits and transfers fail at once.
// A wait on a peer that still answers gets peer_wait_timeout_ns instead of the transfer
// timeout, so a live but slow peer is not mistaken for a dead one.
#include "transport/engine/engine_impl.h"

namespace ferry {

using engine_internal::kProbeCookie;

bool Engine::Impl::probing() const { return config.keepalive_interval_ns > 0; }

// A wait on it, or pieces to it that are queued, posted or waiting for the connection.
bool Engine::Impl::has_work(const Peer& peer) const {
  if (!peer.expectations.empty() || !peer.waiting.empty()) return true;
  for (const PeerRail& pr : peer.rails) {
    if (!pr.queue.empty() || pr.posted > (pr.probing ? 1u : 0u)) return true;
  }
  return false;
}

// Once per interval, on every peer that work depends on: an idle engine stays silent,
// so a virtual-time fabric with nothing else to do still runs dry.
bool Engine::Impl::probe_peers() {
  if (!probing() || now() < next_probe_ns) return false;
  next_probe_ns = now() + config.keepalive_interval_ns;
  bool did = false;
  for (uint32_t p = 0; p < peers.size(); ++p) {
    const Peer& peer = peers[p];
    if (peer.state != PeerState::kReady || !has_work(peer)) continue;
    for (uint32_t r = 0; r < peer.usable_rails; ++r) did |= post_probe(p, r);
  }
  return did;
}

// A zero-byte RDMA write: one-sided, so it consumes none of the peer's receive buffers
// and is never counted as a notification; it names no memory, so no key is checked.
bool Engine::Impl::post_probe(uint32_t peer_index, uint32_t r) {
  Peer& peer = peers[peer_index];
  PeerRail& pr = peer.rails[r];
  // A probe already out answers for this interval too; a full send queue has pieces
  // on the wire that fail over themselves if the rail is dead.
  if (!pr.up || pr.probing || !pr.endpoint || pr.posted >= rails[r].max_send_wr) return false;
  WorkRequest wr;
  wr.cookie = kProbeCookie | peer_index;
  wr.opcode = Opcode::kWrite;
  size_t bad = 0;
  const VoidResult posted = pr.endpoint->post_send({&wr, 1}, &bad);
  if (!posted.ok()) {
    if (posted.error().code == ErrorCode::kResourceExhausted) return false;
    peer.last_error = "rail " + std::to_string(r) + ": probe not posted: " + posted.error().to_string();
    rail_down(peer_index, r);
    return true;
  }
  pr.probing = true;
  ++pr.posted;
  return true;
}

void Engine::Impl::on_probe(uint32_t r, const Completion& c) {
  const uint32_t peer_index = static_cast<uint32_t>(c.cookie & 0xffffffff);
  if (peer_index >= peers.size()) return;
  Peer& peer = peers[peer_index];
  PeerRail& pr = peer.rails[r];
  // Not ours any more: the peer was reset, or the queue overflowed and forgot it.
  if (peer.state != PeerState::kReady || !pr.probing) return;
  pr.probing = false;
  --pr.posted;
  if (c.status == Status::kSuccess) {
    peer.answered_ns = now();
    submit_after_batch(peer_index, r);  // its slot in the send queue is free again
    return;
  }
  peer.last_error = "rail " + std::to_string(r) + ": a probe failed: " + to_string(c.status);
  rail_down(peer_index, r);
}

// Called by rail_down: the peer has no rail left. It is declared dead at the next
// progress(), since rail_down runs inside loops over the peer's pieces.
void Engine::Impl::maybe_dead(uint32_t peer_index) {
  const Peer& peer = peers[peer_index];
  if (!probing() || peer.state != PeerState::kReady) return;
  for (const PeerRail& pr : peer.rails) {
    if (pr.up) return;
  }
  dead_due.push_back(peer_index);
}

bool Engine::Impl::declare_dead_due() {
  if (dead_due.empty()) return false;
  std::vector<uint32_t> due;
  due.swap(dead_due);
  for (uint32_t p : due) {
    if (peers[p].state != PeerState::kReady) continue;  // reset meanwhile, or listed twice
    std::string rails_why;
    for (const PeerRail& pr : peers[p].rails) {
      if (!pr.down_why.empty()) rails_why += (rails_why.empty() ? "" : "; ") + pr.down_why;
    }
    // Its endpoints go, as for a removed peer: nothing of it can land any more, so a
    // caller may reuse the memory its waits were for.
    reset_peer(p, "peer '" + peers[p].name + "' declared dead: no rail reaches it (" + rails_why + ")");
    peers[p].state = PeerState::kDead;
  }
  return true;
}

// At the transfer deadline: a transfer that now only waits on peers that are connected
// and answered a probe since it began is given until peer_wait_timeout_ns from its start.
// A peer not probed yet (an interval longer than the transfer timeout) proves nothing.
bool Engine::Impl::extend_wait(uint32_t transfer) {
  Transfer& t = pool.transfer(transfer);
  if (!probing() || t.wait_extended || t.waits == 0 || t.outstanding != t.waits) return false;
  for (uint32_t p = 0; p < peers.size(); ++p) {
    const Peer& peer = peers[p];
    bool waits_on_it = false;
    for (const auto& e : peer.expectations) waits_on_it |= e.transfer == transfer && e.generation == t.generation;
    if (!waits_on_it) continue;
    if (peer.state != PeerState::kReady || peer.answered_ns < t.started_ns) return false;
    bool up = false;
    for (const PeerRail& pr : peer.rails) up |= pr.up;
    if (!up) return false;
  }
  const uint64_t until = t.started_ns + config.peer_wait_timeout_ns;
  if (until <= now()) return false;
  t.wait_extended = true;
  pool.set_deadline(transfer, until);
  return true;
}

}  // namespace ferry
