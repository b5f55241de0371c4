// Test code shared by the software providers' suites (emu/test_util.h,
// sim/test_util.h): readable gtest output for the interface's types, the byte pattern
// buffers are filled with, work-request builders that keep their scatter-gather lists
// alive, posting, and completion matchers. The helpers take each suite's own endpoint
// (`Ep`: an endpoint, its queues and where it lives) and buffer types; all they need is
// `ep->`/`ep.id()` and `buffer.addr(offset)`/`buffer.rkey()`.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "transport/provider.h"

// Readable gtest output for the interface's enums and completions (found through ADL).
namespace ferry {
inline void PrintTo(Status value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(CompletionKind value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(EndpointState value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(EndpointKind value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(const Completion& c, std::ostream* os) {
  *os << "{cookie " << c.cookie << ", " << to_string(c.status) << ", " << to_string(c.kind)
      << ", byte_len " << c.byte_len;
  if (c.has_imm) *os << ", imm " << c.imm;
  *os << ", endpoint " << c.endpoint_id << "}";
}
}  // namespace ferry

namespace ferry::provider_test {

inline constexpr uint32_t kAllAccess = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;

// ---------------------------------------------------------------------------------
// Results

inline std::string describe(const Error& error) { return error.to_string(); }

template <typename T>
::testing::AssertionResult is_ok(const Result<T>& result) {
  if (result.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << describe(result.error());
}

[[noreturn]] inline void fatal(const std::string& message) {
  // Caught by gtest and reported as a failure of the running test.
  throw std::runtime_error(message);
}

// ---------------------------------------------------------------------------------
// Patterns

// One byte of the pattern of `tag` at `offset`: a mix of both, so a byte copied from
// the wrong buffer or the wrong offset does not match (except by a 1/256 chance per
// byte, which ranges of more than a few bytes make irrelevant).
inline uint8_t pattern_byte(uint32_t tag, uint64_t offset) {
  uint64_t x = (uint64_t{tag} << 40) ^ offset ^ 0x9e3779b97f4a7c15ull;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return static_cast<uint8_t>(x);
}

// ---------------------------------------------------------------------------------
// Work requests

// A work request with its own scatter-gather list; post() points the request at it.
struct Op {
  WorkRequest wr;
  std::vector<Sge> sges;
};

inline Op make_op(Opcode opcode, uint64_t cookie, std::vector<Sge> local) {
  Op op;
  op.wr.opcode = opcode;
  op.wr.cookie = cookie;
  op.sges = std::move(local);
  return op;
}
template <typename Buffer>
Op remote_op(Opcode opcode, uint64_t cookie, std::vector<Sge> local, const Buffer& remote, size_t remote_offset) {
  Op op = make_op(opcode, cookie, std::move(local));
  op.wr.remote_addr = remote.addr(remote_offset);
  op.wr.rkey = remote.rkey();
  return op;
}
template <typename Buffer>
Op write_op(uint64_t cookie, std::vector<Sge> local, const Buffer& remote, size_t remote_offset) {
  return remote_op(Opcode::kWrite, cookie, std::move(local), remote, remote_offset);
}
template <typename Buffer>
Op write_imm_op(uint64_t cookie, std::vector<Sge> local, const Buffer& remote, size_t remote_offset, uint32_t imm) {
  Op op = remote_op(Opcode::kWriteWithImm, cookie, std::move(local), remote, remote_offset);
  op.wr.imm = imm;
  return op;
}
template <typename Buffer>
Op read_op(uint64_t cookie, std::vector<Sge> local, const Buffer& remote, size_t remote_offset) {
  return remote_op(Opcode::kRead, cookie, std::move(local), remote, remote_offset);
}
inline Op send_op(uint64_t cookie, std::vector<Sge> local) {
  return make_op(Opcode::kSend, cookie, std::move(local));
}
inline Op unsignaled(Op op) {
  op.wr.signaled = false;
  return op;
}

template <typename Ep>
VoidResult post(const Ep& ep, std::vector<Op> ops, size_t* bad_index = nullptr) {
  std::vector<WorkRequest> requests;
  for (Op& op : ops) {
    op.wr.sg_list = op.sges.empty() ? nullptr : op.sges.data();
    op.wr.num_sge = static_cast<uint32_t>(op.sges.size());
    requests.push_back(op.wr);
  }
  return ep->post_send(requests, bad_index);
}

template <typename Ep>
VoidResult post_recv(const Ep& ep, uint64_t cookie, std::vector<Sge> sges) {
  RecvRequest request;
  request.cookie = cookie;
  request.sg_list = sges.empty() ? nullptr : sges.data();
  request.num_sge = static_cast<uint32_t>(sges.size());
  return ep->post_recv(std::span<const RecvRequest>(&request, 1));
}

// ---------------------------------------------------------------------------------
// Completions

// The completion of `cookie` on `ep`, with the given kind and status.
template <typename Ep>
::testing::AssertionResult is_completion(const Completion& c, const Ep& ep, uint64_t cookie, CompletionKind kind,
                                         Status status = Status::kSuccess) {
  if (c.cookie == cookie && c.kind == kind && c.status == status && c.endpoint_id == ep.id()) {
    return ::testing::AssertionSuccess();
  }
  Completion want;
  want.cookie = cookie;
  want.kind = kind;
  want.status = status;
  want.endpoint_id = ep.id();
  return ::testing::AssertionFailure() << "expected " << ::testing::PrintToString(want) << ", got "
                                       << ::testing::PrintToString(c);
}

// Status and cookie only: the kind of an error completion is not part of the contract.
template <typename Ep>
::testing::AssertionResult has_status(const Completion& c, const Ep& ep, uint64_t cookie, Status status) {
  if (c.cookie == cookie && c.status == status && c.endpoint_id == ep.id()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected cookie " << cookie << " with " << to_string(status)
                                       << " on endpoint " << ep.id() << ", got " << ::testing::PrintToString(c);
}

inline const Completion* find_cookie(const std::vector<Completion>& cs, uint64_t cookie) {
  for (const Completion& c : cs) {
    if (c.cookie == cookie) return &c;
  }
  return nullptr;
}

inline std::vector<uint64_t> cookies_of(const std::vector<Completion>& cs) {
  std::vector<uint64_t> out;
  for (const Completion& c : cs) out.push_back(c.cookie);
  return out;
}

inline std::vector<uint64_t> sorted(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline std::vector<uint64_t> iota(uint64_t first, size_t count) {
  std::vector<uint64_t> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = first + i;
  return v;
}

}  // namespace ferry::provider_test
