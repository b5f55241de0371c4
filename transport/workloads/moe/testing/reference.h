// The local reference: what dispatch and combine must produce, computed from every
// rank's inputs without the network, and the checks that compare against it. Checks
// return an empty string when everything matches, else the first difference.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "transport/workloads/moe/expert_batch.h"
#include "transport/workloads/moe/geometry.h"
#include "transport/workloads/moe/testing/routing.h"

namespace ferry::moe::testing {

// One rank's inputs to a dispatch and its combine.
struct RankInputs {
  uint32_t tokens = 0;
  std::vector<int32_t> topk;   // [tokens, top_k]
  std::vector<float> weights;  // [tokens, top_k]
  std::vector<uint8_t> hidden; // [tokens, token_bytes]
};

RankInputs make_inputs(const MoeGeometry& geometry, Routing routing, uint32_t rank, uint32_t tokens, uint64_t seed);

class Reference {
 public:
  Reference(const MoeGeometry& geometry, const std::vector<RankInputs>& inputs);

  // The rows each expert must receive, in dispatch's order: source rank, then token.
  const std::vector<TokenOrigin>& rows_of(uint32_t expert) const { return rows_.at(expert); }

  // Counts, origins and weights of every local expert of `rank`, and every row's bytes. `rows` is
  // received.all_tokens() in host memory (a copy where the rows are GPU memory).
  std::string check_dispatch(uint32_t rank, const ExpertBatch& received, std::span<const uint8_t> rows) const;
  std::string check_dispatch(uint32_t rank, const ExpertBatch& received) const {
    return check_dispatch(rank, received, received.all_tokens());
  }
  // The stand-in experts over what `rank` received: [rows, hidden] bf16.
  void run_experts(uint32_t rank, const ExpertBatch& received, std::span<const uint8_t> rows,
                   std::vector<uint16_t>* outputs) const;
  void run_experts(uint32_t rank, const ExpertBatch& received, std::vector<uint16_t>* outputs) const {
    run_experts(rank, received, received.all_tokens(), outputs);
  }
  // `rank`'s combined tokens, bit for bit: reduced_weighted_sum (weighted_sum.h) of the
  // stand-in experts applied to the rank's own tokens.
  std::string check_combine(uint32_t rank, std::span<const uint16_t> combined) const;

 private:
  MoeGeometry geometry_;
  const std::vector<RankInputs>* inputs_;
  std::vector<std::vector<TokenOrigin>> rows_;  // per global expert
};

}  // namespace ferry::moe::testing
