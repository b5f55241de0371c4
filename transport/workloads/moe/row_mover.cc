#include "transport/workloads/moe/row_mover.h"

#include <algorithm>
#include <cstring>

#include "transport/workloads/moe/gpu/gpu_row_mover.h"
#include "transport/workloads/moe/weighted_sum.h"

namespace ferry::moe {

Result<std::unique_ptr<RowMover>> RowMover::make(const MoeGeometry& geometry) {
  if (geometry.config().memory == MemoryKind::kHost) return std::unique_ptr<RowMover>(new HostRowMover(geometry));
  auto gpu = GpuRowMover::make(geometry);
  if (!gpu.ok()) return gpu.error();
  return std::unique_ptr<RowMover>(std::move(gpu).value());
}

HostRowMover::HostRowMover(const MoeGeometry& geometry)
    : geometry_(geometry), accumulator_(geometry.hidden()) {}

VoidResult HostRowMover::reserve_worst_case() {
  // The origin numbers one row per (token, rank); the expert outputs are one run.
  rows_.reserve(uint64_t{geometry_.max_tokens()} * geometry_.max_ranks_per_token());
  slot_rows_.reserve(std::max(geometry_.top_k(), geometry_.ranks()));
  return {};
}

void HostRowMover::copy(const RowCopy& c) {
  for (uint32_t i = 0; i < c.rows; ++i) {
    const uint64_t dst = c.dst_rows.empty() ? i : c.dst_rows[i];
    const uint64_t src = c.src_rows.empty() ? i : c.src_rows[i];
    std::memcpy(c.dst + dst * c.row_bytes, c.src + src * c.row_bytes, c.row_bytes);
  }
}

VoidResult HostRowMover::weighted_combine(std::span<const RowRun> runs, std::span<const int32_t> slots,
                                          std::span<const float> weights, uint32_t width,
                                          std::span<uint16_t> out) {
  const uint64_t row_bytes = geometry_.output_row_bytes();
  // One run (the expert outputs, once per origin) is indexed in place.
  const uint8_t* in_place = runs.size() == 1 ? runs[0].rows : nullptr;
  rows_.clear();
  if (in_place == nullptr) {
    for (const RowRun& run : runs) {
      for (uint32_t i = 0; i < run.count; ++i) rows_.push_back(run.rows + i * row_bytes);
    }
  }
  const uint64_t hidden = geometry_.hidden();
  slot_rows_.resize(width);
  for (uint64_t t = 0; t < out.size() / hidden; ++t) {
    for (uint32_t j = 0; j < width; ++j) {
      const int32_t row = slots[t * width + j];
      slot_rows_[j] = row < 0 ? nullptr : in_place != nullptr ? in_place + row * row_bytes : rows_[row];
    }
    weighted_sum(slot_rows_, weights.subspan(t * width, width), accumulator_, out.subspan(t * hidden, hidden));
  }
  return {};
}

}  // namespace ferry::moe
