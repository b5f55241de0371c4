#include "transport/engine/transfer_pool.h"

namespace ferry::engine_internal {

uint32_t TransferPool::new_transfer(TransferDone done, uint64_t deadline_ns) {
  uint32_t index;
  if (!free_transfers_.empty()) {
    index = free_transfers_.back();
    free_transfers_.pop_back();
  } else {
    index = static_cast<uint32_t>(transfers_.size());
    transfers_.emplace_back();
  }
  Transfer& t = transfers_[index];
  const uint32_t generation = t.generation + 1;
  // The slot keeps its list's memory: a paged write of many pages reuses it.
  std::vector<Sge> sges = std::move(t.sges);
  sges.clear();
  t = Transfer{};
  t.sges = std::move(sges);
  t.generation = generation;
  t.live = true;
  t.done = std::move(done);
  ++live_;
  deadlines_.push(Deadline{deadline_ns, index, generation});
  return index;
}

uint32_t TransferPool::new_piece(PieceKind kind, uint32_t transfer, uint32_t peer,
                                 const std::string& peer_name) {
  uint32_t index;
  if (!free_pieces_.empty()) {
    index = free_pieces_.back();
    free_pieces_.pop_back();
  } else {
    index = static_cast<uint32_t>(pieces_.size());
    pieces_.emplace_back();
  }
  Piece& p = pieces_[index];
  const uint32_t generation = p.generation + 1;
  p = Piece{};
  p.generation = generation;
  p.live = true;
  p.kind = kind;
  p.transfer = transfer;
  p.peer = peer;
  Transfer& t = transfers_[transfer];
  ++t.outstanding;
  if (t.target.empty()) {
    t.target = peer_name;
    t.target_peer = peer;
  } else if (peer != t.target_peer && t.target != peer_name) {  // the index spares comparing names
    t.several_targets = true;
  }
  return index;
}

void TransferPool::free_piece(uint32_t index) {
  pieces_[index].live = false;
  free_pieces_.push_back(index);
}

void TransferPool::release_transfer(uint32_t index) {
  Transfer& t = transfers_[index];
  if (!t.live) return;
  if (t.local != nullptr && t.local->in_flight > 0) --t.local->in_flight;
  for (Registration* more : t.more_locals) {
    if (more->in_flight > 0) --more->in_flight;
  }
  t.more_locals.clear();
  t.live = false;
  t.done = nullptr;
  t.sges.clear();
  t.notify_peers.clear();
  --live_;
  free_transfers_.push_back(index);
}

std::optional<uint32_t> TransferPool::piece_of(uint64_t cookie) const {
  const uint32_t index = static_cast<uint32_t>(cookie);
  if (index >= pieces_.size() || !pieces_[index].live ||
      (pieces_[index].generation & kCookieGeneration) != static_cast<uint32_t>(cookie >> 32)) {
    return std::nullopt;
  }
  return index;
}

std::optional<uint32_t> TransferPool::next_expired(uint64_t now_ns) {
  while (!deadlines_.empty() && deadlines_.top().time_ns <= now_ns) {
    const Deadline d = deadlines_.top();
    deadlines_.pop();
    const Transfer& t = transfers_[d.transfer];
    if (t.live && t.generation == d.generation && !t.finished) return d.transfer;
  }
  return std::nullopt;
}

}  // namespace ferry::engine_internal
