// Shared code of the emulator's tests.
//
//  - World: a Fabric and everything opened on it (protection domains, buffers,
//    endpoints with their own completion queues), destroyed in the order the provider
//    interface requires: endpoints, then regions, then protection domains.
//  - Buffer: a registered region with canary guards on both sides. Destinations start
//    as canary bytes; sources hold a pattern that encodes the buffer and the offset,
//    so every byte that lands can be traced to where it came from.
//  - Ep: an endpoint with its queues; the op builders, post helpers and completion
//    matchers that take it are shared with sim's tests
//    (transport/provider_support/testing/provider_test_util.h).
//  - Bounded waits: in deterministic mode they call fabric.step() between polls, in
//    fast mode node.progress(); both give up after a fixed number of iterations, so a
//    bug fails the test instead of hanging it. Nothing here reads a clock.
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
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "emu/fabric.h"
#include "transport/provider.h"
#include "transport/provider_support/testing/provider_test_util.h"

namespace ferry::emu::test {

using namespace ::ferry::provider_test;  // Op, post, pattern_byte, is_completion, ...

// ---------------------------------------------------------------------------------
// Limits of the bounded waits.

// Deterministic mode: events run while waiting for one batch of completions.
inline constexpr size_t kMaxSteps = 2'000'000;
// Fast mode: poll iterations while waiting. Retries there run on real time (a few
// microseconds in these tests); this bound is far above what they need.
inline constexpr size_t kMaxFastPolls = 5'000'000;
// Polls that must all come back empty before "no completion" is believed.
inline constexpr size_t kQuietPolls = 200;

// ---------------------------------------------------------------------------------
// Parameters: every test runs in both modes and, where meaningful, both kinds.

struct ModeKind {
  Mode mode;
  EndpointKind kind;
};

inline const char* mode_name(Mode mode) {
  return mode == Mode::kFast ? "Fast" : "Deterministic";
}
inline const char* kind_name(EndpointKind kind) {
  return kind == EndpointKind::kRc ? "Rc" : "Srd";
}
inline void PrintTo(const ModeKind& p, std::ostream* os) {
  *os << mode_name(p.mode) << "/" << kind_name(p.kind);
}

inline std::vector<ModeKind> all_mode_kinds() {
  return {{Mode::kFast, EndpointKind::kRc},
          {Mode::kFast, EndpointKind::kSrd},
          {Mode::kDeterministic, EndpointKind::kRc},
          {Mode::kDeterministic, EndpointKind::kSrd}};
}
inline std::string mode_kind_name(const ::testing::TestParamInfo<ModeKind>& info) {
  return std::string(mode_name(info.param.mode)) + "_" + kind_name(info.param.kind);
}
inline std::string mode_param_name(const ::testing::TestParamInfo<Mode>& info) {
  return mode_name(info.param);
}
inline std::string kind_param_name(const ::testing::TestParamInfo<EndpointKind>& info) {
  return kind_name(info.param);
}

inline FabricConfig fabric_config(Mode mode, uint32_t nodes = 2, uint64_t seed = 1) {
  FabricConfig config;
  config.mode = mode;
  config.nodes = nodes;
  config.seed = seed;
  return config;
}

// Endpoint settings for the tests: retry timers short enough that fast mode, which
// retries on real time, gets through them in microseconds.
inline EndpointConfig endpoint_config(EndpointKind kind) {
  EndpointConfig config;
  config.kind = kind;
  config.retry_timeout_ns = 1'000;
  config.rnr_timer_ns = 1'000;
  return config;
}

class ModeKindTest : public ::testing::TestWithParam<ModeKind> {
 protected:
  Mode mode() const { return GetParam().mode; }
  EndpointKind kind() const { return GetParam().kind; }
  bool deterministic() const { return mode() == Mode::kDeterministic; }
  bool rc() const { return kind() == EndpointKind::kRc; }
  FabricConfig config(uint32_t nodes = 2, uint64_t seed = 1) const {
    return fabric_config(mode(), nodes, seed);
  }
};

struct PairSpec {
  EndpointKind kind = EndpointKind::kRc;
  uint32_t node_a = 0;
  uint32_t node_b = 1;
  uint32_t nic = 0;  // both sides
  EndpointConfig config = endpoint_config(EndpointKind::kRc);  // kind/CQs filled in
  uint32_t cq_depth = 1024;
  CompletionQueue* shared_cq_a = nullptr;  // send and recv queue of `a`, if given
};

inline PairSpec pair_spec(EndpointKind kind) {
  PairSpec spec;
  spec.kind = kind;
  spec.config = endpoint_config(kind);
  return spec;
}

// ---------------------------------------------------------------------------------
// The world

class World {
 public:
  explicit World(FabricConfig config) : fabric_(std::move(config)) {}
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  Fabric& fabric() { return fabric_; }
  bool deterministic() const { return fabric_.config().mode == Mode::kDeterministic; }
  Device& device(uint32_t node, uint32_t nic = 0) { return fabric_.node(node).device(nic); }

