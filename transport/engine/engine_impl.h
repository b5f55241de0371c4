// Engine::Impl: the engine's state and the operations on it, behind the public Engine.
//
// The state is split by concept into PeerTable (peers.h), RailSet (rails.h) and
// TransferPool (transfer_pool.h); Impl ties them together. Its methods are defined in
// one file per concept:
//   engine_impl.cc  opening, progress() and stats
//   connection.cc   the handshake and the lifecycle of peers
//   scheduler.cc    pieces to rails: striping, posting, completions, failover
//   transfers.cc    building each kind of transfer; settling, deadlines, expectations
//   liveness.cc     probing peers that work depends on, declaring them dead, long waits
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "transport/engine/engine.h"
#include "transport/engine/peers.h"
#include "transport/engine/rails.h"
#include "transport/engine/transfer_pool.h"

namespace ferry {

struct Engine::Impl {
  using Peer = engine_internal::Peer;
  using PeerRail = engine_internal::PeerRail;
  using PeerState = engine_internal::PeerState;
  using Piece = engine_internal::Piece;
  using PieceKind = engine_internal::PieceKind;
  using Transfer = engine_internal::Transfer;

  Impl(const std::string& name, Provider& provider, Exchange& exchange, const EngineConfig& config,
       const MessageHandler& message_handler)
      : name(name), provider(provider), exchange(exchange), config(config), message_handler(message_handler) {}
  ~Impl();

  const std::string& name;
  Provider& provider;
  Exchange& exchange;
  const EngineConfig& config;
  const MessageHandler& message_handler;

  engine_internal::RailSet rails;
  std::unique_ptr<MemoryRegistry> registry;  // null until open
  engine_internal::PeerTable peers;
  std::vector<std::pair<uint32_t, RegionDescriptor>> remote_regions;  // (peer, descriptor)
  engine_internal::TransferPool pool;
  uint64_t incarnations = 0;
  uint64_t transfers_done = 0;
  uint64_t transfers_failed = 0;
  // Transfers to settle at the next progress(), so that `done` never runs inside the
  // call that started its transfer.
  std::vector<uint32_t> deferred_settles;
  std::vector<uint32_t> pending_pieces;  // pieces of the transfer being built
  // (peer, rail) whose send queue gained room during the batch of completions being
  // handled: each posts once after the batch, not one request per completion.
  std::vector<std::pair<uint32_t, uint32_t>> submits_due;
  PagedWritePlan plan;                   // reused by write_paged: no allocation after warm-up
  // Scratch for posting, kept to avoid allocating per batch.
  std::vector<WorkRequest> batch;
  std::vector<Sge> batch_sges;
  uint64_t next_probe_ns = 0;       // when peers are next probed
  std::vector<uint32_t> dead_due;   // peers left with no rail, declared dead at the next progress()

  static constexpr size_t kPostBatch = 64;  // work requests per post_send

  uint64_t now() const { return provider.clock().now_ns(); }

  // ---- engine_impl.cc ----
  VoidResult open();
  bool progress();
  EngineStats stats() const;

  // ---- connection.cc: handshake and peer lifecycle ----
  Result<uint32_t> find_peer(const std::string& peer) const { return peers.find(peer); }
  uint32_t add_peer(const std::string& peer) { return peers.add(peer, rails.size()); }
  bool peer_connected(const std::string& peer) const;
  // Endpoints to the peer on every rail whose NIC is live; fails if none is.
  VoidResult create_endpoints(uint32_t peer);
  VoidResult create_endpoint(uint32_t peer, uint32_t rail);
  void post_recv(PeerRail& pr, uint32_t slot);
  void start_connect(uint32_t peer);
  void send_hello(uint32_t peer);
  void on_exchange(const std::string& from, std::span<const uint8_t> bytes);
  void on_hello(const std::string& from, std::span<const uint8_t> bytes);
  void on_connected(const std::string& from, uint64_t incarnation);
  // Fails everything queued or in flight to the peer and forgets its endpoints.
  void reset_peer(uint32_t peer, const std::string& why);
  void peer_unreachable(uint32_t peer, const std::string& why);
  Result<RemoteRegion> import_region(const std::string& peer, std::span<const uint8_t> bytes);

