// libFuzzer entry point for the MoE dispatch and combine parsers, what a rank reads from
// the messages its peers wrote into its receive region (tools/fuzz.sh builds it with
// clang and runs it; moe_wire_fuzzer_test runs fixed inputs through it under Bazel's own
// toolchain).
//
// The input is an expectation and a message (moe_wire_fuzzer.h), copied to a buffer of
// exactly the message's size so that a read past the slot is caught. A parser gives a
// view or an error with a message; a view must keep every count, route, token index,
// vector and the combine reply inside what the expectation allows, and a writer given
// its fields must lay out the same bytes. A broken invariant aborts, which the fuzzer
// reports with the input that caused it.
#include "transport/workloads/moe/fuzz/moe_wire_fuzzer.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "transport/workloads/moe/wire_format.h"

namespace {

using namespace ferry::moe;

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "MoE wire parser invariant broken: %s\n", what);
  std::abort();
}

void dispatch(const uint8_t* prefix, const std::vector<uint8_t>& message) {
  DispatchExpectation expect;
  expect.sequence = fuzz::kSequence;
  expect.source = fuzz::kSource;
  expect.local_experts = 1 + prefix[1] % 8;
  expect.top_k = 1 + prefix[2] % 4;
  expect.max_tokens = 1 + prefix[3] % 32;
  expect.token_bytes = 1 + prefix[4] % 64;
  expect.output_row_bytes = 1 + prefix[5] % 32;
  expect.combine_area_bytes = prefix[6] | uint64_t{prefix[7]} << 8;
  expect.capacity = message.size();
  auto view = DispatchView::parse(message.data(), expect);
  if (!view.ok()) {
    check(!view.error().message.empty(), "an error has a message");
    return;
  }
  const DispatchHeader& h = view->header();
  check(view->preamble_bytes() <= view->bytes() && view->bytes() <= expect.capacity, "the message fits its slot");
  check(h.combine_offset <= expect.combine_area_bytes &&
            combine_message_bytes(h.tokens, expect.output_row_bytes) <= expect.combine_area_bytes - h.combine_offset,
        "the combine reply fits the combine area");
  uint64_t rows = 0;
  for (uint32_t e = 0; e < h.local_experts; ++e) rows += view->count(e);
  check(rows == h.rows, "the counts add up to the rows");
  for (uint32_t row = 0; row < h.rows; ++row) {
    const RowRoute r = view->route(row);
    check(r.token < h.tokens && r.local_expert < h.local_experts && r.k_slot < expect.top_k,
          "a route points inside the message");
  }
  for (uint32_t t = 0; t < h.tokens; ++t) check(view->token_index(t) < expect.max_tokens, "a token index in range");

  // The writer, given the parsed fields, lays out the same bytes (padding aside: the
  // parser does not read it).
  std::vector<uint8_t> again(view->bytes());
  DispatchWriter w(again.data(), h, expect.token_bytes);
  for (uint32_t e = 0; e < h.local_experts; ++e) w.count(e, view->count(e));
  for (uint32_t t = 0; t < h.tokens; ++t) {
    w.token_index(t, view->token_index(t));
    std::copy(view->vector(t), view->vector(t) + expect.token_bytes, w.vector(t));
  }
  for (uint32_t row = 0; row < h.rows; ++row) {
    w.route(row, view->route(row));
    w.weight(row, view->weight(row));
  }
  const uint64_t weights_end = sizeof(DispatchHeader) + 4ull * h.local_experts + 4ull * h.tokens + 12ull * h.rows;
  check(std::equal(again.begin(), again.begin() + static_cast<long>(weights_end), message.begin()) &&
            std::equal(again.begin() + static_cast<long>(view->preamble_bytes()), again.end(),
                       message.begin() + static_cast<long>(view->preamble_bytes())),
        "a dispatch message is written back to the bytes it came from");
}

void combine(const uint8_t* prefix, const std::vector<uint8_t>& message) {
  // The reader always holds the whole preamble of a reply before it parses it.
  if (message.size() < kCombinePreambleBytes) return;
  const uint32_t rows = prefix[6] | uint32_t{prefix[7]} << 8;
  auto first_row = parse_combine(message.data(), fuzz::kSequence, fuzz::kSource, rows);
  if (!first_row.ok()) {
    check(!first_row.error().message.empty(), "an error has a message");
    return;
  }
  check(*first_row == message.data() + kCombinePreambleBytes, "rows start after the preamble");
  std::vector<uint8_t> again(kCombinePreambleBytes);
  write_combine_header(again.data(), CombineHeader{kCombineMagic, fuzz::kSequence, fuzz::kSource, rows});
  check(std::equal(again.begin(), again.begin() + sizeof(CombineHeader), message.begin()),
        "a combine header is written back to the bytes it came from");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < fuzz::kPrefixBytes) return 0;
  // Its own allocation, so that the sanitizer sees the slot's end.
  const std::vector<uint8_t> message(data + fuzz::kPrefixBytes, data + size);
  if (data[0] % 2 == 0) {
    dispatch(data, message);
  } else {
    combine(data, message);
  }
  return 0;
}
