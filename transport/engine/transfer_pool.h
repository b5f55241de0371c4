// TransferPool: the engine's transfers, their pieces and their deadlines.
//
// A transfer is what the caller sees (one callback); a piece is one work request of it
// on one rail. Both live in pools indexed by uint32 and reused, so the hot path does
// not allocate; a generation number makes a stale index (a completion for a piece
// whose peer was reset, a deadline for a transfer long done) recognisable.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "transport/engine/engine.h"

namespace ferry::engine_internal {

enum class PieceKind : uint8_t { kData, kNotify, kMessage };

// Widest fields first, so that a piece takes 48 bytes: a paged write has one per page,
// and the pieces of a large one do not fit in the cache.
struct Piece {
  uint64_t remote_addr = 0;
  uint32_t generation = 0;
  uint32_t transfer = 0;
  uint32_t peer = 0;
  uint32_t rail = 0;
  uint32_t first_sge = 0;  // into the transfer's sges
  uint32_t num_sge = 0;
  uint32_t length = 0;
  uint32_t imm = 0;
  uint32_t control_slot = 0;
  bool live = false;
  bool posted = false;  // on `rail`'s send queue, its completion not yet seen
  bool with_imm = false;
  PieceKind kind = PieceKind::kData;
};
static_assert(sizeof(Piece) == 48);

struct Transfer {
  uint32_t generation = 0;
  bool live = false;
  bool finished = false;     // `done` ran
  uint32_t outstanding = 0;  // pieces and expectations not yet settled
  uint32_t waits = 0;        // of which expectations
  uint64_t started_ns = 0;
  bool wait_extended = false;  // its deadline moved to peer_wait_timeout_ns (liveness.cc)
  TransferDone done;
  TransferResult error;  // the first failure; success until one is recorded
  Registration* local = nullptr;
  // A gathered write's other source registrations; an sge's lkey field holds, until it is
  // posted, 0 for `local` or i for more_locals[i - 1].
  std::vector<Registration*> more_locals;
  uint32_t remote_region = 0;
  // A bit per rail its data pieces may take: every source registration and the remote
  // region are present there (a registration made while a NIC was dead lacks its rail).
  uint64_t data_rails = ~0ull;
  std::vector<Sge> sges;  // lkeys filled in per rail at posting
  std::optional<Notify> notify;
  std::vector<uint32_t> notify_peers;  // notified once the data is in place
  std::string target;                  // the (first) peer's name, for error messages
  uint32_t target_peer = UINT32_MAX;   // its index, when a piece named it
  bool several_targets = false;
  bool notifying = false;
};

class TransferPool {
 public:
  // A live transfer that must be done by `deadline_ns`.
  uint32_t new_transfer(TransferDone done, uint64_t deadline_ns);
  // A live piece of `transfer` to `peer` (named `peer_name`), counted as outstanding.
  uint32_t new_piece(PieceKind kind, uint32_t transfer, uint32_t peer, const std::string& peer_name);
  void free_piece(uint32_t index);
  // Returns the transfer's slot (and its hold on the source registration) to the pool.
  void release_transfer(uint32_t index);

  Transfer& transfer(uint32_t index) { return transfers_[index]; }
  const Transfer& transfer(uint32_t index) const { return transfers_[index]; }
  Piece& piece(uint32_t index) { return pieces_[index]; }
  size_t piece_slots() const { return pieces_.size(); }
  TransferId id(uint32_t index) const {
    return (static_cast<uint64_t>(transfers_[index].generation) << 32) | index;
  }
  // The live piece a work request cookie names, or none if it was freed meanwhile.
  std::optional<uint32_t> piece_of(uint64_t cookie) const;
  // The generation's low 30 bits: the top two bits of a cookie mark receives and probes.
  static constexpr uint32_t kCookieGeneration = (1u << 30) - 1;
  static uint64_t cookie(const Piece& piece, uint32_t index) {
    return (static_cast<uint64_t>(piece.generation & kCookieGeneration) << 32) | index;
  }

  // A later deadline for a live transfer; the earlier one, popped, is forgotten.
  void set_deadline(uint32_t index, uint64_t deadline_ns) {
    deadlines_.push(Deadline{deadline_ns, index, transfers_[index].generation});
  }
  // The next transfer whose deadline passed by `now_ns` and that has not called back.
  std::optional<uint32_t> next_expired(uint64_t now_ns);
  size_t live() const { return live_; }

 private:
  struct Deadline {
    uint64_t time_ns;
    uint32_t transfer;
    uint32_t generation;
    bool operator>(const Deadline& o) const { return time_ns > o.time_ns; }
  };

  std::vector<Transfer> transfers_;
  std::vector<uint32_t> free_transfers_;
  std::vector<Piece> pieces_;
  std::vector<uint32_t> free_pieces_;
  size_t live_ = 0;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
};

}  // namespace ferry::engine_internal
