// Shared code of the simulation's tests.
//
//  - World: a Simulation and everything opened on it (protection domains, buffers,
//    endpoints with their own completion queues), destroyed in the order the provider
//    interface requires: endpoints, then regions, then protection domains.
//  - Buffer: a registered region with canary guards on both sides. Destinations start
//    as canary bytes; sources hold a pattern that encodes the buffer and the offset, so
//    every byte that lands can be traced to where it came from.
//  - Op builders and post helpers that keep the scatter-gather lists alive.
//  - Bounded waits in virtual time: a bug fails the test instead of hanging it.
//  - record_run_times: a test's simulated and wall-clock time, in its XML report.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sim/run_clock.h"
#include "sim/simulation.h"
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

namespace ferry::sim::test {

inline constexpr uint32_t kAllAccess = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;
// Virtual time a wait may take before it gives up.
inline constexpr uint64_t kWaitLimitNs = 10'000'000'000;

inline EndpointKind kind_of(Transport transport) {
  return transport == Transport::kRoceRc ? EndpointKind::kRc : EndpointKind::kSrd;
}
inline const char* transport_name(Transport transport) {
  return transport == Transport::kRoceRc ? "Rc" : "Srd";
}
inline std::string transport_param_name(const ::testing::TestParamInfo<Transport>& info) {
  return transport_name(info.param);
}

inline SimulationConfig sim_config(Transport transport, uint32_t hosts = 2, uint32_t seed = 1) {
  SimulationConfig config;
  config.transport = transport;
  config.hosts = hosts;
  config.seed = seed;
  return config;
}

// Endpoint settings for the tests: timers short enough that failures take little
// virtual time.
inline EndpointConfig endpoint_config(EndpointKind kind) {
  EndpointConfig config;
  config.kind = kind;
  config.retry_timeout_ns = 100'000;
  config.rnr_timer_ns = 10'000;
  return config;
}

// Records how much virtual time the run covered and the wall time it took (test XML
// properties simulated_ns, wall_s, simulated_ns_per_wall_s). Reported, never asserted.
inline void record_run_times(const RunClock& clock) {
  ::testing::Test::RecordProperty("simulated_ns", std::to_string(clock.simulated_ns()));
  ::testing::Test::RecordProperty("wall_s", std::to_string(clock.wall_s()));
  ::testing::Test::RecordProperty("simulated_ns_per_wall_s", std::to_string(clock.simulated_ns_per_wall_s()));
}

template <typename T>
::testing::AssertionResult is_ok(const Result<T>& result) {
  if (result.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << result.error().to_string();
}

[[noreturn]] inline void fatal(const std::string& message) { throw std::runtime_error(message); }

// One byte of the pattern of `tag` at `offset`: a byte copied from the wrong buffer or
// the wrong offset does not match (except by a 1/256 chance per byte).
inline uint8_t pattern_byte(uint32_t tag, uint64_t offset) {
  uint64_t x = (uint64_t{tag} << 40) ^ offset ^ 0x9e3779b97f4a7c15ull;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return static_cast<uint8_t>(x);
}

// A registered region with canary bytes before and after it.
class Buffer {
 public:
  static constexpr size_t kGuard = 64;
  static constexpr uint32_t kCanaryTag = 0xC0000u;

  Buffer(uint32_t id, size_t size) : id_(id), size_(size), storage_(size + 2 * kGuard) {
    for (size_t i = 0; i < storage_.size(); ++i) storage_[i] = canary(i);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  uint32_t id() const { return id_; }
  size_t size() const { return size_; }
  uint8_t* data() { return storage_.data() + kGuard; }
  const uint8_t* data() const { return storage_.data() + kGuard; }
  uint64_t addr(size_t offset = 0) const { return reinterpret_cast<uint64_t>(data() + offset); }
  // Keys survive deregistration so that tests can try them afterwards.
  uint32_t lkey() const { return lkey_; }
  uint32_t rkey() const { return rkey_; }
  void attach(std::unique_ptr<MemoryRegion> region) {
    lkey_ = region->lkey();
    rkey_ = region->rkey();
    region_ = std::move(region);
  }
  void deregister() { region_.reset(); }
  Sge sge(size_t offset, uint32_t length) const { return Sge{addr(offset), length, lkey_}; }

  Buffer& fill_source() {
    for (size_t i = 0; i < size_; ++i) data()[i] = source_byte(i);
    return *this;
  }
  uint8_t source_byte(size_t offset) const { return pattern_byte(id_, offset); }

  // [offset, +length) holds src's pattern from src_offset on.
  ::testing::AssertionResult holds(size_t offset, const Buffer& src, size_t src_offset,
                                   size_t length) const {
    for (size_t i = 0; i < length; ++i) {
      if (data()[offset + i] != src.source_byte(src_offset + i)) {
        return ::testing::AssertionFailure()
               << "buffer " << id_ << " offset " << offset + i << " should hold byte "
               << src_offset + i << " of buffer " << src.id_;
      }
    }
    return ::testing::AssertionSuccess();
  }
  // Canary bytes everywhere (guards included) except in the given region ranges.
  ::testing::AssertionResult untouched_outside(std::vector<std::pair<size_t, size_t>> ranges) const {
    for (size_t pos = 0; pos < storage_.size(); ++pos) {
      const bool inside = std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) {
        return pos >= kGuard + r.first && pos < kGuard + r.first + r.second;
      });
      if (!inside && storage_[pos] != canary(pos)) {
        return ::testing::AssertionFailure() << "buffer " << id_ << " changed at storage byte " << pos;
      }
    }
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult untouched() const { return untouched_outside({}); }

 private:
  uint8_t canary(size_t storage_offset) const { return pattern_byte(kCanaryTag | id_, storage_offset); }

  uint32_t id_;
  size_t size_;
  std::vector<uint8_t> storage_;
  uint32_t lkey_ = 0;
  uint32_t rkey_ = 0;
  std::unique_ptr<MemoryRegion> region_;
};

// Registered memory for transfers too large for the byte-by-byte checks of Buffer: a
// 64 KiB block copied over and over, every 256 bytes stamped with its position, so a
// misplaced packet still shows. Compared with memcmp.
struct BulkBuffer {
  BulkBuffer(ProtectionDomain& pd, uint64_t bytes, uint64_t seed)
      : size(bytes), data(new uint8_t[bytes]) {
    constexpr uint64_t kBlock = 64 << 10, kStamp = 256;
    std::vector<uint8_t> block(kBlock);
    for (uint64_t i = 0; i < kBlock; ++i) block[i] = pattern_byte(static_cast<uint32_t>(seed), i);
    for (uint64_t offset = 0; offset < bytes; offset += kBlock) {
      std::memcpy(data.get() + offset, block.data(), std::min(kBlock, bytes - offset));
    }
    for (uint64_t offset = 0; offset + 8 <= bytes; offset += kStamp) std::memcpy(data.get() + offset, &offset, 8);
    auto registered = pd.register_memory(data.get(), bytes, kAllAccess, MemoryKind::kHost);
    if (!registered.ok()) fatal(registered.error().to_string());
    region = std::move(registered.value());
  }
  uint64_t addr() const { return reinterpret_cast<uint64_t>(data.get()); }
  Sge sge(uint64_t offset, uint32_t length) const {
    return Sge{addr() + offset, length, region->lkey()};
  }
  bool same_as(const BulkBuffer& other) const {
    return size == other.size && std::memcmp(data.get(), other.data.get(), size) == 0;
  }
  uint64_t size;
  std::unique_ptr<uint8_t[]> data;
  std::unique_ptr<MemoryRegion> region;
};

// An endpoint and its own completion queues (destroyed after it).
struct Ep {
  uint32_t host = 0;
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
inline Op remote_op(Opcode opcode, uint64_t cookie, std::vector<Sge> local, const Buffer& remote,
                    size_t remote_offset) {
  Op op = make_op(opcode, cookie, std::move(local));
  op.wr.remote_addr = remote.addr(remote_offset);
  op.wr.rkey = remote.rkey();
  return op;
}
inline Op write_op(uint64_t cookie, std::vector<Sge> local, const Buffer& remote, size_t offset) {
  return remote_op(Opcode::kWrite, cookie, std::move(local), remote, offset);
}
inline Op write_imm_op(uint64_t cookie, std::vector<Sge> local, const Buffer& remote,
                       size_t offset, uint32_t imm) {
  Op op = remote_op(Opcode::kWriteWithImm, cookie, std::move(local), remote, offset);
  op.wr.imm = imm;
  return op;
}
inline Op read_op(uint64_t cookie, std::vector<Sge> local, const Buffer& remote, size_t offset) {
  return remote_op(Opcode::kRead, cookie, std::move(local), remote, offset);
}
inline Op send_op(uint64_t cookie, std::vector<Sge> local) {
  return make_op(Opcode::kSend, cookie, std::move(local));
}

inline VoidResult post(const Ep& ep, std::vector<Op> ops, size_t* bad_index = nullptr) {
  std::vector<WorkRequest> requests;
  for (Op& op : ops) {
    op.wr.sg_list = op.sges.empty() ? nullptr : op.sges.data();
    op.wr.num_sge = static_cast<uint32_t>(op.sges.size());
    requests.push_back(op.wr);
  }
  return ep->post_send(requests, bad_index);
}

inline VoidResult post_recv(const Ep& ep, uint64_t cookie, std::vector<Sge> sges) {
  RecvRequest request;
  request.cookie = cookie;
  request.sg_list = sges.empty() ? nullptr : sges.data();
  request.num_sge = static_cast<uint32_t>(sges.size());
  return ep->post_recv(std::span<const RecvRequest>(&request, 1));
}

inline ::testing::AssertionResult is_completion(const Completion& c, const Ep& ep, uint64_t cookie,
                                                CompletionKind kind,
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
inline ::testing::AssertionResult has_status(const Completion& c, const Ep& ep, uint64_t cookie,
                                             Status status) {
  if (c.cookie == cookie && c.status == status && c.endpoint_id == ep.id()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected cookie " << cookie << " with "
                                       << to_string(status) << ", got "
                                       << ::testing::PrintToString(c);
}

inline std::vector<uint64_t> cookies_of(const std::vector<Completion>& cs) {
  std::vector<uint64_t> out;
  for (const Completion& c : cs) out.push_back(c.cookie);
  return out;
}

enum class Queue { kSend, kRecv };

class World {
 public:
  explicit World(SimulationConfig config) : sim_(std::move(config)) {}
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  Simulation& sim() { return sim_; }
  EndpointKind kind() const { return kind_of(sim_.config().transport); }
  Device& device(uint32_t host, uint32_t nic = 0) { return sim_.host(host).device(nic); }

  ProtectionDomain& pd(uint32_t host, uint32_t nic = 0) {
    auto& slot = default_pds_[{host, nic}];
    if (slot == nullptr) slot = &new_pd(host, nic);
    return *slot;
  }
  ProtectionDomain& new_pd(uint32_t host, uint32_t nic = 0) {
    auto pd = device(host, nic).create_protection_domain();
    if (!pd.ok()) fatal("create_protection_domain: " + pd.error().to_string());
    pds_.push_back(std::move(pd.value()));
    return *pds_.back();
  }

  // A registered buffer, all canary bytes.
  Buffer& buffer(uint32_t host, size_t size, uint32_t access = kAllAccess, uint32_t nic = 0,
                 ProtectionDomain* pd = nullptr) {
    buffers_.push_back(std::make_unique<Buffer>(next_buffer_id_++, size));
    Buffer& buffer = *buffers_.back();
    if (pd == nullptr) pd = &this->pd(host, nic);
    auto region = pd->register_memory(buffer.data(), size, access, MemoryKind::kHost);
    if (!region.ok()) fatal("register_memory: " + region.error().to_string());
    buffer.attach(std::move(region.value()));
    return buffer;
  }
  Buffer& source(uint32_t host, size_t size, uint32_t access = kAllAccess, uint32_t nic = 0) {
    return buffer(host, size, access, nic).fill_source();
  }

  Ep& endpoint(uint32_t host, uint32_t nic, EndpointConfig config, uint32_t cq_depth = 1024) {
    eps_.push_back(std::make_unique<Ep>());
    Ep& ep = *eps_.back();
    ep.host = host;
    ep.own_send_cq = make_cq(host, nic, cq_depth);
    ep.own_recv_cq = make_cq(host, nic, cq_depth);
    ep.send_cq = ep.own_send_cq.get();
    ep.recv_cq = ep.own_recv_cq.get();
    config.send_cq = ep.send_cq;
    config.recv_cq = ep.recv_cq;
    auto endpoint = pd(host, nic).create_endpoint(config);
    if (!endpoint.ok()) fatal("create_endpoint: " + endpoint.error().to_string());
    ep.endpoint = std::move(endpoint.value());
    return ep;
  }

  // Two connected endpoints, host a to host b, of the simulation's kind.
  Pair pair(uint32_t host_a = 0, uint32_t host_b = 1) {
    return pair(endpoint_config(kind()), host_a, host_b);
  }
  Pair pair(EndpointConfig config, uint32_t host_a = 0, uint32_t host_b = 1,
            uint32_t cq_depth = 1024) {
    config.kind = kind();
    Ep& a = endpoint(host_a, 0, config, cq_depth);
    Ep& b = endpoint(host_b, 0, config, cq_depth);
    connect(a, b);
    return Pair{a, b};
  }

  static void connect(Ep& a, Ep& b) {
    if (auto r = a->connect(b->address()); !r.ok()) fatal("connect: " + r.error().to_string());
    if (auto r = b->connect(a->address()); !r.ok()) fatal("connect: " + r.error().to_string());
  }

  // Waits for `count` completions on one queue of `ep`, in arrival order (fewer, with a
  // test failure, if they do not come within kWaitLimitNs of virtual time).
  std::vector<Completion> wait(const Ep& ep, Queue queue, size_t count) {
    CompletionQueue& cq = queue == Queue::kSend ? *ep.send_cq : *ep.recv_cq;
    std::vector<Completion> got;
    std::vector<Completion> slots(64);
    const uint64_t limit = sim_.now_ns() + kWaitLimitNs;
    bool moving = true;
    while (true) {
      const size_t want = std::min(slots.size(), count - got.size());
      auto polled = cq.poll(std::span<Completion>(slots.data(), want));
      if (!polled.ok()) {
        ADD_FAILURE() << "poll failed: " << polled.error().to_string();
        break;
      }
      got.insert(got.end(), slots.begin(), slots.begin() + *polled);
      if (got.size() == count || !moving) break;
      // False: idle or out of time; poll once more, then give up.
      moving = sim_.run_until_completion(limit);
    }
    if (got.size() < count) {
      ADD_FAILURE() << "endpoint " << ep.id() << " " << (queue == Queue::kSend ? "send" : "recv")
                    << " queue: waited for " << count << " completions, got " << got.size();
    }
    return got;
  }
  std::vector<Completion> wait_send(const Ep& ep, size_t count = 1) { return wait(ep, Queue::kSend, count); }
  std::vector<Completion> wait_recv(const Ep& ep, size_t count = 1) { return wait(ep, Queue::kRecv, count); }

  // Runs until nothing is pending (bounded).
  void settle() {
    if (!sim_.run(sim_.now_ns() + kWaitLimitNs)) ADD_FAILURE() << "the simulation never went idle";
  }

  ::testing::AssertionResult no_completions(const Ep& ep) {
    settle();
    for (CompletionQueue* cq : {ep.send_cq, ep.recv_cq}) {
      Completion c;
      auto polled = cq->poll(std::span<Completion>(&c, 1));
      if (!polled.ok()) return ::testing::AssertionFailure() << polled.error().to_string();
      if (*polled != 0) {
        return ::testing::AssertionFailure() << "unexpected completion " << ::testing::PrintToString(c);
      }
    }
    return ::testing::AssertionSuccess();
  }

 private:
  std::unique_ptr<CompletionQueue> make_cq(uint32_t host, uint32_t nic, uint32_t depth) {
    auto cq = device(host, nic).create_completion_queue(depth);
    if (!cq.ok()) fatal("create_completion_queue: " + cq.error().to_string());
    return std::move(cq.value());
  }

  // Declaration order is destruction order reversed: endpoints (and their queues) go
  // first, then regions, protection domains, and the simulation last.
  Simulation sim_;
  std::map<std::pair<uint32_t, uint32_t>, ProtectionDomain*> default_pds_;
  std::vector<std::unique_ptr<ProtectionDomain>> pds_;
  std::deque<std::unique_ptr<Buffer>> buffers_;
  std::deque<std::unique_ptr<Ep>> eps_;
  uint32_t next_buffer_id_ = 1;
};

}  // namespace ferry::sim::test
