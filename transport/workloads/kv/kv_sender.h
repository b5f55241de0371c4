// KvSender: the prefill side of KV-cache migration, on one prefill rank.
//
// The caller's compute hands layers over as they are ready: layer_ready(request, l)
// starts, at once, one Engine::write_paged per decode rank this prefill rank serves (one
// route each, see kv_route.h), notifying the layer's tag once the data is in place.
// finished(request) resumes when this rank's part of the request ended:
//  - completed: every layer landed at every decode rank it serves (also when a stop came
//    after the last write had started: there was nothing left to stop);
//  - stopped early, by cancel(), by a decode rank asking it to stop, or by a write that
//    failed (a decode rank lost: the engine fails its writes within its retry limits or
//    its transfer deadline). No new layer starts; the writes in flight are left to
//    settle, and only when every one of them has completed or failed does the request
//    end. Then each decode rank gets a control notification meaning "none of my writes
//    of this request can land any more" — except a decode rank one of whose writes ran
//    past its engine deadline: such a write may still have pieces on the wire, so this
//    rank cannot vouch for it and stays silent (that decode rank then keeps the blocks
//    out of reuse, see kv_receiver.h).
// docs/kv-migration.md describes the protocol as a whole.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "transport/engine/engine.h"
#include "transport/engine/task.h"
#include "transport/workloads/kv/kv_request.h"
#include "transport/workloads/kv/kv_route.h"
#include "transport/workloads/kv/kv_route_pages.h"
#include "transport/workloads/kv/paged_kv_layout.h"
#include "transport/workloads/kv/result_latch.h"

namespace ferry {

// A decode rank as a prefill rank sees it: its engine's name and its pool, imported.
struct KvDecodeRank {
  std::string peer;
  RemoteRegion region;
  uint64_t pool_offset = 0;  // where the pool starts in the region
};

struct KvSenderConfig {
  PagedKvLayout prefill;
  uint32_t rank = 0;              // this prefill rank
  const uint8_t* pool = nullptr;  // its pool (prefill.pool_bytes()), registered with the engine
  PagedKvLayout decode;
  std::vector<KvDecodeRank> decode_ranks;  // by decode rank, decode.tp of them
};

// How one prefill rank's part of a request ended. Times are the provider clock's
// (virtual time in deterministic mode).
struct KvSendReport {
  uint64_t request = 0;
  TransferResult result;   // ok: every layer landed at every decode rank served
  bool cancelled = false;  // stopped by cancel() or by a decode rank
  bool started = false;    // a layer was handed over
  uint64_t first_ready_ns = 0;   // the first layer_ready()
  uint64_t last_landed_ns = 0;   // the last write completed, its data in place
  uint64_t bytes = 0;            // KV bytes delivered
  uint32_t writes = 0;           // write_paged calls (one per layer and route)

  // From the first layer ready to the last layer landed.
  uint64_t migration_ns() const { return last_landed_ns > first_ready_ns ? last_landed_ns - first_ready_ns : 0; }
};

class KvSender {
 public:
  static Result<std::unique_ptr<KvSender>> create(Engine& engine, KvSenderConfig config);
  // Requests still running are abandoned: their callbacks find no sender and do nothing.
  ~KvSender();
  KvSender(const KvSender&) = delete;
  KvSender& operator=(const KvSender&) = delete;

  // Starts a request. The decode side must have begun it first (docs/kv-migration.md).
  // `slot`: the request's tag slot (KvTagSlots), the one its decode ranks are given.
  VoidResult begin(const KvRequest& request, KvTagSlot slot = std::nullopt);
  // Starts the writes of `layer`. Refused once the request stopped, with the reason.
  VoidResult layer_ready(uint64_t request, uint32_t layer);
  // Stops the request; finished() resumes once its writes in flight settled.
  VoidResult cancel(uint64_t request);
  // Resumes when the request ended here, and forgets it.
  Task<KvSendReport> finished(uint64_t request);

  // The decode ranks this prefill rank sends to, one route each.
  const std::vector<KvRoute>& routes() const { return routes_; }
  size_t writes_in_flight() const;

 private:
  struct Request;
  KvSender(Engine& engine, KvSenderConfig config, std::vector<KvRoute> routes);

  const std::string& peer(size_t link) const { return config_.decode_ranks[routes_[link].decode_rank].peer; }
  VoidResult listen_for_stop(const std::shared_ptr<Request>& request, size_t link);
  void on_write_done(const std::shared_ptr<Request>& request, size_t link, uint64_t bytes,
                     const TransferResult& result);
  void stop(const std::shared_ptr<Request>& request, TransferResult why, bool cancelled);
  void end_if_settled(const std::shared_ptr<Request>& request);

  Engine& engine_;
  KvSenderConfig config_;
  std::vector<KvRoute> routes_;  // this rank's, in decode-rank order: index = link
  std::map<uint64_t, std::shared_ptr<Request>> requests_;
};

}  // namespace ferry
