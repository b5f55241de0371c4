// KvReceiver: the decode side of KV-cache migration, on one decode rank.
//
// The data arrives by one-sided writes straight into the rank's paged pool; this side
// only learns, through notifications, what has landed. For every prefill rank that sends
// to it (its sources, see kv_route.h), it follows that rank's layers in order, one
// expectation at a time on the layer's tag: a layer has landed when it landed from every
// source. Notifications are counted from whenever they landed, so following in order
// waits for nothing that already came.
//
// A request ends here when every source is settled, that is when nothing it sent for
// the request can land any more:
//  - it delivered every layer (each layer's notification follows its data), or
//  - it said on the control tag that it stopped early and that its writes settled, or
//  - the engine tore the connection to it down (peer removed, reconnected or declared
//    dead by the engine's probes).
// Only then are the request's blocks reported reusable. A source that does neither
// within an engine deadline after the request stopped is given up: the request ends
// with blocks_reusable = false, and the caller must keep those blocks out of use until it
// has removed that peer from the engine (or knows its process is gone).
//
// The request stops early on cancel(), when a source stopped early, or when a source
// sends no layer for a whole engine deadline (transfer_timeout_ns). Stopping tells every
// unsettled source to stop, on the control tag, and fails the pending layer waits.
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
#include "transport/workloads/kv/paged_kv_layout.h"
#include "transport/workloads/kv/result_latch.h"

namespace ferry {

struct KvReceiverConfig {
  PagedKvLayout prefill;
  PagedKvLayout decode;
  uint32_t rank = 0;                       // this decode rank
  std::vector<std::string> prefill_ranks;  // engine names, by prefill rank
};

// How a request ended on one decode rank. Times are the provider clock's.
struct KvReceiveReport {
  uint64_t request = 0;
  TransferResult result;         // ok: every layer landed from every source
  bool cancelled = false;        // stopped early (cancel, a source stopping, a stall)
  bool blocks_reusable = false;  // no write of the request can land any more
  bool landed = false;           // some layer landed
  uint64_t first_landed_ns = 0;  // the first layer complete here
  uint64_t last_landed_ns = 0;   // the last one
};

class KvReceiver {
 public:
  static Result<std::unique_ptr<KvReceiver>> create(Engine& engine, KvReceiverConfig config);
  // Requests still running are abandoned: their callbacks find no receiver.
  ~KvReceiver();
  KvReceiver(const KvReceiver&) = delete;
  KvReceiver& operator=(const KvReceiver&) = delete;

  // Starts following a request. Must come before any prefill rank sends it: beginning
  // forgets whatever notifications the request's tags still held from their last use.
  // `slot`: the request's tag slot (KvTagSlots), the one its prefill ranks are given.
  VoidResult begin(const KvRequest& request, KvTagSlot slot = std::nullopt);
  // Resumes once `layer` landed from every source, or with why it never will.
  Task<TransferResult> layer(uint64_t request, uint32_t layer);
  // Resumes once every layer landed, or with why the request ended early.
  Task<TransferResult> all(uint64_t request);
  // Stops the request: the sources are told, and it ends once they are settled.
  VoidResult cancel(uint64_t request);
  // Resumes when the request ended here, and forgets it.
  Task<KvReceiveReport> finished(uint64_t request);

  // The prefill ranks that send to this decode rank.
  const std::vector<KvRoute>& sources() const { return sources_; }

 private:
  struct Request;
  KvReceiver(Engine& engine, KvReceiverConfig config, std::vector<KvRoute> sources);

  const std::string& peer(size_t source) const { return config_.prefill_ranks[sources_[source].prefill_rank]; }
  std::shared_ptr<Request> find(uint64_t request) const;
  VoidResult follow_layer(const std::shared_ptr<Request>& request, size_t source);
  VoidResult listen_for_stop(const std::shared_ptr<Request>& request, size_t source);
  void on_layer(const std::shared_ptr<Request>& request, size_t source, const TransferResult& result);
  void on_stop(const std::shared_ptr<Request>& request, size_t source, const TransferResult& result);
  void stop(const std::shared_ptr<Request>& request, TransferResult why);
  void settle(const std::shared_ptr<Request>& request, size_t source, bool confirmed);
  void end_if_settled(const std::shared_ptr<Request>& request);

  Engine& engine_;
  KvReceiverConfig config_;
  std::vector<KvRoute> sources_;  // routes into this rank, one per prefill rank: index = source
  std::map<uint64_t, std::shared_ptr<Request>> requests_;
};

}  // namespace ferry
