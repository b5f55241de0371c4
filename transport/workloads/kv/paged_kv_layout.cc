#include "transport/workloads/kv/paged_kv_layout.h"

#include <string>

namespace ferry {

VoidResult PagedKvLayout::validate() const {
  if (layers == 0 || block_tokens == 0 || kv_heads == 0 || head_dim == 0 || dtype_bytes == 0 ||
      num_blocks == 0 || tp == 0) {
    return make_error(ErrorCode::kInvalidArgument, "every field of a PagedKvLayout must be positive");
  }
  if (tp <= kv_heads ? kv_heads % tp != 0 : tp % kv_heads != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::to_string(kv_heads) + " KV heads do not split over " + std::to_string(tp) +
                          " tensor-parallel ranks (one must divide the other)");
  }
  // Pages are addressed by 32-bit indices: at most one per token row of the pool.
  if (uint64_t{kKvParts} * num_blocks * block_tokens > UINT32_MAX) {
    return make_error(ErrorCode::kOutOfRange, "a pool of " + std::to_string(num_blocks) +
                                                  " blocks has more token rows than 32-bit page indices reach");
  }
  return {};
}

HeadRange PagedKvLayout::heads_of(uint32_t rank) const {
  if (tp <= kv_heads) return HeadRange{rank * heads_per_rank(), heads_per_rank()};
  return HeadRange{rank / replicas(), 1};
}

VoidResult validate_block_table(const PagedKvLayout& layout, const KvBlockTable& table) {
  if (table.empty()) return make_error(ErrorCode::kInvalidArgument, "a request needs at least one block");
  std::vector<bool> used(layout.num_blocks, false);
  for (uint32_t block : table) {
    if (block >= layout.num_blocks) {
      return make_error(ErrorCode::kOutOfRange, "block " + std::to_string(block) + " is outside a pool of " +
                                                    std::to_string(layout.num_blocks) + " blocks");
    }
    if (used[block]) {
      return make_error(ErrorCode::kInvalidArgument, "block " + std::to_string(block) + " appears twice");
    }
    used[block] = true;
  }
  return {};
}

}  // namespace ferry
