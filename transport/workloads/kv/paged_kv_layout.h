// PagedKvLayout: the shape of one tensor-parallel rank's paged KV cache, and where each
// element of it lives.
//
// The memory layout is vLLM's (its FlashAttention backend: one tensor of shape
// [2, num_blocks, block_size, num_kv_heads, head_size] per layer), with the layers one
// after another in a single pool:
//
//   pool[layer][part][block][token][head][dim]     part: 0 = K, 1 = V
//
// A rank holds only its tensor-parallel share of the KV heads, so `head` runs over the
// rank's local heads and one token's row is heads_per_rank() * head_dim elements. Every
// stride is computed here from the shape; nothing else hand-writes an offset.
#pragma once

#include <cstdint>
#include <vector>

#include "transport/result.h"

namespace ferry {

enum class KvPart : uint32_t { kKey = 0, kValue = 1 };
constexpr uint32_t kKvParts = 2;

// Consecutive KV heads, by model head index.
struct HeadRange {
  uint32_t first = 0;
  uint32_t count = 0;
  uint32_t end() const { return first + count; }
  bool contains(uint32_t head) const { return head >= first && head < end(); }
};

struct PagedKvLayout {
  uint32_t layers = 0;
  uint32_t block_tokens = 0;  // tokens per block
  uint32_t kv_heads = 0;      // KV heads of the model, over all ranks
  uint32_t head_dim = 0;      // elements per head
  uint32_t dtype_bytes = 0;   // bytes per element
  uint32_t num_blocks = 0;    // blocks in one rank's pool
  uint32_t tp = 1;            // tensor-parallel ranks sharing the heads

  // Every field positive, the heads divisible over the ranks (or the ranks over the
  // heads), and every page index of the pool within 32 bits.
  VoidResult validate() const;

  // With tp <= kv_heads, rank r holds kv_heads / tp consecutive heads. With more ranks
  // than KV heads, each rank holds one head and each head sits on tp / kv_heads
  // consecutive ranks (vLLM replicates KV heads that way).
  uint32_t heads_per_rank() const { return tp <= kv_heads ? kv_heads / tp : 1; }
  uint32_t replicas() const { return tp <= kv_heads ? 1 : tp / kv_heads; }
  HeadRange heads_of(uint32_t rank) const;

  // Strides of one rank's pool, in bytes.
  uint64_t head_bytes() const { return uint64_t{head_dim} * dtype_bytes; }
  uint64_t token_bytes() const { return heads_per_rank() * head_bytes(); }
  uint64_t block_bytes() const { return block_tokens * token_bytes(); }
  uint64_t part_bytes() const { return num_blocks * block_bytes(); }  // K or V of a layer
  uint64_t layer_bytes() const { return kKvParts * part_bytes(); }
  uint64_t pool_bytes() const { return layers * layer_bytes(); }

  // Where element (layer, part, block, token, local head, dim) starts in the pool.
  uint64_t offset(uint32_t layer, KvPart part, uint32_t block, uint32_t token = 0,
                  uint32_t local_head = 0, uint32_t dim = 0) const {
    return layer * layer_bytes() + static_cast<uint32_t>(part) * part_bytes() +
           block * block_bytes() + token * token_bytes() + local_head * head_bytes() +
           uint64_t{dim} * dtype_bytes;
  }

  // Both sides of a migration must describe the same model; only the pool size and the
  // tensor-parallel degree may differ.
  bool same_model(const PagedKvLayout& other) const {
    return layers == other.layers && block_tokens == other.block_tokens &&
           kv_heads == other.kv_heads && head_dim == other.head_dim &&
           dtype_bytes == other.dtype_bytes;
  }
};

// A request's blocks in one side's pool, in sequence order: tokens
// [i * block_tokens, (i + 1) * block_tokens) of the request live in block table[i]. Every
// rank of a tensor-parallel group uses the same table (each for its own heads).
using KvBlockTable = std::vector<uint32_t>;

// Non-empty, every block inside the pool, no block twice.
VoidResult validate_block_table(const PagedKvLayout& layout, const KvBlockTable& table);

}  // namespace ferry
