#include "transport/workloads/moe/wire_format.h"

#include <algorithm>
#include <string>

namespace ferry::moe {
namespace {

Error malformed(const std::string& what, uint32_t source, const std::string& why) {
  return make_error(ErrorCode::kInternal,
                    what + " message from rank " + std::to_string(source) + " is malformed: " + why);
}

}  // namespace

DispatchWriter::DispatchWriter(uint8_t* out, const DispatchHeader& header, uint64_t token_bytes)
    : counts_(out + sizeof(DispatchHeader)),
      tokens_(counts_ + 4ull * header.local_experts),
      routes_(tokens_ + 4ull * header.tokens),
      weights_(routes_ + sizeof(RowRoute) * uint64_t{header.rows}),
      vectors_(out + dispatch_preamble_bytes(header.local_experts, header.tokens, header.rows)),
      token_bytes_(token_bytes) {
  std::memcpy(out, &header, sizeof(header));
  uint8_t* weights_end = weights_ + sizeof(float) * uint64_t{header.rows};
  std::fill(weights_end, vectors_, uint8_t{0});  // no stale bytes on the wire
}

void DispatchWriter::count(uint32_t local_expert, uint32_t rows) {
  std::memcpy(counts_ + 4ull * local_expert, &rows, 4);
}

void DispatchWriter::token_index(uint32_t ordinal, uint32_t token) {
  std::memcpy(tokens_ + 4ull * ordinal, &token, 4);
}

void DispatchWriter::route(uint32_t row, const RowRoute& route) {
  std::memcpy(routes_ + sizeof(RowRoute) * uint64_t{row}, &route, sizeof(RowRoute));
}

void DispatchWriter::weight(uint32_t row, float weight) {
  std::memcpy(weights_ + sizeof(float) * uint64_t{row}, &weight, sizeof(float));
}

Result<DispatchView> DispatchView::parse(const uint8_t* message, const DispatchExpectation& expect) {
  const std::string what = "dispatch";
  const uint32_t source = expect.source;
  if (expect.capacity < sizeof(DispatchHeader)) return malformed(what, source, "no room for a header");
  DispatchView view;
  std::memcpy(&view.header_, message, sizeof(DispatchHeader));
  const DispatchHeader& h = view.header_;
  if (h.magic != kDispatchMagic) return malformed(what, source, "bad magic");
  if (h.sequence != expect.sequence) {
    return malformed(what, source,
                     "it belongs to call " + std::to_string(h.sequence) + ", this is call " +
                         std::to_string(expect.sequence));
  }
  if (h.source != expect.source) return malformed(what, source, "it names rank " + std::to_string(h.source));
  if (h.local_experts != expect.local_experts) return malformed(what, source, "wrong expert count");
  const uint64_t max_rows = uint64_t{h.tokens} * std::min(expect.top_k, expect.local_experts);
  if (h.tokens > expect.max_tokens || h.rows > max_rows || h.rows < h.tokens) {
    return malformed(what, source,
                     std::to_string(h.tokens) + " tokens and " + std::to_string(h.rows) + " rows");
  }
  const uint64_t preamble = dispatch_preamble_bytes(h.local_experts, h.tokens, h.rows);
  if (preamble + h.tokens * expect.token_bytes > expect.capacity) {
    return malformed(what, source, "larger than its slot");
  }
  // Compared without the sum, which a hostile offset near 2^64 would wrap into the area.
  // The reply carries one partial sum per token sent, whatever the rows.
  const uint64_t combine_bytes = combine_message_bytes(h.tokens, expect.output_row_bytes);
  if (combine_bytes > expect.combine_area_bytes || h.combine_offset > expect.combine_area_bytes - combine_bytes) {
    return malformed(what, source, "its combine offset lies outside the combine area");
  }
  view.counts_ = message + sizeof(DispatchHeader);
  view.tokens_ = view.counts_ + 4ull * h.local_experts;
  view.routes_ = view.tokens_ + 4ull * h.tokens;
  view.weights_ = view.routes_ + sizeof(RowRoute) * uint64_t{h.rows};
  view.vectors_ = message + preamble;
  view.token_bytes_ = expect.token_bytes;

  // Every route inside the message, and in the run of the expert the counts give it.
  uint64_t counted = 0;
  for (uint32_t e = 0; e < h.local_experts; ++e) counted += view.count(e);
  if (counted != h.rows) return malformed(what, source, "the counts do not add up to the rows");
  uint32_t expert = 0;
  uint64_t run_end = h.local_experts > 0 ? view.count(0) : 0;
  for (uint32_t row = 0; row < h.rows; ++row) {
    while (row >= run_end) run_end += view.count(++expert);
    const RowRoute r = view.route(row);
    if (r.token >= h.tokens || r.k_slot >= expect.top_k) {
      return malformed(what, source, "route " + std::to_string(row) + " points outside the message");
    }
    if (r.local_expert != expert) {
      return malformed(what, source, "route " + std::to_string(row) + " disagrees with the counts");
    }
  }
  for (uint32_t t = 0; t < h.tokens; ++t) {
    if (view.token_index(t) >= expect.max_tokens) return malformed(what, source, "a token index is out of range");
  }
  return view;
}

uint64_t DispatchView::preamble_bytes() const {
  return dispatch_preamble_bytes(header_.local_experts, header_.tokens, header_.rows);
}

uint64_t DispatchView::bytes() const {
  return dispatch_message_bytes(header_.local_experts, header_.tokens, header_.rows, token_bytes_);
}

uint8_t* write_combine_header(uint8_t* out, const CombineHeader& header) {
  std::memcpy(out, &header, sizeof(header));
  std::fill(out + sizeof(header), out + kCombinePreambleBytes, uint8_t{0});
  return out + kCombinePreambleBytes;
}

Result<const uint8_t*> parse_combine(const uint8_t* message, uint32_t sequence, uint32_t source,
                                     uint32_t rows) {
  CombineHeader h;
  std::memcpy(&h, message, sizeof(h));
  if (h.magic != kCombineMagic) return malformed("combine", source, "bad magic");
  if (h.sequence != sequence) {
    return malformed("combine", source,
                     "it belongs to call " + std::to_string(h.sequence) + ", this is call " +
                         std::to_string(sequence));
  }
  if (h.source != source) return malformed("combine", source, "it names rank " + std::to_string(h.source));
  if (h.rows != rows) {
    return malformed("combine", source,
                     std::to_string(h.rows) + " rows where " + std::to_string(rows) + " tokens were sent");
  }
  return message + kCombinePreambleBytes;
}

}  // namespace ferry::moe