  // The protection domain that buffers and endpoints of a NIC use unless told otherwise.
  ProtectionDomain& pd(uint32_t node, uint32_t nic = 0) {
    auto& slot = default_pds_[{node, nic}];
    if (slot == nullptr) slot = &new_pd(node, nic);
    return *slot;
  }
  ProtectionDomain& new_pd(uint32_t node, uint32_t nic = 0) {
    auto pd = device(node, nic).create_protection_domain();
    if (!pd.ok()) fatal("create_protection_domain: " + describe(pd.error()));
    pds_.push_back(std::move(pd.value()));
    return *pds_.back();
  }

  // A registered buffer, all canary bytes.
  Buffer& buffer(uint32_t node, size_t size, uint32_t access = kAllAccess, uint32_t nic = 0,
                 ProtectionDomain* pd = nullptr) {
    buffers_.push_back(std::make_unique<Buffer>(next_buffer_id_++, size));
    Buffer& buffer = *buffers_.back();
    if (pd == nullptr) pd = &this->pd(node, nic);
    auto region = pd->register_memory(buffer.data(), size, access, MemoryKind::kHost);
    if (!region.ok()) fatal("register_memory: " + describe(region.error()));
    buffer.attach(std::move(region.value()));
    return buffer;
  }
  // A registered buffer that holds its source pattern.
  Buffer& source(uint32_t node, size_t size, uint32_t access = kAllAccess, uint32_t nic = 0) {
    return buffer(node, size, access, nic).fill_source();
  }

  // A completion queue that several endpoints may share.
  CompletionQueue& completion_queue(uint32_t node, uint32_t nic, uint32_t depth) {
    cqs_.push_back(make_cq(node, nic, depth));
    return *cqs_.back();
  }

  // An endpoint, not connected, with its own send and recv queues unless `shared_cq`
  // is given for both.
  Ep& endpoint(uint32_t node, uint32_t nic, EndpointConfig config, uint32_t cq_depth = 1024,
               CompletionQueue* shared_cq = nullptr) {
    eps_.push_back(std::make_unique<Ep>());
    Ep& ep = *eps_.back();
    ep.node = node;
    ep.nic = nic;
    if (shared_cq != nullptr) {
      ep.send_cq = ep.recv_cq = shared_cq;
    } else {
      ep.own_send_cq = make_cq(node, nic, cq_depth);
      ep.own_recv_cq = make_cq(node, nic, cq_depth);
      ep.send_cq = ep.own_send_cq.get();
      ep.recv_cq = ep.own_recv_cq.get();
    }
    config.send_cq = ep.send_cq;
    config.recv_cq = ep.recv_cq;
    ProtectionDomain* pd = &this->pd(node, nic);
    auto endpoint = pd->create_endpoint(config);
    if (!endpoint.ok()) fatal("create_endpoint: " + describe(endpoint.error()));
    ep.endpoint = std::move(endpoint.value());
    return ep;
  }

  // Two endpoints connected to each other.
  Pair pair(PairSpec spec) {
    spec.config.kind = spec.kind;
    Ep& a = endpoint(spec.node_a, spec.nic, spec.config, spec.cq_depth, spec.shared_cq_a);
    Ep& b = endpoint(spec.node_b, spec.nic, spec.config, spec.cq_depth);
    connect(a, b);
    return Pair{a, b};
  }
  Pair pair(EndpointKind kind) { return pair(pair_spec(kind)); }

