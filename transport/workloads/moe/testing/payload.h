// Token payloads whose every element is a function of (source rank, token index,
// element index), so that a row delivered to the wrong place, or an element moved within
// a row, fails the check; and the stand-in experts that turn a row into an output.
#pragma once

#include <cstdint>
#include <vector>

#include "transport/workloads/moe/geometry.h"

namespace ferry::moe::testing {

// splitmix64: a fixed, portable hash.
uint64_t mix(uint64_t x);

// Writes token `token` of rank `rank`: geometry.token_bytes() bytes. With 2-byte
// elements each is a finite bf16 of magnitude 2^-7..2^8 (so that combine's sums stay
// tame); otherwise bytes are hashed directly.
void fill_token(const MoeGeometry& geometry, uint32_t rank, uint32_t token, uint8_t* out);
std::vector<uint8_t> make_hidden(const MoeGeometry& geometry, uint32_t rank, uint32_t tokens);

// The first element of `row` that is not token (rank, token)'s, or -1.
int64_t first_mismatch(const MoeGeometry& geometry, const uint8_t* row, uint32_t rank, uint32_t token);

// What a test's expert computes: output element i = bf16(value_i × scale(expert)), where
// value_i is the bf16 element itself (2-byte elements) or the sum of its bytes / 64.
// Each expert scales differently, so a row returned for the wrong expert is caught.
void expert_function(const MoeGeometry& geometry, uint32_t expert, const uint8_t* input_row, uint16_t* output_row);

}  // namespace ferry::moe::testing
