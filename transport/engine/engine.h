// Engine: the single transport core every workload calls.
//
// One engine per node (per process on real hardware). It owns the node's rails (one per
// device), registers memory on all of them, connects to peers lazily through an
// Exchange, splits transfers into pieces over the rails, resubmits pieces of a failed
// rail on the survivors, and tells the caller when a transfer is done, exactly once,
// with a clear error when it cannot be.
//
// Nothing blocks. Work moves only inside progress(), which polls completion queues and
// the exchange, submits queued pieces and expires deadlines; callbacks run from inside
// it. So one thread can drive many engines over a virtual-time fabric, and on real
// fabrics each engine runs its own progress loop. An Engine is not thread-safe: one
// thread drives it. docs/engine.md explains the policies (striping, failover, the
// immediate encoding, deadlines, deregistration).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "transport/engine/exchange.h"
#include "transport/engine/imm_counter.h"
#include "transport/engine/memory_registry.h"
#include "transport/engine/paged_write_plan.h"
#include "transport/provider.h"
#include "transport/result.h"

namespace ferry {

struct EngineConfig {
  // Transfers larger than this are split over every live rail, in about one piece per
  // rail; smaller ones use one.
  uint64_t stripe_threshold_bytes = 256 << 10;
  // The largest piece one work request carries when a transfer is split.
  uint64_t piece_bytes = 1 << 20;
  // Every transfer fails with kDeadlineExceeded if not done by then (a wait on a peer that
  // answers probes: peer_wait_timeout_ns).
  uint64_t transfer_timeout_ns = 5'000'000'000;
  // Liveness (docs/engine.md, "Liveness"): while work depends on a peer (a wait on it,
  // pieces to it), each rail up to it is probed this often with a zero-byte write its NIC
  // answers; a peer left with no rail is declared dead and its waits and transfers fail at
  // once. 0: no probes, and waits end at transfer_timeout_ns.
  uint64_t keepalive_interval_ns = 100'000'000;
  // How long a wait (expect, expect_index, a barrier's incoming half) on a connected peer
  // that answers probes may last: its process may be slow without being dead. A wait is
  // never given less than transfer_timeout_ns.
  uint64_t peer_wait_timeout_ns = 60'000'000'000;
  uint32_t cq_depth = 8192;
  uint32_t max_send_wr = 512;  // per endpoint, capped by the device
  uint32_t recv_buffers = 64;  // per endpoint: control messages and notifications land here
  uint32_t control_bytes = 4096;  // largest control message, header included
  uint32_t control_slots = 64;    // control messages in flight per peer (at most 4096)
  // Endpoint kind; empty: RC where every rail offers it, else SRD.
  std::optional<EndpointKind> endpoint_kind;
  EndpointConfig endpoint;  // retry settings; queues and CQs are filled in by the engine
};

// A notification carried by a transfer's immediate: the target's ImmCounter for this
// peer counts distinct (tag, index) pairs, so a resend is never counted twice.
struct Notify {
  uint16_t tag = 0;
  uint16_t index = 0;
};

// How a transfer ended, handed to its callback: a VoidResult, ok() or an error() saying
// what went wrong. A default-constructed one is a success.
using TransferResult = VoidResult;

using TransferId = uint64_t;
using TransferDone = std::function<void(const TransferResult&)>;

// A region of a peer's memory, imported from its serialised RegionDescriptor.
struct RemoteRegion {
  uint32_t id = 0;
};

// Pages of a local registered buffer to pages of a peer's region.
struct PagedTransfer {
  std::span<const uint32_t> src_pages;
  std::span<const uint32_t> dst_pages;
  uint64_t page_bytes = 0;
  const void* src_base = nullptr;  // local page 0
  uint64_t src_stride = 0;
  RemoteRegion dst;
  uint64_t dst_offset = 0;  // offset of destination page 0 in the region
  uint64_t dst_stride = 0;
};

// One local range of a gathered write (Engine::write_gather).
struct WriteSource {
  const void* src = nullptr;
  uint64_t bytes = 0;
};

struct ScatterTarget {
  std::string peer;
  RemoteRegion region;
  uint64_t offset = 0;
};

struct TransferCounters {
  uint64_t bytes = 0;
  uint64_t operations = 0;  // work requests completed successfully
  uint64_t retries = 0;     // pieces resubmitted after a failure
  uint64_t failovers = 0;   // times a rail was declared down for a peer
  // Per peer only: notifications that landed from it and were counted, and copies of
  // one already counted that were dropped (resends after ambiguous failures).
  uint64_t notifications = 0;
  uint64_t duplicates = 0;
};

struct EngineStats {
  std::vector<TransferCounters> rails;              // index = rail
  std::map<std::string, TransferCounters> peers;    // by peer name
  uint64_t transfers_done = 0;
  uint64_t transfers_failed = 0;
};

class Engine {
 public:
  Engine(std::string name, Provider& provider, Exchange& exchange, EngineConfig config = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Opens every device of the provider as a rail. Must succeed before anything else.
  VoidResult open();

  const std::string& name() const { return name_; }
  size_t rail_count() const;
  const Clock& clock() const { return provider_.clock(); }

  // --- Memory -------------------------------------------------------------------
  // Registered once on every rail; a range inside an earlier registration is a lookup.
  // `kind`: host or GPU memory; unset, the CUDA runtime says which (GPU memory where it
  // knows the pointer, host memory otherwise, and always host memory without a GPU).
  Result<const Registration*> register_memory(void* addr, size_t length,
                                              uint32_t access = kAccessLocalWrite |
                                                                kAccessRemoteWrite |
                                                                kAccessRemoteRead,
                                              std::optional<MemoryKind> kind = std::nullopt);
  // Refused while transfers use the registration (see docs/engine.md).
  VoidResult deregister_memory(void* addr);
  // Parses a peer's RegionDescriptor (received out of band) for use as a target.
  Result<RemoteRegion> import_region(const std::string& peer, std::span<const uint8_t> descriptor);

  // --- Peers --------------------------------------------------------------------
  // Connection happens on first use (or when the peer connects to us).
  VoidResult add_peer(const std::string& peer);
  // Fails the peer's transfers in flight with kUnavailable; others are untouched.
  VoidResult remove_peer(const std::string& peer);
  bool peer_connected(const std::string& peer) const;

  // --- Transfers ----------------------------------------------------------------
  // Each returns at once; `done` runs exactly once from progress(). Synchronous errors
  // (unknown peer, unregistered memory, out-of-bounds target) come back as an Error and
  // `done` never runs.
  Result<TransferId> write(const std::string& peer, const void* src, uint64_t bytes,
                           RemoteRegion dst, uint64_t dst_offset, std::optional<Notify> notify,
                           TransferDone done);
  Result<TransferId> write_paged(const std::string& peer, const PagedTransfer& pages,
                                 std::optional<Notify> notify, TransferDone done);
  // One write of `sources` laid end to end at dst_offset, each source in registered memory
  // (not necessarily the same registration): a small header and a payload land together,
  // under one notification. At most the rails' max_sge sources, none empty.
  Result<TransferId> write_gather(const std::string& peer, std::span<const WriteSource> sources,
                                  RemoteRegion dst, uint64_t dst_offset, std::optional<Notify> notify,
                                  TransferDone done);
  Result<TransferId> scatter(const void* src, uint64_t bytes, std::span<const ScatterTarget> targets,
                             std::optional<Notify> notify, TransferDone done);
  Result<TransferId> notify(const std::string& peer, Notify notify, TransferDone done);
  // Done when every peer of `group` has notified us with `tag` (and we them).
  Result<TransferId> barrier(std::span<const std::string> group, uint16_t tag, TransferDone done);
  // A small two-sided message, delivered to the peer's on_message handler in the order
  // sent, exactly once, even across rails and resends.
  Result<TransferId> send_message(const std::string& peer, std::span<const uint8_t> bytes,
                                  TransferDone done);
  using MessageHandler = std::function<void(const std::string& peer, std::span<const uint8_t>)>;
  void on_message(MessageHandler handler) { message_handler_ = std::move(handler); }

  // --- Completion at the target -------------------------------------------------
  // A transfer that is done once `count` distinct notifications with `tag` came from
  // `peer`, counted from whenever they landed (before this call too). It has the
  // deadline of every transfer, or peer_wait_timeout_ns while the peer answers probes,
  // and fails if the peer is removed, reconnects or is declared dead. When it ends, the
  // tag is free again.
  Result<TransferId> expect(const std::string& peer, uint16_t tag, uint32_t count,
                            TransferDone done);
  // A transfer that is done once the notification (tag, index) came from `peer` (before
  // this call too). Unlike expect(), its end keeps the tag's record: a second copy of a
  // notification already seen (a resend after an ambiguous failure, a duplicate delivery)
  // is dropped, never counted for a later wait, until release(peer, tag). A stream of
  // messages on one tag waits for index 0, 1, 2, ... and releases the tag when done.
  Result<TransferId> expect_index(const std::string& peer, Notify notification, TransferDone done);
  // Forgets a tag of a peer so that it can be used again; an expectation on it fails.
  void release(const std::string& peer, uint16_t tag);

  // --- Driving ------------------------------------------------------------------
  // Non-blocking; returns false when there was nothing to do.
  bool progress();
  // Transfers not yet done.
  size_t transfers_in_flight() const;
  EngineStats stats() const;

 private:
  struct Impl;
  std::string name_;
  Provider& provider_;
  Exchange& exchange_;
  EngineConfig config_;
  MessageHandler message_handler_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
