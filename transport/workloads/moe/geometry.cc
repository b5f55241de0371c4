#include "transport/workloads/moe/geometry.h"

#include <string>

namespace ferry::moe {

Result<MoeGeometry> MoeGeometry::make(const MoeConfig& config, uint32_t ranks) {
  auto refuse = [](const std::string& why) { return make_error(ErrorCode::kInvalidArgument, "moe config: " + why); };
  if (ranks == 0 || ranks > 65536) return refuse("a group needs 1 to 65536 ranks (notification index is 16 bits)");
  if (config.experts == 0 || config.experts % ranks != 0) {
    return refuse(std::to_string(config.experts) + " experts do not spread evenly over " + std::to_string(ranks) + " ranks");
  }
  if (config.experts / ranks > 65535) return refuse("more than 65535 experts per rank");
  if (config.top_k == 0 || config.top_k > config.experts || config.top_k > 65535) {
    return refuse("top_k " + std::to_string(config.top_k) + " is not in [1, experts]");
  }
  if (config.hidden == 0 || config.element_bytes == 0 || config.max_tokens == 0) {
    return refuse("hidden, element_bytes and max_tokens must be positive");
  }
  if (config.scale_group != 0 && config.hidden % config.scale_group != 0) {
    return refuse("scale_group " + std::to_string(config.scale_group) + " does not divide hidden " +
                  std::to_string(config.hidden));
  }
  if (uint64_t{config.max_tokens} * config.top_k > UINT32_MAX) {
    return refuse("max_tokens × top_k does not fit the 32-bit row counts");
  }
  if (config.mode == MoeMode::kLowLatency && config.max_tokens > kLowLatencyMaxTokens) {
    return refuse("low-latency mode takes at most " + std::to_string(kLowLatencyMaxTokens) +
                  " tokens per rank, not " + std::to_string(config.max_tokens));
  }
  return MoeGeometry(config, ranks);
}

uint64_t MoeGeometry::dispatch_slot_bytes() const {
  const uint64_t rows = max_rows_from_source();
  return dispatch_preamble_bytes(experts_per_rank(), config_.max_tokens, static_cast<uint32_t>(rows)) +
         config_.max_tokens * token_bytes();
}

uint64_t MoeGeometry::combine_area_bytes() const {
  // One reply per expert rank, of one row per token it received: the rows of all
  // replies together are at most one per (token, rank it reached) of this rank.
  return ranks_ * kCombinePreambleBytes +
         uint64_t{config_.max_tokens} * max_ranks_per_token() * output_row_bytes();
}

uint64_t MoeGeometry::max_dispatch_staging_bytes() const {
  // Per destination a padded preamble; over all destinations at most
  // max_tokens × max_ranks_per_token packed vectors (and token indices) and
  // max_tokens × top_k routes and their weights.
  const uint64_t spread = uint64_t{config_.max_tokens} * max_ranks_per_token();
  return ranks_ * (sizeof(DispatchHeader) + 4ull * experts_per_rank() + kRowAlignment) +
         spread * (4 + token_bytes()) + uint64_t{config_.max_tokens} * config_.top_k * (sizeof(RowRoute) + sizeof(float));
}

uint64_t MoeGeometry::max_combine_staging_bytes() const {
  // One reply per origin, of one row per token it sent here.
  return ranks_ * kCombinePreambleBytes + max_received_tokens() * output_row_bytes();
}

}  // namespace ferry::moe
