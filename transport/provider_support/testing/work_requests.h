// What every suite that drives a provider directly writes its requests with: the byte
// pattern buffers are filled with, endpoints with their queues, work-request builders
// that keep their scatter-gather lists alive, posting, and cookie lists. Shared by emu's and sim's tests
// (provider_test_util.h) and the conformance checks, which ship without a test
// framework. The helpers take the suite's own endpoint (`ep->`) and buffer
// (`buffer.addr(offset)`, `buffer.rkey()`) types.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "transport/provider.h"

namespace ferry::provider_test {

inline constexpr uint32_t kAllAccess = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;

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

// An endpoint and its completion queues: its own (destroyed after it) unless it was
// given a shared one.
struct Ep {
  uint32_t node = 0;
  uint32_t nic = 0;
  std::unique_ptr<CompletionQueue> own_send_cq;
  std::unique_ptr<CompletionQueue> own_recv_cq;
  CompletionQueue* send_cq = nullptr;
  CompletionQueue* recv_cq = nullptr;
  std::unique_ptr<Endpoint> endpoint;

  Endpoint* operator->() const { return endpoint.get(); }
  uint32_t id() const { return endpoint->id(); }
};

struct Pair {
  Ep& a;  // the initiator in most tests
  Ep& b;  // the target
};

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

// Posts `ops` in one call; the call's result (with *bad_index) is the caller's to judge.
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

inline std::string describe(const Completion& c) {
  std::ostringstream os;
  os << "{cookie " << c.cookie << ", " << to_string(c.status) << ", " << to_string(c.kind) << ", byte_len "
     << c.byte_len;
  if (c.has_imm) os << ", imm " << c.imm;
  os << ", endpoint " << c.endpoint_id << "}";
  return os.str();
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
