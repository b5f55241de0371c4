// Shared code of the simulation's tests.
//
//  - World: a Simulation and everything opened on it (protection domains, buffers,
//    endpoints with their own completion queues), destroyed in the order the provider
//    interface requires: endpoints, then regions, then protection domains.
//  - Buffer: a registered region with canary guards on both sides. Destinations start
//    as canary bytes; sources hold a pattern that encodes the buffer and the offset, so
//    every byte that lands can be traced to where it came from.
//  - Ep: an endpoint with its queues; the op builders, post helpers and completion
//    matchers that take it are shared with emu's tests
//    (transport/provider_support/testing/provider_test_util.h).
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
#include "transport/provider_support/testing/provider_test_util.h"

namespace ferry::sim::test {

using namespace ::ferry::provider_test;  // Op, post, pattern_byte, is_completion, ...

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
    ep.node = host;
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
