#include "transport/workloads/moe/expert_batch.h"

#include <algorithm>

namespace ferry::moe {

ExpertBatch::ExpertBatch(const MoeGeometry& geometry)
    : memory_(geometry.config().memory),
      token_bytes_(geometry.token_bytes()),
      counts_(geometry.experts_per_rank(), 0),
      first_row_(geometry.experts_per_rank(), 0),
      cursor_(geometry.experts_per_rank(), 0),
      tokens_from_(geometry.ranks(), 0),
      route_start_(geometry.ranks() + 1, 0),
      top_k_(geometry.top_k()),
      max_rows_(geometry.max_received_rows()) {}

VoidResult ExpertBatch::reserve_worst_case() {
  origins_.reserve(max_rows_);
  weights_.reserve(max_rows_);
  route_rows_.reserve(max_rows_);
  route_tokens_.reserve(max_rows_);
  return reserve_rows(max_rows_);
}

VoidResult ExpertBatch::reserve_rows(uint64_t rows) {
  if (rows <= rows_capacity_) return {};
  rows = std::min(std::max(rows, rows_capacity_ + rows_capacity_ / 2), std::max(rows, max_rows_));
  rows_storage_ = MemoryBlock();
  rows_capacity_ = 0;
  // Uninitialised on purpose: the worst case is large and mostly never touched.
  auto storage = MemoryBlock::allocate(rows * token_bytes_, memory_);
  if (!storage.ok()) return storage.error();
  rows_storage_ = std::move(storage).value();
  rows_capacity_ = rows;
  return {};
}

VoidResult ExpertBatch::unpack(std::span<const DispatchView> messages, std::span<const uint8_t* const> message_bytes,
                               RowMover& mover) {
  // Counts first, so each expert's rows can be placed contiguously.
  std::fill(counts_.begin(), counts_.end(), 0);
  for (const DispatchView& m : messages) {
    for (uint32_t e = 0; e < counts_.size(); ++e) counts_[e] += m.count(e);
  }
  uint32_t next = 0;
  for (uint32_t e = 0; e < counts_.size(); ++e) {
    first_row_[e] = cursor_[e] = next;
    next += counts_[e];
  }
  rows_ = 0;
  VoidResult room = reserve_rows(std::max<uint32_t>(next, 1));
  if (!room.ok()) return room;
  rows_ = next;
  origins_.resize(rows_);
  weights_.resize(rows_);
  route_rows_.resize(rows_);
  route_tokens_.resize(rows_);

  uint32_t route = 0;
  for (uint32_t s = 0; s < messages.size(); ++s) {
    const DispatchView& m = messages[s];
    route_start_[s] = route;
    tokens_from_[s] = m.header().tokens;
    for (uint32_t i = 0; i < m.header().rows; ++i) {
      const RowRoute r = m.route(i);
      const uint32_t row = cursor_[r.local_expert]++;
      origins_[row] = TokenOrigin{s, m.token_index(r.token), r.k_slot};
      weights_[row] = m.weight(i);
      route_tokens_[route] = r.token;
      route_rows_[route++] = row;
    }
    // The source's vectors, each to the rows of its routes.
    const uint32_t start = route_start_[s];
    mover.copy(RowCopy{rows_storage_.data(), message_bytes[s] + m.preamble_bytes(),
                       std::span(route_rows_).subspan(start, route - start),
                       std::span(route_tokens_).subspan(start, route - start), route - start, token_bytes_});
  }
  route_start_[messages.size()] = route;
  return {};
}

std::span<const uint8_t> ExpertBatch::tokens(uint32_t local_expert) const {
  return {rows_storage_.data() + first_row(local_expert) * token_bytes_, count(local_expert) * token_bytes_};
}

std::span<const TokenOrigin> ExpertBatch::origins(uint32_t local_expert) const {
  return {origins_.data() + first_row(local_expert), count(local_expert)};
}

std::span<const float> ExpertBatch::weights(uint32_t local_expert) const {
  return {weights_.data() + first_row(local_expert), count(local_expert)};
}

void ExpertBatch::partial_slots(uint32_t source, std::span<int32_t> slots, std::span<float> weights) const {
  std::fill(slots.begin(), slots.end(), -1);
  std::fill(weights.begin(), weights.end(), 0.0f);
  for (uint32_t i = route_start_.at(source); i < route_start_.at(source + 1); ++i) {
    const uint32_t row = route_rows_[i];
    const uint64_t slot = uint64_t{route_tokens_[i]} * top_k_ + origins_[row].k_slot;
    slots[slot] = static_cast<int32_t>(row);
    weights[slot] = weights_[row];
  }
}

}  // namespace ferry::moe
