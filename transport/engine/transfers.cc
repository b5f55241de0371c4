// Transfers: building each kind from the caller's request, settling them as their
// pieces and expectations complete, deadlines, and expectations (transfers that wait for
// notifications from a peer). docs/engine.md, "Transfers".
#include <algorithm>

#include "transport/engine/control_channel.h"
#include "transport/engine/engine_impl.h"

namespace ferry {

using engine_internal::kMessageHeader;

// ---- building ----

Result<Registration*> Engine::Impl::local_registration(const void* src, uint64_t bytes) {
  Registration* reg = registry->find(reinterpret_cast<uint64_t>(src), bytes);
  if (reg == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      "source range of " + std::to_string(bytes) +
                          " bytes is not inside registered memory (register_memory first)");
  }
  return reg;
}

Result<const RegionDescriptor*> Engine::Impl::remote_target(uint32_t peer, RemoteRegion region, uint64_t offset,
                                                            uint64_t bytes) {
  if (region.id == 0 || region.id > remote_regions.size() || remote_regions[region.id - 1].first != peer) {
    return make_error(ErrorCode::kInvalidArgument, "remote region " + std::to_string(region.id) +
                                                       " was not imported from peer '" + peers[peer].name + "'");
  }
  const RegionDescriptor& d = remote_regions[region.id - 1].second;
  if (offset > d.length || bytes > d.length - offset) {
    return make_error(ErrorCode::kOutOfRange, "target range [" + std::to_string(offset) + ", +" +
                                                  std::to_string(bytes) + ") is outside the peer's region of " +
                                                  std::to_string(d.length) + " bytes");
  }
  return &d;
}

// A transfer reading local memory from `local` (held until its last piece settled).
uint32_t Engine::Impl::start_transfer(Registration* local, TransferDone done, std::optional<Notify> notify) {
  const uint32_t t = pool.new_transfer(std::move(done), now() + config.transfer_timeout_ns);
  Transfer& transfer = pool.transfer(t);
  transfer.started_ns = now();
  transfer.local = local;
  if (local != nullptr) ++local->in_flight;
  transfer.notify = notify;
  return t;
}

// Splits [src, src+bytes) -> (remote addr) into pieces of the transfer being built.
void Engine::Impl::add_data_pieces(uint32_t transfer, uint32_t peer, uint64_t src, uint64_t bytes,
                                   uint64_t remote_addr) {
  Transfer& t = pool.transfer(transfer);
  const uint64_t piece_bytes = piece_limit(peer, bytes);
  uint64_t off = 0;
  do {
    const uint64_t n = std::min(piece_bytes, bytes - off);
    const uint32_t p = pool.new_piece(PieceKind::kData, transfer, peer, peers[peer].name);
    Piece& piece = pool.piece(p);
    piece.first_sge = static_cast<uint32_t>(t.sges.size());
    piece.num_sge = 1;
    piece.remote_addr = remote_addr + off;
    piece.length = static_cast<uint32_t>(n);
    t.sges.push_back(Sge{src + off, static_cast<uint32_t>(n), 0});
    pending_pieces.push_back(p);
    off += n;
  } while (off < bytes);
}

uint32_t Engine::Impl::new_notify_piece(uint32_t transfer, uint32_t peer, uint32_t imm) {
  const uint32_t p = pool.new_piece(PieceKind::kNotify, transfer, peer, peers[peer].name);
  pool.piece(p).with_imm = true;
  pool.piece(p).imm = imm;
  return p;
}

