// The bytes of the two messages MoE puts on the wire.
//
// Dispatch, source s to destination d, one write into s's slot of d's receive region:
//
//   DispatchHeader                       32 bytes
//   uint32 counts[local_experts]         rows for each of d's local experts
//   uint32 token_index[tokens]           s's index of each packed hidden vector
//   RowRoute routes[rows]                one per (token, local expert), grouped by local
//                                        expert, in token order within each
//   float weights[rows]                  each route's router weight (topk_weights), so
//                                        that d can reduce before it replies
//   zero padding to 64 bytes             so that hidden vectors start aligned
//   tokens × hidden vectors              each token once, however many of its experts d has
//
// Combine, expert rank d back to origin s, one write at the offset s chose in its
// dispatch header:
//
//   CombineHeader                        16 bytes, padded to 64
//   rows × bf16 partial sums             one per token s sent to d, in s's packing
//                                        order: Σ weight × output over d's experts of
//                                        the token (weighted_sum.h)
//
// Both are sized by what is routed, never by a worst case. Fields are little-endian and
// read with memcpy; a parser checks every field against what the reader expects.
#pragma once

#include <cstdint>
#include <cstring>

#include "transport/result.h"

namespace ferry::moe {

inline constexpr uint32_t kDispatchMagic = 0x444d4f46;  // "FOMD"
inline constexpr uint32_t kCombineMagic = 0x434d4f46;   // "FOMC"
inline constexpr uint64_t kRowAlignment = 64;

struct DispatchHeader {
  uint32_t magic = kDispatchMagic;
  uint32_t sequence = 0;  // the exchange's call number: both sides count their calls
  uint32_t source = 0;    // sending rank
  uint32_t tokens = 0;    // packed hidden vectors
  uint32_t rows = 0;      // routes: the sum of counts
  uint32_t local_experts = 0;
  uint64_t combine_offset = 0;  // where d writes its combine message in s's combine area
};
static_assert(sizeof(DispatchHeader) == 32);

// One expert row: which packed vector, for which of the destination's local experts,
// from which of the token's top-k slots.
struct RowRoute {
  uint32_t token = 0;  // ordinal of the packed vector in this message
  uint16_t local_expert = 0;
  uint16_t k_slot = 0;
};
static_assert(sizeof(RowRoute) == 8);

struct CombineHeader {
  uint32_t magic = kCombineMagic;
  uint32_t sequence = 0;
  uint32_t source = 0;  // the expert rank that sends it
  uint32_t rows = 0;    // the tokens the origin sent: one partial sum each
};
static_assert(sizeof(CombineHeader) == 16);

inline uint64_t align_up(uint64_t bytes, uint64_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

// Bytes before the first hidden vector of a dispatch message.
inline uint64_t dispatch_preamble_bytes(uint32_t local_experts, uint32_t tokens, uint32_t rows) {
  return align_up(sizeof(DispatchHeader) + 4ull * local_experts + 4ull * tokens +
                      (sizeof(RowRoute) + sizeof(float)) * uint64_t{rows},
                  kRowAlignment);
}
inline uint64_t dispatch_message_bytes(uint32_t local_experts, uint32_t tokens, uint32_t rows,
                                       uint64_t token_bytes) {
  return dispatch_preamble_bytes(local_experts, tokens, rows) + tokens * token_bytes;
}
inline constexpr uint64_t kCombinePreambleBytes = kRowAlignment;
inline uint64_t combine_message_bytes(uint32_t rows, uint64_t row_bytes) {
  return kCombinePreambleBytes + rows * row_bytes;
}

// Lays out a dispatch message at `out`: the header and padding at construction, then
// the counts, token indices, routes and their weights one by one; the caller copies each vector to
// vector(ordinal).
class DispatchWriter {
 public:
  DispatchWriter(uint8_t* out, const DispatchHeader& header, uint64_t token_bytes);
  void count(uint32_t local_expert, uint32_t rows);
  void token_index(uint32_t ordinal, uint32_t token);
  void route(uint32_t row, const RowRoute& route);
  void weight(uint32_t row, float weight);
  uint8_t* vector(uint32_t ordinal) const { return vectors_ + ordinal * token_bytes_; }

 private:
  uint8_t* counts_;
  uint8_t* tokens_;
  uint8_t* routes_;
  uint8_t* weights_;
  uint8_t* vectors_;
  uint64_t token_bytes_;
};

// What a receiver knows before it reads a dispatch message.
struct DispatchExpectation {
  uint32_t sequence = 0;
  uint32_t source = 0;
  uint32_t local_experts = 0;
  uint32_t top_k = 0;
  uint32_t max_tokens = 0;
  uint64_t token_bytes = 0;
  uint64_t capacity = 0;             // bytes the message may occupy
  uint64_t combine_area_bytes = 0;   // where the combine reply must fit
  uint64_t output_row_bytes = 0;
};

// A checked dispatch message, read in place.
class DispatchView {
 public:
  // Refuses a message that is not exactly what `expect` allows: wrong magic, call,
  // source or expert count, sizes past the capacity, routes that point outside the
  // message or disagree with the counts. Allocates nothing.
  static Result<DispatchView> parse(const uint8_t* message, const DispatchExpectation& expect);

  const DispatchHeader& header() const { return header_; }
  uint32_t count(uint32_t local_expert) const { return load<uint32_t>(counts_ + 4ull * local_expert); }
  uint32_t token_index(uint32_t ordinal) const { return load<uint32_t>(tokens_ + 4ull * ordinal); }
  RowRoute route(uint32_t row) const { return load<RowRoute>(routes_ + sizeof(RowRoute) * row); }
  float weight(uint32_t row) const { return load<float>(weights_ + sizeof(float) * row); }
  const uint8_t* vector(uint32_t ordinal) const { return vectors_ + ordinal * token_bytes_; }
  // Where the hidden vectors start, counted from the message's first byte: for a view
  // parsed from a host copy of the preamble while the vectors stay in GPU memory.
  uint64_t preamble_bytes() const;
  uint64_t bytes() const;

 private:
  template <typename T>
  static T load(const uint8_t* p) {
    T value;
    std::memcpy(&value, p, sizeof(T));
    return value;
  }
  DispatchHeader header_;
  const uint8_t* counts_ = nullptr;
  const uint8_t* tokens_ = nullptr;
  const uint8_t* routes_ = nullptr;
  const uint8_t* weights_ = nullptr;
  const uint8_t* vectors_ = nullptr;
  uint64_t token_bytes_ = 0;
};

// Writes a combine header (and its padding) at `out`; returns where row 0 goes.
uint8_t* write_combine_header(uint8_t* out, const CombineHeader& header);

// Checks a combine message against the tokens the origin sent to that expert rank (one
// row each); returns its first row.
Result<const uint8_t*> parse_combine(const uint8_t* message, uint32_t sequence, uint32_t source,
                                     uint32_t rows);

}  // namespace ferry::moe