  // ---- scheduler.cc: pieces to rails ----
  // The live rail to `peer`, among `allowed` (a bit per rail), where `bytes` would finish
  // first; -1 if none.
  int pick_rail(const Peer& peer, uint64_t bytes, uint64_t allowed) const;
  // A bit per rail the piece may take, from the registrations it reads and writes.
  uint64_t rails_for(const Piece& piece) const;
  uint64_t piece_limit(uint32_t peer, uint64_t bytes) const;
  void enqueue(uint32_t piece);
  void submit(uint32_t peer, uint32_t rail);
  void submit_after_batch(uint32_t peer, uint32_t rail);
  void submit_due();
  void rail_down(uint32_t peer, uint32_t rail);
  void drop_piece(uint32_t piece, const std::string& why);
  void release_control_slot(const Piece& piece);
  bool poll_rails();
  void cq_overflowed(uint32_t rail, uint32_t cq, const std::string& why);
  void on_completion(uint32_t rail, const Completion& c);
  void on_recv(uint32_t rail, const Completion& c);

  // ---- transfers.cc: building, settling, deadlines, expectations ----
  Result<TransferId> write(const std::string& peer, const void* src, uint64_t bytes, RemoteRegion dst,
                           uint64_t dst_offset, std::optional<Notify> notify, TransferDone done);
  Result<TransferId> write_paged(const std::string& peer, const PagedTransfer& pages,
                                 std::optional<Notify> notify, TransferDone done);
  Result<TransferId> write_gather(const std::string& peer, std::span<const WriteSource> sources,
                                  RemoteRegion dst, uint64_t dst_offset, std::optional<Notify> notify,
                                  TransferDone done);
  Result<TransferId> scatter(const void* src, uint64_t bytes, std::span<const ScatterTarget> targets,
                             std::optional<Notify> notify, TransferDone done);
  Result<TransferId> notify(const std::string& peer, Notify notify, TransferDone done);
  Result<TransferId> barrier(std::span<const std::string> group, uint16_t tag, TransferDone done);
  Result<TransferId> send_message(const std::string& peer, std::span<const uint8_t> bytes,
                                  TransferDone done);
  // With `index`, a wait on that one notification (Engine::expect_index).
  Result<TransferId> expect(const std::string& peer, uint16_t tag, uint32_t count, TransferDone done,
                            std::optional<uint16_t> index = std::nullopt);
  void release(const std::string& peer, uint16_t tag);

  Result<Registration*> local_registration(const void* src, uint64_t bytes);
  Result<const RegionDescriptor*> remote_target(uint32_t peer, RemoteRegion region, uint64_t offset,
                                                uint64_t bytes);
  uint32_t start_transfer(Registration* local, TransferDone done, std::optional<Notify> notify);
  void add_data_pieces(uint32_t transfer, uint32_t peer, uint64_t src, uint64_t bytes,
                       uint64_t remote_addr);
  uint32_t new_notify_piece(uint32_t transfer, uint32_t peer, uint32_t imm);
  TransferId launch(uint32_t transfer);
  void fail_transfer(uint32_t transfer, TransferResult why);
  void settle(uint32_t transfer);
  void finish(uint32_t transfer);
  void settle_deferred();
  void expire_deadlines();
  void add_expectation(uint32_t transfer, uint32_t peer, uint16_t tag, uint32_t count,
                       std::optional<uint16_t> index = std::nullopt);
  bool forget_expectation(uint32_t peer, uint32_t transfer, uint32_t generation, uint16_t tag);
  void cancel_expectations(uint32_t transfer);
  void fail_expectations(uint32_t peer, const std::string& why);

  // ---- liveness.cc: probes, dead peers, waits on live peers ----
  bool probing() const;
  bool has_work(const Peer& peer) const;
  bool probe_peers();
  bool post_probe(uint32_t peer, uint32_t rail);
  void on_probe(uint32_t rail, const Completion& c);
  void maybe_dead(uint32_t peer);
  bool declare_dead_due();
  bool extend_wait(uint32_t transfer);
};

}  // namespace ferry