// Queues every piece of the transfer being built; with a notification and a single
// data piece the notification rides on that piece as its immediate.
TransferId Engine::Impl::launch(uint32_t transfer) {
  Transfer& t = pool.transfer(transfer);
  if (t.local != nullptr) {  // it moves data: only rails both ends are registered on
    t.data_rails = t.local->present_rails() & remote_regions[t.remote_region].second.present_rails();
    for (const Registration* more : t.more_locals) t.data_rails &= more->present_rails();
  }
  if (t.notify && t.notify_peers.size() == 1 && pending_pieces.size() == 1) {
    Piece& only = pool.piece(pending_pieces.front());
    only.with_imm = true;
    only.imm = Immediate::encode(t.notify->tag, t.notify->index);
    t.notify_peers.clear();
  }
  const TransferId id = pool.id(transfer);
  std::vector<uint32_t> queue;
  queue.swap(pending_pieces);
  for (uint32_t p : queue) enqueue(p);
  if (pool.transfer(transfer).outstanding == 0) deferred_settles.push_back(transfer);  // nothing to move
  return id;
}

Result<TransferId> Engine::Impl::write(const std::string& peer, const void* src, uint64_t bytes, RemoteRegion dst,
                                       uint64_t dst_offset, std::optional<Notify> notify, TransferDone done) {
  auto p = find_peer(peer);
  if (!p.ok()) return p.error();
  if (bytes == 0) return make_error(ErrorCode::kInvalidArgument, "a write of 0 bytes (use notify)");
  auto local = local_registration(src, bytes);
  if (!local.ok()) return local.error();
  auto target = remote_target(*p, dst, dst_offset, bytes);
  if (!target.ok()) return target.error();

  const uint32_t t = start_transfer(*local, std::move(done), notify);
  pool.transfer(t).remote_region = dst.id - 1;
  if (notify) pool.transfer(t).notify_peers.push_back(*p);
  add_data_pieces(t, *p, reinterpret_cast<uint64_t>(src), bytes, (*target)->addr + dst_offset);
  return launch(t);
}

Result<TransferId> Engine::Impl::write_gather(const std::string& peer, std::span<const WriteSource> sources,
                                              RemoteRegion dst, uint64_t dst_offset, std::optional<Notify> notify,
                                              TransferDone done) {
  auto p = find_peer(peer);
  if (!p.ok()) return p.error();
  if (sources.empty() || sources.size() > rails.max_sge()) {
    return make_error(ErrorCode::kInvalidArgument, "a gathered write of " + std::to_string(sources.size()) +
                                                       " sources, expected 1 to " + std::to_string(rails.max_sge()));
  }
  std::vector<Registration*> locals;
  uint64_t total = 0;
  for (const WriteSource& source : sources) {
    if (source.bytes == 0) return make_error(ErrorCode::kInvalidArgument, "a gathered source of 0 bytes");
    auto local = local_registration(source.src, source.bytes);
    if (!local.ok()) return local.error();
    locals.push_back(*local);
    total += source.bytes;
  }
  auto target = remote_target(*p, dst, dst_offset, total);
  if (!target.ok()) return target.error();

  const uint32_t t = start_transfer(locals[0], std::move(done), notify);
  Transfer& transfer = pool.transfer(t);
  for (size_t i = 1; i < locals.size(); ++i) {
    transfer.more_locals.push_back(locals[i]);
    ++locals[i]->in_flight;
  }
  transfer.remote_region = dst.id - 1;
  if (notify) transfer.notify_peers.push_back(*p);
  // Pieces as for a write of `total` bytes; a piece takes one sge per source it spans
  // (so at most sources.size() of them), each naming its source's registration.
  const uint64_t piece_bytes = piece_limit(*p, total);
  const uint64_t remote_addr = (*target)->addr + dst_offset;
  size_t source = 0;
  uint64_t in_source = 0;
  for (uint64_t off = 0; off < total;) {
    const uint64_t n = std::min(piece_bytes, total - off);
    const uint32_t index = pool.new_piece(PieceKind::kData, t, *p, peers[*p].name);
    Piece& piece = pool.piece(index);
    piece.first_sge = static_cast<uint32_t>(transfer.sges.size());
    piece.remote_addr = remote_addr + off;
    piece.length = static_cast<uint32_t>(n);
    for (uint64_t left = n; left > 0;) {
      const uint64_t take = std::min(left, sources[source].bytes - in_source);
      transfer.sges.push_back(Sge{reinterpret_cast<uint64_t>(sources[source].src) + in_source,
                                  static_cast<uint32_t>(take), static_cast<uint32_t>(source)});
      in_source += take;
      left -= take;
      if (in_source == sources[source].bytes) ++source, in_source = 0;
    }
    piece.num_sge = static_cast<uint32_t>(transfer.sges.size()) - piece.first_sge;
    pending_pieces.push_back(index);
    off += n;
  }
  return launch(t);
}

