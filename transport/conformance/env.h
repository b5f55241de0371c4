// What every conformance check is written with: Env, one check's world on two nodes
// (domains, queues, buffers with canary guards, endpoints, bounded waits on the
// providers' clock, faults through the cluster), and the verdicts a check ends with.
//
// A check states what must hold with expect()/fail(); the first that does not hold
// ends it (an exception run() turns into a failed Outcome). skip() ends it as skipped.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transport/conformance/checks.h"
#include "transport/gpu/runtime.h"
#include "transport/provider.h"
#include "transport/provider_support/testing/work_requests.h"

namespace ferry::conformance {

// The byte pattern, the work-request builders and posting are those of the providers'
// own tests (provider_support/testing/work_requests.h).
using provider_test::cookies_of;
using provider_test::describe;
using provider_test::Ep;  // node 0: node a, 1: node b
using provider_test::iota;
using provider_test::kAllAccess;
using provider_test::Op;
using provider_test::Pair;  // a, the initiator, on node a; b on node b
using provider_test::pattern_byte;
using provider_test::post;
using provider_test::post_recv;
using provider_test::read_op;
using provider_test::send_op;
using provider_test::sorted;
using provider_test::unsignaled;
using provider_test::write_imm_op;
using provider_test::write_op;

// Thrown to end a check.
struct CheckFailed {
  std::string detail;
};
struct CheckSkipped {
  std::string reason;
};

[[noreturn]] void fail(const std::string& detail);
[[noreturn]] void skip(const std::string& reason);
inline void expect(bool condition, const std::string& detail) {
  if (!condition) fail(detail);
}
// Fails with the error's text when `result` is not ok.
template <typename R>
void expect_ok(const R& result, const std::string& what) {
  if (!result.ok()) fail(what + ": " + result.error().to_string());
}

// A registered region with canary bytes before and after it. A source holds the
// pattern of its id; a destination starts as canary bytes, so every byte that lands
// can be traced to where it came from, and every byte that should not have is seen.
// In GPU memory (Nodes::memory) the region, guards included, lives on the GPU and a host
// copy is refreshed before every expectation.
class Buffer {
 public:
  static constexpr size_t kGuard = 64;

  Buffer(uint32_t id, size_t size, MemoryKind memory = MemoryKind::kHost);
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  uint32_t id() const { return id_; }
  size_t size() const { return size_; }
  MemoryKind memory() const { return memory_; }
  // The registered bytes: host memory, or GPU memory.
  uint8_t* data() { return registered() + kGuard; }
  const uint8_t* data() const { return const_cast<Buffer*>(this)->data(); }
  uint64_t addr(size_t offset = 0) const { return reinterpret_cast<uint64_t>(data() + offset); }
  // Keys outlive the registration, so that a check can try them afterwards.
  uint32_t lkey() const { return lkey_; }
  uint32_t rkey() const { return rkey_; }
  MemoryRegion* region() const { return region_.get(); }
  void attach(std::unique_ptr<MemoryRegion> region);
  void deregister() { region_.reset(); }  // the bytes stay, so a late write shows
  Sge sge(size_t offset, uint32_t length) const { return Sge{addr(offset), length, lkey_}; }

  Buffer& fill_source();
  uint8_t source_byte(size_t offset) const { return pattern_byte(id_, offset); }

  // [offset, +length) holds src's pattern from src_offset on.
  void expect_holds(size_t offset, const Buffer& src, size_t src_offset, size_t length) const;
  // Canary bytes everywhere (guards included) but in these [offset, +length) ranges.
  void expect_untouched_outside(std::vector<std::pair<size_t, size_t>> ranges) const;
  void expect_untouched() const { expect_untouched_outside({}); }
  void expect_untouched(size_t offset, size_t length) const;
  // Its own pattern in the region and canaries around it: nobody wrote into it.
  void expect_intact_source() const;

 private:
  uint8_t canary(size_t storage_offset) const;
  std::string where(size_t storage_offset) const;
  uint8_t* registered() { return memory_ == MemoryKind::kDevice ? gpu_.as<uint8_t>() : storage_.data(); }
  // The bytes as they are now (from the GPU where they live there).
  const std::vector<uint8_t>& bytes() const;

