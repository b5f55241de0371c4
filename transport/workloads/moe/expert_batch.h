// ExpertBatch: what one rank's experts received in one dispatch. For each local expert
// its rows packed one after another ([count, hidden], the expert's GEMM input) and the
// origin of each row; rows of one expert are ordered by source rank, then token.
// Duplicated tokens are copied here: a token travels once to a rank and becomes one row
// per local expert it chose. The rows are in the exchange's memory (MoeConfig::memory:
// host or GPU); counts, origins and weights are host memory.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "transport/result.h"
#include "transport/workloads/moe/geometry.h"
#include "transport/workloads/moe/memory_block.h"
#include "transport/workloads/moe/row_mover.h"
#include "transport/workloads/moe/wire_format.h"

namespace ferry::moe {

struct TokenOrigin {
  uint32_t rank = 0;    // where the token lives
  uint32_t token = 0;   // its index there
  uint32_t k_slot = 0;  // which of its top-k chose this expert
  bool operator==(const TokenOrigin&) const = default;
};

class ExpertBatch {
 public:
  explicit ExpertBatch(const MoeGeometry& geometry);

  // Sizes every buffer for the worst case (uninitialised: untouched pages cost nothing).
  VoidResult reserve_worst_case();

  // Unpacks every source's checked message: messages[s] from rank s, read on the host,
  // whose bytes start at message_bytes[s] in the exchange's memory. The rows move with
  // `mover`, in place once its finish() returned.
  VoidResult unpack(std::span<const DispatchView> messages, std::span<const uint8_t* const> message_bytes,
                    RowMover& mover);

  uint32_t local_experts() const { return static_cast<uint32_t>(counts_.size()); }
  uint32_t rows() const { return rows_; }
  uint32_t count(uint32_t local_expert) const { return counts_.at(local_expert); }
  uint32_t first_row(uint32_t local_expert) const { return first_row_.at(local_expert); }
  // [count, hidden × element_bytes] of one expert, or of all of them from row 0.
  std::span<const uint8_t> tokens(uint32_t local_expert) const;
  std::span<const uint8_t> all_tokens() const { return {rows_storage_.data(), rows_ * token_bytes_}; }
  std::span<const TokenOrigin> origins(uint32_t local_expert) const;
  std::span<const TokenOrigin> all_origins() const { return {origins_.data(), rows_}; }
  // The router's weight of each row (its origin's topk_weights), in the rows' order.
  std::span<const float> weights(uint32_t local_expert) const;
  std::span<const float> all_weights() const { return {weights_.data(), rows_}; }

  // The vectors source s sent, each once: combine sends one partial sum back for each.
  uint32_t tokens_from(uint32_t source) const { return tokens_from_.at(source); }
  // What those partial sums add up, as [tokens_from(source), top_k] tables: the row of
  // each k-slot of each token (-1: none of its experts here) and its weight (0 there).
  void partial_slots(uint32_t source, std::span<int32_t> slots, std::span<float> weights) const;

  uint64_t capacity_bytes() const { return rows_capacity_ * token_bytes_; }

 private:
  VoidResult reserve_rows(uint64_t rows);

  MemoryKind memory_;
  uint64_t token_bytes_;
  uint32_t rows_ = 0;
  std::vector<uint32_t> counts_;     // per local expert
  std::vector<uint32_t> first_row_;  // per local expert
  std::vector<uint32_t> cursor_;     // per local expert, while unpacking
  MemoryBlock rows_storage_;
  uint64_t rows_capacity_ = 0;
  std::vector<TokenOrigin> origins_;
  std::vector<float> weights_;          // per row
  std::vector<uint32_t> tokens_from_;  // per source
  std::vector<uint32_t> route_start_;  // per source, into route_rows_ (ranks + 1)
  std::vector<uint32_t> route_rows_;
  std::vector<uint32_t> route_tokens_;  // per route, the ordinal of its vector in its message
  uint32_t top_k_ = 0;
  uint64_t max_rows_ = 0;  // the worst case: the most rows a dispatch can bring
};

}  // namespace ferry::moe
