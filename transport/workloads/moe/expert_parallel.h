// ExpertParallel: MoE dispatch and combine over the ranks of a Group, calling only the
// engine. docs/moe.md describes the wire format, the modes, tags and faults.
//
//   auto ep = ExpertParallel::create(group, config, region);  // region: region_bytes()
//   co_await (*ep)->dispatch(topk_idx, topk_weights, hidden);  // every rank, same order
//   const ExpertBatch& in = (*ep)->received();  // per local expert: rows, origins, weights
//   ... experts compute [in.rows(), hidden] bf16 outputs, in the same row order ...
//   co_await (*ep)->combine(outputs, combined);
//
// Dispatch sends each token's hidden vector once to every rank that holds at least one
// of its experts: per destination one message (header + packed vectors), one write,
// one notification, into the source's slot of the destination's receive region; a rank
// with nothing for a destination still sends the header, so every receiver waits for
// exactly one notification per source; the routes carry their topk_weights. Combine
// reduces on the expert rank first: per token it received, the weighted sum of its local
// experts' outputs, one bf16 row back to the token's origin, which sums the rows of the
// ranks in ascending rank order (weighted_sum.h). So combine sends back the rows that
// dispatch brought, one per (token, rank), never one per (token, expert).
//
// Calls alternate (dispatch, combine, dispatch, ...) in the same order on every rank;
// each takes one tag of TagSpace::kMoe from the group. Inputs must stay valid until the
// call's task is done, and a started task must run to its end (every wait has the
// engine's deadline). After any failure the object refuses further calls: the ranks no
// longer agree on where the exchange stands, so the group must be rebuilt.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transport/engine/task.h"
#include "transport/workloads/group.h"
#include "transport/workloads/moe/expert_batch.h"
#include "transport/workloads/moe/geometry.h"
#include "transport/workloads/moe/registered_buffer.h"
#include "transport/workloads/moe/routing_plan.h"
#include "transport/workloads/moe/row_mover.h"
#include "transport/workloads/moe/wire_format.h"

namespace ferry::moe {

// What one call put on the wire, as this rank saw it. For bf16 dispatch the group's
// combine bytes never exceed its dispatch bytes, but one rank's can: combine answers the
// tokens a rank received, dispatch counts those it sent.
struct MoeCallStats {
  uint64_t start_ns = 0;  // engine clock: virtual in emu's deterministic mode
  uint64_t end_ns = 0;
  uint32_t messages = 0;       // writes to other ranks
  uint64_t payload_bytes = 0;  // hidden vectors (dispatch) or partial sums (combine) sent
  uint64_t wire_bytes = 0;     // the same with their headers: what the engine moved
};

// Memory held by one rank (low-latency mode: all of it from setup on).
struct MoeMemory {
  uint64_t region_bytes = 0;            // the symmetric receive region (the caller's)
  uint64_t dispatch_staging_bytes = 0;  // registered: outgoing dispatch messages
  uint64_t combine_staging_bytes = 0;   // registered: outgoing combine messages
  uint64_t expert_rows_bytes = 0;       // the dispatch output, plain memory
  bool operator==(const MoeMemory&) const = default;
};

class ExpertParallel {
 public:
  // Checks the config and the region (region_bytes() on every rank, every peer's
  // imported; GPU memory when config.memory is kDevice, which needs a GPU: without one,
  // an error says why); in low-latency mode allocates and registers everything.
  static Result<std::unique_ptr<ExpertParallel>> create(Group& group, const MoeConfig& config,
                                                        const SymmetricRegion& region);
  // The receive region each rank must provide for `config` over `ranks` ranks.
  static Result<uint64_t> region_bytes(const MoeConfig& config, uint32_t ranks);