  uint32_t id_;
  size_t size_;
  MemoryKind memory_;
  mutable std::vector<uint8_t> storage_;  // the region, or the host copy of a GPU region
  gpu::DeviceBuffer gpu_;
  uint32_t lkey_ = 0;
  uint32_t rkey_ = 0;
  std::unique_ptr<MemoryRegion> region_;
};

// Post and fail the check if the call fails.
void post_ok(const Ep& ep, std::vector<Op> ops);
void post_recv_ok(const Ep& ep, uint64_t cookie, std::vector<Sge> sges);

// Completion expectations: cookie, kind (successes only: an error's kind is not part of
// the contract), status, and the endpoint it belongs to.
void expect_completion(const Completion& c, const Ep& ep, uint64_t cookie, CompletionKind kind);
void expect_status(const Completion& c, const Ep& ep, uint64_t cookie, Status status);
const Completion& find_cookie(const std::vector<Completion>& cs, uint64_t cookie);
std::string list(const std::vector<uint64_t>& v);

// Endpoint settings for the checks: the defaults, with receiver-not-ready retries
// forever on a short timer. Transport retries keep verbs' defaults (a short timeout
// sets off spurious resends on a busy host); fault checks shorten them.
EndpointConfig default_config(EndpointKind kind);

class Env {
 public:
  explicit Env(const Nodes& setup);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  const Nodes& nodes() const { return setup_; }
  EndpointKind kind() const { return setup_.kind; }
  bool rc() const { return setup_.kind == EndpointKind::kRc; }
  Provider& provider(int side) { return side == 0 ? *setup_.a : *setup_.b; }
  Device& device(int side) { return provider(side).device(setup_.rail); }
  const DeviceAttributes& attributes(int side = 0) { return device(side).attributes(); }

  ProtectionDomain& pd(int side);      // the side's default domain
  ProtectionDomain& new_pd(int side);  // another domain of the same device
  Buffer& buffer(int side, size_t size, uint32_t access = kAllAccess, ProtectionDomain* pd = nullptr);
  Buffer& source(int side, size_t size, uint32_t access = kAllAccess) { return buffer(side, size, access).fill_source(); }
  CompletionQueue& completion_queue(int side, uint32_t depth);
  // An endpoint, not connected; its own queues of `cq_depth` unless `shared_cq` is given.
  Ep& endpoint(int side, EndpointConfig config, uint32_t cq_depth = 1024, CompletionQueue* shared_cq = nullptr);
  // Two connected endpoints of the setup's kind, a on node a and b on node b.
  Pair pair(EndpointConfig config, uint32_t cq_depth = 1024);
  Pair pair() { return pair(default_config(kind())); }
  static void connect(Ep& a, Ep& b);
  // Destroys an endpoint (its queues stay until the Env goes).
  void destroy(Ep& ep) { ep.endpoint.reset(); }

  // Exactly `count` completions from one queue of `ep`, in arrival order; fails the
  // check if they do not come within the timeout or the fabric goes idle first.
  std::vector<Completion> wait_send(const Ep& ep, size_t count = 1);
  std::vector<Completion> wait_recv(const Ep& ep, size_t count = 1);
  // Lets what is in flight finish: until the fabric is idle (virtual time) or for a
  // few milliseconds of its clock (real time, or work that never ends such as
  // receiver-not-ready retries without end).
  void settle();
  // Lets `ns` pass on the fabric's clock.
  void pass_time(uint64_t ns);
  // Settles, then fails if either queue of `ep` holds a completion.
  void expect_no_completions(const Ep& ep);
  uint64_t now() const { return setup_.a->clock().now_ns(); }

  // Applies a fault through the cluster; skips the check where there is no cluster or
  // it refuses the fault (a real fabric cannot take a link down).
  void inject(FabricFaultKind kind, int side);
  // Schedules a fault at t_ns through the cluster (after an inject() of this run).
  void inject_at(uint64_t t_ns, FabricFaultKind kind, int side);

 private:
  std::vector<Completion> wait(const Ep& ep, bool send_queue, size_t count);
  bool progress();
  FabricFault fault(FabricFaultKind kind, int side) const;
  Cluster& cluster_for(const char* what);
  std::unique_ptr<CompletionQueue> make_cq(int side, uint32_t depth);

  Nodes setup_;
  // Declaration order is destruction order reversed: endpoints (and their queues)
  // first, then regions, shared queues and protection domains.
  std::unique_ptr<ProtectionDomain> default_pd_[2];
  std::vector<std::unique_ptr<ProtectionDomain>> pds_;
  std::deque<std::unique_ptr<CompletionQueue>> cqs_;
  std::deque<std::unique_ptr<Buffer>> buffers_;
  std::deque<std::unique_ptr<Ep>> eps_;
  uint32_t next_buffer_id_ = 1;
};

}  // namespace ferry::conformance