Result<TransferId> Engine::Impl::write_paged(const std::string& peer, const PagedTransfer& pages,
                                             std::optional<Notify> notify, TransferDone done) {
  auto p = find_peer(peer);
  if (!p.ok()) return p.error();
  if (pages.src_pages.empty()) return make_error(ErrorCode::kInvalidArgument, "no pages to write");
  // Bounds of both sides, from the largest page index on each.
  const uint64_t src_max = *std::max_element(pages.src_pages.begin(), pages.src_pages.end());
  const uint64_t dst_max = *std::max_element(pages.dst_pages.begin(), pages.dst_pages.end());
  auto local = local_registration(pages.src_base, src_max * pages.src_stride + pages.page_bytes);
  if (!local.ok()) return local.error();
  auto target = remote_target(*p, pages.dst, pages.dst_offset, dst_max * pages.dst_stride + pages.page_bytes);
  if (!target.ok()) return target.error();

  PagedWriteSpec spec;
  spec.src_pages = pages.src_pages;
  spec.dst_pages = pages.dst_pages;
  spec.page_bytes = pages.page_bytes;
  spec.src_base = reinterpret_cast<uint64_t>(pages.src_base);
  spec.src_stride = pages.src_stride;
  spec.dst_base = (*target)->addr + pages.dst_offset;
  spec.dst_stride = pages.dst_stride;
  // Contiguous runs merge into writes no larger than the pieces of a write of as many
  // bytes, so that a paged transfer above the threshold is striped the same way.
  // (never below one page: a page larger than piece_bytes is refused by the plan).
  const uint64_t largest = std::min(config.piece_bytes, rails.max_message());
  const uint64_t stripe = std::max(piece_limit(*p, pages.src_pages.size() * pages.page_bytes), pages.page_bytes);
  if (auto built = plan.build(spec, 0, rails.max_sge(), std::min(largest, stripe)); !built.ok()) {
    return built.error();
  }

  const uint32_t t = start_transfer(*local, std::move(done), notify);
  Transfer& transfer = pool.transfer(t);
  transfer.remote_region = pages.dst.id - 1;
  if (notify) transfer.notify_peers.push_back(*p);
  plan.take_sges(transfer.sges);  // the slot's old list becomes the plan's next one
  for (const PlannedWrite& w : plan.writes()) {
    const uint32_t piece = pool.new_piece(PieceKind::kData, t, *p, peers[*p].name);
    Piece& pc = pool.piece(piece);
    pc.first_sge = w.first_sge;
    pc.num_sge = w.num_sge;
    pc.remote_addr = w.remote_addr;
    pc.length = w.length;
    pending_pieces.push_back(piece);
  }
  return launch(t);
}