  // topk_idx [tokens, top_k] (-1: no expert), topk_weights [tokens, top_k] (travel with
  // the routes: combine's weights), hidden [tokens, hidden × element_bytes].
  // With config.memory kDevice, hidden, the rows received(), expert_outputs and combined
  // are GPU memory; topk_idx and topk_weights are host memory in both modes.
  Task<VoidResult> dispatch(std::span<const int32_t> topk_idx, std::span<const float> topk_weights,
                            std::span<const uint8_t> hidden);
  Task<VoidResult> dispatch(std::span<const int32_t> topk_idx, std::span<const float> topk_weights,
                            std::span<const uint16_t> hidden_bf16);
  // What this rank's experts received; valid from a dispatch until the next one.
  const ExpertBatch& received() const { return batch_; }

  // expert_outputs [received().rows(), hidden] bf16 in received()'s row order;
  // combined [tokens, hidden] for the tokens of the last dispatch, weighted by the
  // topk_weights it sent. A token with no expert combines to zeros.
  Task<VoidResult> combine(std::span<const uint16_t> expert_outputs, std::span<uint16_t> combined);

  const MoeGeometry& geometry() const { return geometry_; }
  const MoeCallStats& last_dispatch() const { return dispatch_stats_; }
  const MoeCallStats& last_combine() const { return combine_stats_; }
  MoeMemory memory() const;

 private:
  enum class Phase { kReady, kDispatching, kDispatched, kCombining, kFailed };

  ExpertParallel(Group& group, const MoeGeometry& geometry, const SymmetricRegion& region,
                 std::unique_ptr<RowMover> mover);
  VoidResult reserve_worst_case();
  VoidResult begin(Phase expected, Phase next, const char* call);
  // Marks the exchange broken and names the call and rank in the error.
  Error fail(const char* call, const Error& error);

  VoidResult stage_dispatch(std::span<const int32_t> topk_idx, std::span<const float> topk_weights,
                            std::span<const uint8_t> hidden);
  // The preamble of a dispatch message, readable on the host; its header gives its size.
  Result<const uint8_t*> read_preamble(const uint8_t* message, uint64_t capacity);
  VoidResult unpack_dispatch();
  VoidResult stage_combine(std::span<const uint16_t> expert_outputs);
  VoidResult reduce_combine(std::span<uint16_t> combined);
  // Sends staged message m[r] to every other rank r at offset[r] of its region and
  // waits for one notification from each.
  Task<TransferResult> exchange(uint16_t tag, const RegisteredBuffer& staging, std::span<const uint64_t> staged_at,
                                std::span<const uint64_t> bytes, std::span<const uint64_t> lands_at);
  uint64_t now() const { return group_->engine().clock().now_ns(); }

  Group* group_;
  MoeGeometry geometry_;
  SymmetricRegion region_;
  std::unique_ptr<RowMover> mover_;  // host or GPU memory
  Phase phase_ = Phase::kReady;
  uint32_t sequence_ = 0;  // calls of this exchange: a dispatch and its combine share one

  RoutingPlan plan_;                 // this rank's tokens, kept from dispatch to combine
  ExpertBatch batch_;                // what this rank's experts received
  RegisteredBuffer dispatch_staging_;
  RegisteredBuffer combine_staging_;
  // Per rank r, all sized at construction:
  std::vector<uint64_t> dispatch_at_;     // our message to r in dispatch staging
  std::vector<uint64_t> dispatch_bytes_;
  std::vector<uint64_t> dispatch_lands_;  // where it lands in r's region
  std::vector<uint64_t> reply_from_;      // where r's combine reply lands in our combine area
  std::vector<uint64_t> reply_to_;        // where our reply lands in r's region (r told us)
  std::vector<uint64_t> combine_at_;      // our reply to r in combine staging
  std::vector<uint64_t> combine_bytes_;
  std::vector<DispatchView> views_;        // the checked message from each source
  std::vector<const uint8_t*> messages_;  // ... and where its bytes are
  std::vector<RowRun> runs_;              // the rows of each rank's combine reply
  // Combine's tables (RowMover::weighted_combine): on the expert rank, one origin's
  // [tokens, top_k] expert rows and weights; on the origin, [tokens, ranks] reply rows
  // and unit weights.
  std::vector<int32_t> slots_;
  std::vector<float> weights_;
  MoeCallStats dispatch_stats_;
  MoeCallStats combine_stats_;
};

}  // namespace ferry::moe
