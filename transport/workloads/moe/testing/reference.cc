#include "transport/workloads/moe/testing/reference.h"

#include <cstring>

#include "transport/workloads/moe/testing/payload.h"
#include "transport/workloads/moe/weighted_sum.h"

namespace ferry::moe::testing {
namespace {

std::string where(uint32_t rank, uint32_t local_expert) {
  return "rank " + std::to_string(rank) + " local expert " + std::to_string(local_expert) + ": ";
}

}  // namespace

RankInputs make_inputs(const MoeGeometry& g, Routing routing, uint32_t rank, uint32_t tokens, uint64_t seed) {
  RankInputs in;
  in.tokens = tokens;
  in.topk = make_topk(g, routing, rank, tokens, seed);
  in.weights = make_weights(g, rank, tokens, seed);
  in.hidden = make_hidden(g, rank, tokens);
  return in;
}

Reference::Reference(const MoeGeometry& geometry, const std::vector<RankInputs>& inputs)
    : geometry_(geometry), inputs_(&inputs), rows_(geometry.config().experts) {
  const uint32_t k = geometry.top_k();
  for (uint32_t s = 0; s < inputs.size(); ++s) {
    for (uint32_t t = 0; t < inputs[s].tokens; ++t) {
      for (uint32_t j = 0; j < k; ++j) {
        const int32_t e = inputs[s].topk[uint64_t{t} * k + j];
        if (e >= 0) rows_[e].push_back(TokenOrigin{s, t, j});
      }
    }
  }
}

std::string Reference::check_dispatch(uint32_t rank, const ExpertBatch& received,
                                      std::span<const uint8_t> rows) const {
  const uint32_t per_rank = geometry_.experts_per_rank();
  if (received.local_experts() != per_rank) return "rank " + std::to_string(rank) + ": wrong number of experts";
  if (rows.size() != received.rows() * geometry_.token_bytes()) {
    return "rank " + std::to_string(rank) + ": " + std::to_string(rows.size()) + " bytes of rows for " +
           std::to_string(received.rows()) + " rows";
  }
  for (uint32_t l = 0; l < per_rank; ++l) {
    const std::vector<TokenOrigin>& want = rows_of(rank * per_rank + l);
    if (received.count(l) != want.size()) {
      return where(rank, l) + "received " + std::to_string(received.count(l)) + " rows, the reference routes " +
             std::to_string(want.size());
    }
    const auto origins = received.origins(l);
    const auto weights = received.weights(l);
    const auto tokens = rows.subspan(received.first_row(l) * geometry_.token_bytes());
    for (uint32_t i = 0; i < want.size(); ++i) {
      const TokenOrigin& o = origins[i];
      if (!(o == want[i])) {
        return where(rank, l) + "row " + std::to_string(i) + " claims (rank " + std::to_string(o.rank) + ", token " +
               std::to_string(o.token) + ", slot " + std::to_string(o.k_slot) + "), the reference has (rank " +
               std::to_string(want[i].rank) + ", token " + std::to_string(want[i].token) + ", slot " +
               std::to_string(want[i].k_slot) + ")";
      }
      const float weight = inputs_->at(o.rank).weights.at(uint64_t{o.token} * geometry_.top_k() + o.k_slot);
      if (std::memcmp(&weights[i], &weight, sizeof(float)) != 0) {
        return where(rank, l) + "row " + std::to_string(i) + " has weight " + std::to_string(weights[i]) +
               ", its origin gave " + std::to_string(weight);
      }
      // The origin's own bytes; the payload function then names the first bad element.
      const uint64_t size = geometry_.token_bytes();
      const uint8_t* row = tokens.data() + i * size;
      if (std::memcmp(row, inputs_->at(o.rank).hidden.data() + o.token * size, size) != 0) {
        const int64_t bad = first_mismatch(geometry_, row, o.rank, o.token);
        return where(rank, l) + "row " + std::to_string(i) + " element " + std::to_string(bad) +
               " is not token " + std::to_string(o.token) + " of rank " + std::to_string(o.rank);
      }
    }
  }
  return {};
}

void Reference::run_experts(uint32_t rank, const ExpertBatch& received, std::span<const uint8_t> rows,
                            std::vector<uint16_t>* outputs) const {
  const uint64_t hidden = geometry_.hidden();
  outputs->resize(received.rows() * hidden);
  for (uint32_t l = 0; l < received.local_experts(); ++l) {
    const uint32_t expert = rank * geometry_.experts_per_rank() + l;
    const auto tokens = rows.subspan(received.first_row(l) * geometry_.token_bytes());
    for (uint32_t i = 0; i < received.count(l); ++i) {
      expert_function(geometry_, expert, tokens.data() + i * geometry_.token_bytes(),
                      outputs->data() + (received.first_row(l) + i) * hidden);
    }
  }
}

std::string Reference::check_combine(uint32_t rank, std::span<const uint16_t> combined) const {
  const RankInputs& in = inputs_->at(rank);
  const uint32_t k = geometry_.top_k();
  const uint64_t hidden = geometry_.hidden();
  if (combined.size() != in.tokens * hidden) return "rank " + std::to_string(rank) + ": combined has the wrong size";
  // The same math without the network: each slot's expert applied to the token here.
  std::vector<std::vector<uint16_t>> expert_rows(k, std::vector<uint16_t>(hidden));
  std::vector<const uint8_t*> rows(k);
  std::vector<uint32_t> ranks(k);
  std::vector<uint16_t> want(hidden);
  for (uint32_t t = 0; t < in.tokens; ++t) {
    const uint8_t* token = in.hidden.data() + t * geometry_.token_bytes();
    for (uint32_t j = 0; j < k; ++j) {
      const int32_t e = in.topk[uint64_t{t} * k + j];
      rows[j] = nullptr;
      if (e < 0) continue;
      expert_function(geometry_, e, token, expert_rows[j].data());
      rows[j] = reinterpret_cast<const uint8_t*>(expert_rows[j].data());
      ranks[j] = geometry_.rank_of(static_cast<uint32_t>(e));
    }
    // Reduced per expert rank first, then over the ranks, as combine does.
    reduced_weighted_sum(rows, std::span(in.weights).subspan(uint64_t{t} * k, k), ranks, want);
    for (uint64_t i = 0; i < hidden; ++i) {
      if (combined[t * hidden + i] != want[i]) {
        return "rank " + std::to_string(rank) + " token " + std::to_string(t) + " element " + std::to_string(i) +
               ": combined " + std::to_string(combined[t * hidden + i]) + ", the reference " + std::to_string(want[i]);
      }
    }
  }
  return {};
}

}  // namespace ferry::moe::testing