Result<TransferId> Engine::Impl::scatter(const void* src, uint64_t bytes, std::span<const ScatterTarget> targets,
                                         std::optional<Notify> notify, TransferDone done) {
  auto local = local_registration(src, bytes);
  if (!local.ok()) return local.error();
  std::vector<std::pair<uint32_t, uint64_t>> resolved;  // (peer, remote address)
  for (const ScatterTarget& target : targets) {
    auto p = find_peer(target.peer);
    if (!p.ok()) return p.error();
    auto d = remote_target(*p, target.region, target.offset, bytes);
    if (!d.ok()) return d.error();
    resolved.emplace_back(*p, (*d)->addr + target.offset);
  }
  // One child transfer per target (each has its own remote region and notification),
  // and a parent that is done when every child is.
  const uint32_t parent = start_transfer(nullptr, std::move(done), std::nullopt);
  for (size_t i = 0; i < targets.size(); ++i) {
    const uint32_t child = start_transfer(*local, nullptr, notify);
    pool.transfer(child).remote_region = targets[i].region.id - 1;
    if (notify) pool.transfer(child).notify_peers.push_back(resolved[i].first);
    ++pool.transfer(parent).outstanding;
    pool.transfer(child).done = [this, parent, generation = pool.transfer(parent).generation](
                                    const TransferResult& result) {
      Transfer& pt = pool.transfer(parent);
      if (!pt.live || pt.generation != generation) return;
      if (!result.ok()) fail_transfer(parent, result);
      settle(parent);
    };
    add_data_pieces(child, resolved[i].first, reinterpret_cast<uint64_t>(src), bytes, resolved[i].second);
    launch(child);
  }
  return pool.id(parent);
}

Result<TransferId> Engine::Impl::notify(const std::string& peer, Notify notify, TransferDone done) {
  auto p = find_peer(peer);
  if (!p.ok()) return p.error();
  const uint32_t t = start_transfer(nullptr, std::move(done), notify);
  pending_pieces.push_back(new_notify_piece(t, *p, Immediate::encode(notify.tag, notify.index)));
  return launch(t);
}

Result<TransferId> Engine::Impl::barrier(std::span<const std::string> group, uint16_t tag, TransferDone done) {
  std::vector<uint32_t> members;
  for (const std::string& member : group) {
    if (member == name) continue;  // the caller may pass the whole group, itself included
    auto p = find_peer(member);
    if (!p.ok()) return p.error();
    members.push_back(*p);
  }
  const uint32_t t = start_transfer(nullptr, std::move(done), std::nullopt);
  for (uint32_t member : members) {
    // We tell each member we arrived, and wait for each to tell us.
    pending_pieces.push_back(new_notify_piece(t, member, Immediate::encode(tag, 0)));
    add_expectation(t, member, tag, 1);
  }
  return launch(t);
}

Result<TransferId> Engine::Impl::send_message(const std::string& peer, std::span<const uint8_t> bytes,
                                              TransferDone done) {
  auto p = find_peer(peer);
  if (!p.ok()) return p.error();
  if (bytes.size() > config.control_bytes - kMessageHeader) {
    return make_error(ErrorCode::kOutOfRange, "message of " + std::to_string(bytes.size()) + " bytes; at most " +
                                                  std::to_string(config.control_bytes - kMessageHeader) + " fit");
  }
  Peer& target = peers[*p];
  if (target.state == PeerState::kIdle) start_connect(*p);
  engine_internal::ControlChannel& control = target.control;
  if (control.memory.empty() || control.free_slots.empty()) {
    return make_error(ErrorCode::kResourceExhausted,
                      control.memory.empty() ? "peer '" + peer + "' cannot be reached: " + target.last_error
                                             : std::to_string(config.control_slots) + " messages to peer '" + peer +
                                                   "' already in flight");
  }
  const uint32_t slot = control.free_slots.back();
  control.free_slots.pop_back();
  const uint32_t length = control.write(slot, config.control_bytes, bytes);

  const uint32_t t = start_transfer(nullptr, std::move(done), std::nullopt);
  const uint32_t piece = pool.new_piece(PieceKind::kMessage, t, *p, target.name);
  pool.piece(piece).control_slot = slot;
  pool.piece(piece).length = length;
  pending_pieces.push_back(piece);
  return launch(t);
}

