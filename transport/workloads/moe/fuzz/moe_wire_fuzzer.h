// How the MoE wire fuzzer reads its input, shared with its test's seeds: an 8-byte prefix
// saying what the reader expects, then the message, which fills a slot exactly.
#pragma once

#include <cstdint>

namespace ferry::moe::fuzz {

inline constexpr uint64_t kPrefixBytes = 8;
// Every message is for call 5 from rank 1; a fuzzer input spells the fields below.
inline constexpr uint32_t kSequence = 5;
inline constexpr uint32_t kSource = 1;

// prefix[0] even: a dispatch message, checked against
//   local_experts = 1 + prefix[1] % 8, top_k = 1 + prefix[2] % 4,
//   max_tokens = 1 + prefix[3] % 32, token_bytes = 1 + prefix[4] % 64,
//   output_row_bytes = 1 + prefix[5] % 32,
//   combine_area_bytes = prefix[6] | prefix[7] << 8;
// prefix[0] odd: a combine message of rows = prefix[6] | prefix[7] << 8.

}  // namespace ferry::moe::fuzz
