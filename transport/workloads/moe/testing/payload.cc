#include "transport/workloads/moe/testing/payload.h"

#include "transport/workloads/moe/bf16.h"

namespace ferry::moe::testing {

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

namespace {

uint64_t element_hash(uint32_t rank, uint32_t token, uint64_t element) {
  return mix((uint64_t{rank} << 48) ^ (uint64_t{token} << 28) ^ element);
}

uint8_t element_byte(const MoeGeometry& g, uint32_t rank, uint32_t token, uint64_t element, uint32_t byte) {
  const uint64_t h = element_hash(rank, token, element);
  if (g.config().element_bytes == 2) {
    // sign | exponent 120..135 | 7 mantissa bits: finite, never subnormal.
    const uint16_t bits = static_cast<uint16_t>(((h >> 16) & 1) << 15 | (120 + (h >> 8) % 16) << 7 | (h & 0x7f));
    return static_cast<uint8_t>(bits >> (8 * byte));
  }
  return static_cast<uint8_t>(h >> (8 * (byte % 8)));
}

}  // namespace

void fill_token(const MoeGeometry& g, uint32_t rank, uint32_t token, uint8_t* out) {
  const uint32_t size = g.config().element_bytes;
  for (uint64_t i = 0; i < g.hidden(); ++i) {
    for (uint32_t b = 0; b < size; ++b) out[i * size + b] = element_byte(g, rank, token, i, b);
  }
}

std::vector<uint8_t> make_hidden(const MoeGeometry& g, uint32_t rank, uint32_t tokens) {
  std::vector<uint8_t> hidden(tokens * g.token_bytes());
  for (uint32_t t = 0; t < tokens; ++t) fill_token(g, rank, t, hidden.data() + t * g.token_bytes());
  return hidden;
}

int64_t first_mismatch(const MoeGeometry& g, const uint8_t* row, uint32_t rank, uint32_t token) {
  const uint32_t size = g.config().element_bytes;
  for (uint64_t i = 0; i < g.hidden(); ++i) {
    for (uint32_t b = 0; b < size; ++b) {
      if (row[i * size + b] != element_byte(g, rank, token, i, b)) return static_cast<int64_t>(i);
    }
  }
  return -1;
}

void expert_function(const MoeGeometry& g, uint32_t expert, const uint8_t* input_row, uint16_t* output_row) {
  const float scale = 0.5f + static_cast<float>(expert % 13) / 8.0f;
  const uint32_t size = g.config().element_bytes;
  for (uint64_t i = 0; i < g.hidden(); ++i) {
    float value;
    if (size == 2) {
      value = bf16_to_float(load_bf16(input_row, i));
    } else {
      uint32_t sum = 0;
      for (uint32_t b = 0; b < size; ++b) sum += input_row[i * size + b];
      value = static_cast<float>(sum) / 64.0f;
    }
    output_row[i] = float_to_bf16(value * scale);
  }
}

}  // namespace ferry::moe::testing
