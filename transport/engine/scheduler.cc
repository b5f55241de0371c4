// Pieces to rails (docs/engine.md, "Striping policy" and "Failover"): each piece goes
// to the live rail where it would finish first, waits in a per-(peer, rail) queue and
// is posted in batches as the send queue has room; a rail that fails under a piece is
// declared down for that peer and its pieces move to the survivors.
#include <algorithm>

#include "transport/engine/engine_impl.h"

namespace ferry {

using engine_internal::kProbeCookie;
using engine_internal::kRecvCookie;
using engine_internal::TransferPool;

namespace {

bool retriable(Status status) {
  return status == Status::kRetryExceeded || status == Status::kFlushed || status == Status::kRnrRetryExceeded;
}

}  // namespace

int Engine::Impl::pick_rail(const Peer& peer, uint64_t bytes, uint64_t allowed) const {
  // One rail (a NIC per GPU): nothing to weigh, and this runs once per piece.
  if (peer.usable_rails == 1) return peer.rails[0].up && (allowed & 1) != 0 ? 0 : -1;
  int best = -1;
  double best_time = 0;
  for (uint32_t r = 0; r < peer.usable_rails; ++r) {
    if (!peer.rails[r].up || ((allowed >> r) & 1) == 0) continue;
    const double t = static_cast<double>(peer.rails[r].queued_bytes + bytes) / rails[r].gbps;
    if (best < 0 || t < best_time) {
      best = static_cast<int>(r);
      best_time = t;
    }
  }
  return best;
}

// The most bytes one piece of a transfer of `bytes` to `peer` carries. Above the
// threshold a transfer is cut into about one piece per rail that reaches the peer (all
// rails while it is not connected yet), whole pages of 4 KiB, at most piece_bytes: so a
// transfer just above the threshold already uses every rail, and a large one streams in
// piece_bytes pieces that keep every rail busy.
uint64_t Engine::Impl::piece_limit(uint32_t peer_index, uint64_t bytes) const {
  const uint64_t largest = std::min(config.piece_bytes, rails.max_message());
  if (bytes <= config.stripe_threshold_bytes) return std::min(std::max<uint64_t>(bytes, 1), rails.max_message());
  const Peer& peer = peers[peer_index];
  uint64_t live = 0;
  if (peer.state == PeerState::kReady) {
    for (uint32_t r = 0; r < peer.usable_rails; ++r) live += peer.rails[r].up ? 1 : 0;
  }
  if (live == 0) live = rails.size();
  constexpr uint64_t kPage = 4096;
  const uint64_t share = (bytes + live - 1) / live;
  return std::min(largest, (share + kPage - 1) / kPage * kPage);
}

uint64_t Engine::Impl::rails_for(const Piece& piece) const {
  switch (piece.kind) {
    case PieceKind::kData: return pool.transfer(piece.transfer).data_rails;
    case PieceKind::kMessage: return peers[piece.peer].control.region->present_rails();
    case PieceKind::kNotify: return ~0ull;
  }
  return ~0ull;
}

void Engine::Impl::enqueue(uint32_t p) {
  Piece& piece = pool.piece(p);
  Peer& peer = peers[piece.peer];
  if (peer.state == PeerState::kIdle) start_connect(piece.peer);
  if (peer.state == PeerState::kConnecting && !peer.handshake_failed) {
    peer.waiting.push_back(p);
    return;
  }
  if (peer.state != PeerState::kReady) {
    drop_piece(p, "peer '" + peer.name + "' is not connected: " + peer.last_error);
    return;
  }
  const int rail = pick_rail(peer, piece.length, rails_for(piece));
  if (rail < 0) {
    // Live rails the piece's memory is not registered on (their NIC died at one end).
    const bool unregistered = pick_rail(peer, piece.length, ~0ull) >= 0;
    drop_piece(p, "no rail reaches peer '" + peer.name + "'" +
                      (unregistered ? " on which both ends of the transfer are registered" : "") +
                      (peer.last_error.empty() ? "" : " (last error: " + peer.last_error + ")"));
    return;
  }
  piece.rail = static_cast<uint32_t>(rail);
  PeerRail& pr = peer.rails[piece.rail];
  pr.queue.push_back(p);
  pr.queued_bytes += piece.length;
  submit(piece.peer, piece.rail);
}

void Engine::Impl::submit(uint32_t peer_index, uint32_t r) {
  Peer& peer = peers[peer_index];
  PeerRail& pr = peer.rails[r];
  const engine_internal::Rail& rail = rails[r];
  while (pr.up && !pr.queue.empty() && pr.posted < rail.max_send_wr) {
    batch.clear();
    batch_sges.clear();
    const size_t room = std::min<size_t>({kPostBatch, pr.queue.size(), rail.max_send_wr - pr.posted});
    // Consecutive pieces mostly belong to one transfer: its keys on this rail are looked
    // up once for the run.
    uint32_t keys_of = UINT32_MAX;
    uint32_t lkey = 0, rkey = 0;
    for (size_t i = 0; i < room; ++i) {
      const uint32_t p = pr.queue[i];
      const Piece& piece = pool.piece(p);
      const size_t first = batch_sges.size();
      WorkRequest wr;
      wr.cookie = TransferPool::cookie(piece, p);
      if (piece.kind == PieceKind::kData) {
        const Transfer& t = pool.transfer(piece.transfer);
        if (piece.transfer != keys_of) {
          keys_of = piece.transfer;
          lkey = t.local->lkey(r);
          rkey = remote_regions[t.remote_region].second.rkeys[r];
        }
        for (uint32_t s = 0; s < piece.num_sge; ++s) {
          Sge sge = t.sges[piece.first_sge + s];
          sge.lkey = sge.lkey == 0 ? lkey : t.more_locals[sge.lkey - 1]->lkey(r);
          batch_sges.push_back(sge);
        }
        wr.opcode = piece.with_imm ? Opcode::kWriteWithImm : Opcode::kWrite;
        wr.remote_addr = piece.remote_addr;
        wr.rkey = rkey;
      } else if (piece.kind == PieceKind::kNotify) {
        wr.opcode = Opcode::kWriteWithImm;  // zero bytes: the immediate is the message
      } else {
        batch_sges.push_back(Sge{peer.control.slot_address(piece.control_slot, config.control_bytes), piece.length,
                                 peer.control.region->lkey(r)});
        wr.opcode = Opcode::kSend;
      }
      wr.imm = piece.imm;
      wr.num_sge = static_cast<uint32_t>(batch_sges.size() - first);
      // batch_sges has room for a full batch (reserved in open()): no reallocation.
      wr.sg_list = wr.num_sge ? batch_sges.data() + first : nullptr;
      batch.push_back(wr);
    }
    size_t bad = batch.size();
    const VoidResult posted = pr.endpoint->post_send(batch, &bad);
    const size_t accepted = posted.ok() ? batch.size() : bad;
    pr.posted += static_cast<uint32_t>(accepted);
    for (size_t i = 0; i < accepted; ++i) pool.piece(pr.queue[i]).posted = true;
    pr.queue.erase(pr.queue.begin(), pr.queue.begin() + static_cast<long>(accepted));
    // A full send queue (an unordered endpoint frees its slots in posting order) is
    // back-pressure: the rest waits for the next completion.
    if (!posted.ok() && posted.error().code == ErrorCode::kResourceExhausted && pr.posted > 0) return;
    if (!posted.ok()) {
      peer.last_error = posted.error().to_string();
      rail_down(peer_index, r);
      return;
    }
  }
}

void Engine::Impl::submit_after_batch(uint32_t peer_index, uint32_t r) {
  PeerRail& pr = peers[peer_index].rails[r];
  if (pr.submit_due) return;
  pr.submit_due = true;
  submits_due.emplace_back(peer_index, r);
}

void Engine::Impl::submit_due() {
  // submit() may fail a rail and requeue its pieces elsewhere, which never adds here.
  for (size_t i = 0; i < submits_due.size(); ++i) {
    const auto [peer_index, r] = submits_due[i];
    peers[peer_index].rails[r].submit_due = false;
    submit(peer_index, r);
  }
  submits_due.clear();
}

// The rail no longer reaches the peer: what waits on it goes elsewhere; what was posted
// comes back flushed and goes elsewhere then.
void Engine::Impl::rail_down(uint32_t peer_index, uint32_t r) {
  Peer& peer = peers[peer_index];
  PeerRail& pr = peer.rails[r];
  if (!pr.up) return;
  pr.up = false;
  pr.down_why = peer.last_error;
  ++rails[r].counters.failovers;
  ++peer.counters.failovers;
  std::deque<uint32_t> queue;
  queue.swap(pr.queue);
  pr.queued_bytes = 0;
  for (uint32_t p : queue) {
    ++rails[r].counters.retries;
    ++peer.counters.retries;
    enqueue(p);
  }
  maybe_dead(peer_index);
}

// A piece that cannot be sent fails its transfer, which settles at the next progress().
void Engine::Impl::drop_piece(uint32_t p, const std::string& why) {
  const uint32_t transfer = pool.piece(p).transfer;
  release_control_slot(pool.piece(p));
  pool.free_piece(p);
  fail_transfer(transfer, make_error(ErrorCode::kUnavailable, why));
  deferred_settles.push_back(transfer);
}

void Engine::Impl::release_control_slot(const Piece& piece) {
  if (piece.kind == PieceKind::kMessage) peers[piece.peer].control.free_slots.push_back(piece.control_slot);
}

bool Engine::Impl::poll_rails() {
  bool did = false;
  Completion completions[64];
  for (uint32_t r = 0; r < rails.size(); ++r) {
    for (uint32_t c = 0; c < rails[r].cqs.size(); ++c) {
      if (rails[r].cq_broken[c]) continue;
      auto polled = rails[r].cqs[c]->poll(completions);
      if (!polled.ok()) {
        cq_overflowed(r, c, polled.error().to_string());
        did = true;
        continue;
      }
      for (size_t i = 0; i < *polled; ++i) on_completion(r, completions[i]);
      submit_due();
      did |= *polled > 0;
    }
  }
  return did;
}

// The queue lost completions, so the endpoints reporting to it can no longer be
// trusted: they go to the error state (their peers see their work fail and fail over),
// the rail goes down for their peers only, and what was posted on them, whose
// completion may be lost, is resent on the other rails at once rather than waiting
// for its deadline. Notifications that landed on them and were lost are not recovered.
void Engine::Impl::cq_overflowed(uint32_t r, uint32_t c, const std::string& why) {
  rails[r].cq_broken[c] = true;
  for (uint32_t p = 0; p < peers.size(); ++p) {
    PeerRail& pr = peers[p].rails[r];
    if (!pr.endpoint || pr.cq != c || pr.cq_entries == 0) continue;
    pr.endpoint->set_error();
    peers[p].last_error = "rail " + std::to_string(r) + ": " + why;
    rail_down(p, r);
    pr.posted = 0;
    pr.probing = false;  // its completion may be lost too
    for (uint32_t piece = 0; piece < pool.piece_slots(); ++piece) {
      Piece& lost = pool.piece(piece);
      if (!lost.live || !lost.posted || lost.peer != p || lost.rail != r) continue;
      lost.posted = false;
      ++rails[r].counters.retries;
      ++peers[p].counters.retries;
      enqueue(piece);
    }
  }
}

void Engine::Impl::on_completion(uint32_t r, const Completion& c) {
  if (c.cookie & kRecvCookie) {
    on_recv(r, c);
    return;
  }
  if (c.cookie & kProbeCookie) {
    on_probe(r, c);
    return;
  }
  const std::optional<uint32_t> found = pool.piece_of(c.cookie);
  if (!found) return;  // its peer was reset meanwhile
  const uint32_t p = *found;
  Piece& piece = pool.piece(p);
  Peer& peer = peers[piece.peer];
  PeerRail& pr = peer.rails[r];
  if (!piece.posted) return;  // resent after its queue overflowed
  piece.posted = false;
  --pr.posted;
  pr.queued_bytes -= std::min<uint64_t>(pr.queued_bytes, piece.length);
  const uint32_t transfer = piece.transfer;
  const uint32_t peer_of_piece = piece.peer;
  if (c.status == Status::kSuccess) {
    for (TransferCounters* counters : {&rails[r].counters, &peer.counters}) {
      counters->bytes += piece.length;
      ++counters->operations;
    }
    release_control_slot(piece);
    pool.free_piece(p);
    settle(transfer);  // may add pieces (and move the pool): `piece` is stale after it
    submit_after_batch(peer_of_piece, r);
    return;
  }
  if (retriable(c.status)) {
    // The rail failed under this piece; whether it landed is unknown, and resending is
    // safe: data lands on the same bytes, a notification is counted once (docs/engine.md).
    peer.last_error = std::string("rail ") + std::to_string(r) + ": " + to_string(c.status);
    rail_down(peer_of_piece, r);
    ++rails[r].counters.retries;
    ++peer.counters.retries;
    enqueue(p);
    return;
  }
  // The target refused it (wrong key, range, rights): resending cannot help.
  fail_transfer(transfer, make_error(ErrorCode::kFailedPrecondition,
                                     std::string("peer '") + peer.name + "' refused a " +
                                         (piece.kind == PieceKind::kMessage ? "message" : "write") +
                                         ": " + to_string(c.status)));
  if (pr.endpoint && pr.endpoint->state() == EndpointState::kError) rail_down(peer_of_piece, r);
  release_control_slot(piece);
  pool.free_piece(p);
  settle(transfer);
}

void Engine::Impl::on_recv(uint32_t r, const Completion& c) {
  const std::optional<uint32_t> owner = peers.owner(r, c.endpoint_id);
  if (!owner) return;
  Peer& peer = peers[*owner];
  PeerRail& pr = peer.rails[r];
  if (c.status != Status::kSuccess) {
    if (pr.endpoint && pr.endpoint->state() == EndpointState::kError) rail_down(*owner, r);
    return;  // a flushed buffer is not reposted
  }
  const uint32_t slot = static_cast<uint32_t>(c.cookie & 0xffffffff);
  if (c.has_imm) {
    ++(peer.counter.on_immediate(c.imm) ? peer.counters.notifications : peer.counters.duplicates);
  } else {
    const std::span<const uint8_t> bytes(pr.recv_memory.data() + uint64_t{slot} * config.control_bytes,
                                         std::min<uint32_t>(c.byte_len, config.control_bytes));
    peer.control.receive(bytes, [&](std::span<const uint8_t> message) {
      if (message_handler) message_handler(peer.name, message);
    });
  }
  if (pr.endpoint) post_recv(pr, slot);
}

}  // namespace ferry