  static void connect(Ep& a, Ep& b) {
    if (auto r = a->connect(b->address()); !r.ok()) fatal("connect: " + describe(r.error()));
    if (auto r = b->connect(a->address()); !r.ok()) fatal("connect: " + describe(r.error()));
  }

  // Waits for `count` completions on one queue of `ep` and returns them in arrival
  // order (fewer, with a test failure, if they do not come). Takes no more than
  // `count` from the queue.
  std::vector<Completion> wait(const Ep& ep, Queue queue, size_t count) {
    CompletionQueue& cq = queue == Queue::kSend ? *ep.send_cq : *ep.recv_cq;
    std::vector<Completion> got;
    std::vector<Completion> slots(64);
    size_t limit = deterministic() ? kMaxSteps : kMaxFastPolls;
    size_t i = 0;
    while (got.size() < count) {
      size_t want = std::min(slots.size(), count - got.size());
      auto polled = cq.poll(std::span<Completion>(slots.data(), want));
      if (!polled.ok()) {
        ADD_FAILURE() << "poll failed: " << describe(polled.error());
        break;
      }
      got.insert(got.end(), slots.begin(), slots.begin() + *polled);
      if (got.size() == count) break;
      if (i++ == limit) break;
      if (deterministic()) {
        if (!fabric_.step()) break;  // idle: nothing more will come
      } else {
        fabric_.node(ep.node).progress();
        std::this_thread::yield();
      }
    }
    if (got.size() < count) {
      ADD_FAILURE() << "endpoint " << ep.id() << " (node " << ep.node << ") "
                    << (queue == Queue::kSend ? "send" : "recv") << " queue: waited for "
                    << count << " completions, got " << got.size() << " after " << i
                    << (deterministic() ? " steps" : " polls");
    }
    return got;
  }
  std::vector<Completion> wait_send(const Ep& ep, size_t count = 1) {
    return wait(ep, Queue::kSend, count);
  }
  std::vector<Completion> wait_recv(const Ep& ep, size_t count = 1) {
    return wait(ep, Queue::kRecv, count);
  }

  // Lets everything pending happen: deterministic mode runs until idle; fast mode
  // drives every node's progress for a while.
  void settle() {
    if (deterministic()) {
      size_t ran = fabric_.run_until_idle(kMaxSteps);
      if (ran >= kMaxSteps) ADD_FAILURE() << "the fabric never went idle";
    } else {
      for (size_t i = 0; i < kQuietPolls; ++i) progress_all();
    }
  }

  // Settles, then checks that neither queue of `ep` holds a completion.
  ::testing::AssertionResult no_completions(const Ep& ep) {
    settle();
    for (CompletionQueue* cq : {ep.send_cq, ep.recv_cq}) {
      Completion c;
      auto polled = cq->poll(std::span<Completion>(&c, 1));
      if (!polled.ok()) {
        return ::testing::AssertionFailure() << "poll failed: " << describe(polled.error());
      }
      if (*polled != 0) {
        return ::testing::AssertionFailure()
               << "endpoint " << ep.id() << " has an unexpected completion on its "
               << (cq == ep.send_cq ? "send" : "recv")
               << " queue: " << ::testing::PrintToString(c);
      }
    }
    return ::testing::AssertionSuccess();
  }

  void progress_all() {
    for (size_t n = 0; n < fabric_.node_count(); ++n) fabric_.node(n).progress();
  }

 private:
  std::unique_ptr<CompletionQueue> make_cq(uint32_t node, uint32_t nic, uint32_t depth) {
    auto cq = device(node, nic).create_completion_queue(depth);
    if (!cq.ok()) fatal("create_completion_queue: " + describe(cq.error()));
    return std::move(cq.value());
  }

  // Declaration order is destruction order reversed: endpoints (and their queues) go
  // first, then regions, shared queues, protection domains, and the fabric last.
  Fabric fabric_;
  std::map<std::pair<uint32_t, uint32_t>, ProtectionDomain*> default_pds_;
  std::vector<std::unique_ptr<ProtectionDomain>> pds_;
  std::deque<std::unique_ptr<CompletionQueue>> cqs_;
  std::deque<std::unique_ptr<Buffer>> buffers_;
  std::deque<std::unique_ptr<Ep>> eps_;
  uint32_t next_buffer_id_ = 1;
};

}  // namespace ferry::emu::test