Result<TransferId> Engine::Impl::expect(const std::string& peer, uint16_t tag, uint32_t count, TransferDone done,
                                        std::optional<uint16_t> index) {
  // A peer never seen is added (a wait may start before the peer connects); a removed
  // one stays removed: waiting for it could only end at the deadline.
  auto known = peers.entry(peer);
  if (known && peers[*known].state == PeerState::kRemoved) {
    return make_error(ErrorCode::kUnavailable, "peer '" + peer + "' was removed (add_peer to use it again)");
  }
  // A dead one keeps its entry, so that the wait fails at once saying why.
  const uint32_t peer_index = known && peers[*known].state == PeerState::kDead ? *known : add_peer(peer);
  // Probes need the connection: a wait makes it, as a write would.
  if (probing() && peers[peer_index].state == PeerState::kIdle) start_connect(peer_index);
  const uint32_t t = start_transfer(nullptr, std::move(done), std::nullopt);
  pool.transfer(t).target = peer;
  add_expectation(t, peer_index, tag, count, index);
  return launch(t);
}

void Engine::Impl::release(const std::string& peer, uint16_t tag) {
  auto index = find_peer(peer);
  if (!index.ok()) return;
  Peer& p = peers[*index];
  for (const auto& e : std::vector(p.expectations)) {
    if (e.tag != tag) continue;
    fail_transfer(e.transfer, make_error(ErrorCode::kFailedPrecondition,
                                         "tag " + std::to_string(tag) + " was released"));
    if (forget_expectation(*index, e.transfer, e.generation, tag)) deferred_settles.push_back(e.transfer);
  }
  p.counter.release(tag);
}

// ---- settling ----

// Keeps the first failure: later ones are consequences of it.
void Engine::Impl::fail_transfer(uint32_t index, TransferResult why) {
  Transfer& t = pool.transfer(index);
  if (t.error.ok()) t.error = std::move(why);
}

// A piece or expectation of the transfer settled.
void Engine::Impl::settle(uint32_t index) {
  Transfer& t = pool.transfer(index);
  --t.outstanding;
  if (t.outstanding > 0) return;
  if (t.error.ok() && !t.notifying && !t.notify_peers.empty() && !t.finished) {
    t.notifying = true;  // the data is in place: now tell the targets
    const uint32_t imm = Immediate::encode(t.notify->tag, t.notify->index);
    for (uint32_t peer : t.notify_peers) enqueue(new_notify_piece(index, peer, imm));
    return;
  }
  finish(index);
}

void Engine::Impl::finish(uint32_t index) {
  Transfer& t = pool.transfer(index);
  if (!t.finished) {
    t.finished = true;
    if (t.error.ok()) {
      ++transfers_done;
    } else {
      ++transfers_failed;
    }
    TransferDone done = std::move(t.done);
    const TransferResult result = t.error;
    if (t.outstanding == 0) pool.release_transfer(index);
    if (done) done(result);
    return;
  }
  if (t.outstanding == 0) pool.release_transfer(index);
}

void Engine::Impl::settle_deferred() {
  std::vector<uint32_t> settles;
  settles.swap(deferred_settles);
  for (uint32_t t : settles) {
    if (!pool.transfer(t).live) continue;
    if (pool.transfer(t).outstanding == 0) {
      finish(t);
    } else {
      settle(t);
    }
  }
}

void Engine::Impl::expire_deadlines() {
  while (const std::optional<uint32_t> expired = pool.next_expired(now())) {
    if (extend_wait(*expired)) continue;  // it only waits, on peers that answer probes
    const Transfer& t = pool.transfer(*expired);
    const uint64_t allowed = t.wait_extended ? config.peer_wait_timeout_ns : config.transfer_timeout_ns;
    fail_transfer(*expired, make_error(
                                ErrorCode::kDeadlineExceeded,
                                "transfer" +
                                    (t.target.empty() || t.several_targets ? "" : " to peer '" + t.target + "'") +
                                    " not done within " + std::to_string(allowed / 1000000) + " ms" +
                                    (t.wait_extended ? " (the peer answered probes)" : "")));
    cancel_expectations(*expired);
    finish(*expired);  // pieces still out settle later and free it
  }
}

