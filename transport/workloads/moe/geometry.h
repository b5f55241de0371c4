// MoeGeometry: what follows from a MoeConfig and the group size — where each expert
// lives, the size of a row, and the worst cases that size memory (never wire bytes).
#pragma once

#include <algorithm>
#include <cstdint>

#include "transport/result.h"
#include "transport/workloads/moe/moe_config.h"
#include "transport/workloads/moe/wire_format.h"

namespace ferry::moe {

class MoeGeometry {
 public:
  // Refuses a config that cannot be laid out: experts not a multiple of the ranks,
  // top_k above the experts, zero sizes, a low-latency batch above 128 tokens, limits
  // of the wire format (16-bit ranks and local experts).
  static Result<MoeGeometry> make(const MoeConfig& config, uint32_t ranks);

  const MoeConfig& config() const { return config_; }
  uint32_t ranks() const { return ranks_; }
  uint32_t top_k() const { return config_.top_k; }
  uint32_t hidden() const { return config_.hidden; }
  uint32_t max_tokens() const { return config_.max_tokens; }
  uint32_t experts_per_rank() const { return config_.experts / ranks_; }
  uint32_t rank_of(uint32_t expert) const { return expert / experts_per_rank(); }
  uint32_t local_expert(uint32_t expert) const { return expert % experts_per_rank(); }

  // A dispatched row: its elements, then its scales if any.
  uint64_t token_bytes() const {
    const uint64_t scales = config_.scale_group == 0 ? 0 : config_.hidden / config_.scale_group;
    return uint64_t{config_.hidden} * config_.element_bytes + scales * sizeof(float);
  }
  uint64_t output_row_bytes() const { return uint64_t{config_.hidden} * 2; }  // bf16

  // Worst cases. A token reaches at most min(top_k, ranks) ranks and at most
  // min(top_k, experts_per_rank) experts on one rank.
  uint32_t max_ranks_per_token() const { return std::min(config_.top_k, ranks_); }
  uint32_t max_rows_per_token() const { return std::min(config_.top_k, experts_per_rank()); }
  uint64_t max_rows_from_source() const { return uint64_t{config_.max_tokens} * max_rows_per_token(); }
  uint64_t max_received_rows() const { return ranks_ * max_rows_from_source(); }
  uint64_t max_received_tokens() const { return uint64_t{ranks_} * config_.max_tokens; }

  // The symmetric receive region: one dispatch slot per source rank, then the area
  // where expert ranks write their combine messages back.
  uint64_t dispatch_slot_bytes() const;
  uint64_t dispatch_slot_offset(uint32_t source) const { return source * dispatch_slot_bytes(); }
  uint64_t combine_area_offset() const { return ranks_ * dispatch_slot_bytes(); }
  uint64_t combine_area_bytes() const;
  uint64_t region_bytes() const { return combine_area_offset() + combine_area_bytes(); }

  // The largest staging a call can need (what low-latency mode allocates at setup).
  uint64_t max_dispatch_staging_bytes() const;
  uint64_t max_combine_staging_bytes() const;

 private:
  MoeGeometry(const MoeConfig& config, uint32_t ranks) : config_(config), ranks_(ranks) {}
  MoeConfig config_;
  uint32_t ranks_;
};

}  // namespace ferry::moe
