#include "transport/workloads/moe/weighted_sum.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "transport/workloads/moe/bf16.h"

namespace ferry::moe {
namespace {

// Blocks of a fixed size: a loop with a constant trip count is one the compiler
// vectorises at -O2; a row's tail shorter than a block runs the same code on fewer.
constexpr uint64_t kBlock = 256;

inline void accumulate(float* acc, const uint16_t* row, float w, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) acc[i] += w * bf16_to_float(row[i]);
}

inline void round_to_bf16(const float* acc, uint16_t* out, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) out[i] = float_to_bf16(acc[i]);
}

}  // namespace

void weighted_sum(std::span<const uint8_t* const> rows, std::span<const float> weights,
                  std::span<float> accumulator, std::span<uint16_t> out) {
  const uint64_t hidden = out.size();
  float* acc = accumulator.data();
  std::fill(acc, acc + hidden, 0.0f);
  // Rows are bytes at any address: each block is copied into an aligned array first.
  uint16_t block[kBlock];
  for (size_t j = 0; j < rows.size(); ++j) {
    if (rows[j] == nullptr) continue;
    const float w = weights[j];
    uint64_t base = 0;
    for (; base + kBlock <= hidden; base += kBlock) {
      std::memcpy(block, rows[j] + 2 * base, sizeof(block));
      accumulate(acc + base, block, w, kBlock);
    }
    std::memcpy(block, rows[j] + 2 * base, 2 * (hidden - base));
    accumulate(acc + base, block, w, hidden - base);
  }
  uint64_t base = 0;
  for (; base + kBlock <= hidden; base += kBlock) round_to_bf16(acc + base, out.data() + base, kBlock);
  round_to_bf16(acc + base, out.data() + base, hidden - base);
}

void reduced_weighted_sum(std::span<const uint8_t* const> rows, std::span<const float> weights,
                          std::span<const uint32_t> slot_ranks, std::span<uint16_t> out) {
  const uint64_t hidden = out.size();
  std::vector<float> accumulator(hidden);
  std::vector<const uint8_t*> on_rank(rows.size());
  std::vector<std::vector<uint16_t>> partials;
  // Ranks in ascending order, each once: the order the origin sums their replies in.
  std::vector<uint32_t> ranks;
  for (size_t j = 0; j < rows.size(); ++j) {
    if (rows[j] != nullptr) ranks.push_back(slot_ranks[j]);
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  for (uint32_t r : ranks) {
    for (size_t j = 0; j < rows.size(); ++j) on_rank[j] = slot_ranks[j] == r ? rows[j] : nullptr;
    partials.emplace_back(hidden);
    weighted_sum(on_rank, weights, accumulator, partials.back());
  }
  std::vector<const uint8_t*> partial_rows;
  for (const auto& p : partials) partial_rows.push_back(reinterpret_cast<const uint8_t*>(p.data()));
  const std::vector<float> ones(partial_rows.size(), 1.0f);
  weighted_sum(partial_rows, ones, accumulator, out);
}

}  // namespace ferry::moe