// ---- expectations: transfers that wait for notifications from a peer ----

// Adds to transfer t the wait for `count` notifications with `tag` from `peer`.
void Engine::Impl::add_expectation(uint32_t t, uint32_t peer_index, uint16_t tag, uint32_t count,
                                   std::optional<uint16_t> index) {
  Peer& peer = peers[peer_index];
  if (peer.state == PeerState::kDead) {
    // Nothing of it can land any more: the wait fails at once, from progress().
    fail_transfer(t, make_error(ErrorCode::kUnavailable, peer.last_error));
    return;
  }
  const uint32_t generation = pool.transfer(t).generation;
  // Recorded first: the counter calls back at once when everything already arrived.
  ++pool.transfer(t).outstanding;
  ++pool.transfer(t).waits;
  peer.expectations.push_back({t, generation, tag, index.has_value()});
  auto arrived = [this, t, generation, peer_index, tag] {
    // Runs inside on_recv, or inside expect() when everything had already arrived:
    // the transfer settles from progress() either way.
    if (forget_expectation(peer_index, t, generation, tag)) deferred_settles.push_back(t);
  };
  const bool accepted = index ? peer.counter.expect_index(tag, *index, std::move(arrived))
                              : peer.counter.expect(tag, count, std::move(arrived));
  if (!accepted) {
    peer.expectations.pop_back();
    --pool.transfer(t).outstanding;
    --pool.transfer(t).waits;
    fail_transfer(t, make_error(ErrorCode::kInvalidArgument,
                                "tag " + std::to_string(tag) + " of peer '" + peer.name +
                                    "' already has an expectation, or count " +
                                    std::to_string(count) + " is not in [1, 65536]"));
  }
}

// Drops the record of one expectation and frees its tag (a wait on one index keeps what
// landed); false if it was not there.
bool Engine::Impl::forget_expectation(uint32_t peer_index, uint32_t t, uint32_t generation, uint16_t tag) {
  auto& list = peers[peer_index].expectations;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].transfer == t && list[i].generation == generation && list[i].tag == tag) {
      const bool keep = list[i].keep;
      list.erase(list.begin() + static_cast<long>(i));
      if (pool.transfer(t).live && pool.transfer(t).generation == generation) --pool.transfer(t).waits;
      if (keep) {
        peers[peer_index].counter.end_wait(tag);
      } else {
        peers[peer_index].counter.release(tag);
      }
      return true;
    }
  }
  return false;
}

// A transfer that gives up (deadline) stops waiting: its tags are freed and its
// expectations settle.
void Engine::Impl::cancel_expectations(uint32_t t) {
  const uint32_t generation = pool.transfer(t).generation;
  for (uint32_t p = 0; p < peers.size(); ++p) {
    std::vector<uint16_t> tags;
    for (const auto& e : peers[p].expectations) {
      if (e.transfer == t && e.generation == generation) tags.push_back(e.tag);
    }
    for (uint16_t tag : tags) {
      forget_expectation(p, t, generation, tag);
      --pool.transfer(t).outstanding;
    }
  }
}

// Every expectation on the peer fails (it was removed or reconnected).
void Engine::Impl::fail_expectations(uint32_t peer_index, const std::string& why) {
  auto list = std::move(peers[peer_index].expectations);
  peers[peer_index].expectations.clear();
  for (const auto& e : list) {
    peers[peer_index].counter.release(e.tag);
    Transfer& t = pool.transfer(e.transfer);
    if (!t.live || t.generation != e.generation) continue;
    --t.waits;
    fail_transfer(e.transfer, make_error(ErrorCode::kUnavailable, why));
    deferred_settles.push_back(e.transfer);
  }
}

}  // namespace ferry
