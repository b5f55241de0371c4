#include "transport/conformance/env.h"

#include <algorithm>
#include <sstream>

namespace ferry::conformance {

void fail(const std::string& detail) { throw CheckFailed{detail}; }
void skip(const std::string& reason) { throw CheckSkipped{reason}; }

// ---------------------------------------------------------------------------------
// Buffer

namespace {
constexpr uint32_t kCanaryTag = 0xC0000u;
}

Buffer::Buffer(uint32_t id, size_t size, MemoryKind memory)
    : id_(id), size_(size), memory_(memory), storage_(size + 2 * kGuard) {
  for (size_t i = 0; i < storage_.size(); ++i) storage_[i] = canary(i);
  if (memory_ == MemoryKind::kDevice) {
    auto gpu = gpu::DeviceBuffer::allocate(storage_.size());
    expect_ok(gpu, "GPU memory for buffer " + std::to_string(id));
    gpu_ = std::move(gpu).value();
    expect_ok(gpu::copy(gpu_.data(), storage_.data(), storage_.size()), "uploading buffer " + std::to_string(id));
  }
}

const std::vector<uint8_t>& Buffer::bytes() const {
  if (memory_ == MemoryKind::kDevice) {
    expect_ok(gpu::copy(storage_.data(), gpu_.data(), storage_.size()), "reading buffer " + std::to_string(id_));
  }
  return storage_;
}

void Buffer::attach(std::unique_ptr<MemoryRegion> region) {
  lkey_ = region->lkey();
  rkey_ = region->rkey();
  region_ = std::move(region);
}

Buffer& Buffer::fill_source() {
  for (size_t i = 0; i < size_; ++i) storage_[kGuard + i] = source_byte(i);
  if (memory_ == MemoryKind::kDevice) {
    expect_ok(gpu::copy(gpu_.data(), storage_.data(), storage_.size()), "uploading buffer " + std::to_string(id_));
  }
  return *this;
}

uint8_t Buffer::canary(size_t storage_offset) const { return pattern_byte(kCanaryTag | id_, storage_offset); }

std::string Buffer::where(size_t storage_offset) const {
  if (storage_offset < kGuard) return "front guard byte " + std::to_string(storage_offset);
  if (storage_offset >= kGuard + size_) return "back guard byte " + std::to_string(storage_offset - kGuard - size_);
  return "offset " + std::to_string(storage_offset - kGuard);
}

void Buffer::expect_holds(size_t offset, const Buffer& src, size_t src_offset, size_t length) const {
  expect(offset + length <= size_, "range past the end of buffer " + std::to_string(id_));
  const uint8_t* now = bytes().data() + kGuard;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < length; ++i) {
    if (now[offset + i] != src.source_byte(src_offset + i) && bad++ == 0) first = i;
  }
  if (bad == 0) return;
  fail("buffer " + std::to_string(id_) + " [" + std::to_string(offset) + ", +" + std::to_string(length) +
       ") should hold buffer " + std::to_string(src.id_) + "'s bytes from " + std::to_string(src_offset) + ": " +
       std::to_string(bad) + " bytes differ, the first at offset " + std::to_string(offset + first));
}

void Buffer::expect_untouched(size_t offset, size_t length) const {
  bytes();
  for (size_t i = 0; i < length; ++i) {
    const size_t pos = kGuard + offset + i;
    if (storage_[pos] != canary(pos)) {
      fail("buffer " + std::to_string(id_) + " was written at " + where(pos) + ", which must keep its canary");
    }
  }
}

void Buffer::expect_untouched_outside(std::vector<std::pair<size_t, size_t>> ranges) const {
  std::sort(ranges.begin(), ranges.end());
  bytes();
  size_t pos = 0;  // storage offset
  auto check_until = [&](size_t end) {
    for (; pos < end; ++pos) {
      if (storage_[pos] != canary(pos)) {
        fail("buffer " + std::to_string(id_) + " was written at " + where(pos) +
             ", outside what the operation may touch");
      }
    }
  };
  for (const auto& [offset, length] : ranges) {
    check_until(kGuard + offset);
    pos = std::max(pos, kGuard + offset + length);
  }
  check_until(storage_.size());
}

void Buffer::expect_intact_source() const {
  expect_holds(0, *this, 0, size_);
  expect_untouched_outside({{0, size_}});
}

// ---------------------------------------------------------------------------------
// Work requests and completions

void post_ok(const Ep& ep, std::vector<Op> ops) { expect_ok(post(ep, std::move(ops)), "post_send"); }

void post_recv_ok(const Ep& ep, uint64_t cookie, std::vector<Sge> sges) {
  expect_ok(post_recv(ep, cookie, std::move(sges)), "post_recv");
}

void expect_completion(const Completion& c, const Ep& ep, uint64_t cookie, CompletionKind kind) {
  if (c.cookie == cookie && c.kind == kind && c.status == Status::kSuccess && c.endpoint_id == ep.id()) return;
  fail(std::string("expected a successful ") + to_string(kind) + " completion of cookie " + std::to_string(cookie) +
       " on endpoint " + std::to_string(ep.id()) + ", got " + describe(c));
}

void expect_status(const Completion& c, const Ep& ep, uint64_t cookie, Status status) {
  if (c.cookie == cookie && c.status == status && c.endpoint_id == ep.id()) return;
  fail(std::string("expected cookie ") + std::to_string(cookie) + " to complete with " + to_string(status) +
       " on endpoint " + std::to_string(ep.id()) + ", got " + describe(c));
}

const Completion& find_cookie(const std::vector<Completion>& cs, uint64_t cookie) {
  for (const Completion& c : cs) {
    if (c.cookie == cookie) return c;
  }
  fail("no completion of cookie " + std::to_string(cookie) + " among " + list(cookies_of(cs)));
}

std::string list(const std::vector<uint64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

EndpointConfig default_config(EndpointKind kind) {
  EndpointConfig config;
  config.kind = kind;
  config.rnr_retry = 7;
  config.rnr_timer_ns = 10'000;
  return config;
}

// ---------------------------------------------------------------------------------
// Env

Env::Env(const Nodes& setup) : setup_(setup) {
  if (setup_.a == nullptr || setup_.b == nullptr) fail("the setup names no providers");
  for (int side = 0; side < 2; ++side) {
    if (setup_.rail >= provider(side).device_count()) {
      fail("node " + std::to_string(side) + " has no device " + std::to_string(setup_.rail));
    }
  }
}

Env::~Env() = default;

ProtectionDomain& Env::pd(int side) {
  if (default_pd_[side] == nullptr) {
    auto pd = device(side).create_protection_domain();
    expect_ok(pd, "create_protection_domain");
    default_pd_[side] = std::move(pd.value());
  }
  return *default_pd_[side];
}

ProtectionDomain& Env::new_pd(int side) {
  auto pd = device(side).create_protection_domain();
  expect_ok(pd, "create_protection_domain");
  pds_.push_back(std::move(pd.value()));
  return *pds_.back();
}

Buffer& Env::buffer(int side, size_t size, uint32_t access, ProtectionDomain* domain) {
  buffers_.push_back(std::make_unique<Buffer>(next_buffer_id_++, size, setup_.memory));
  Buffer& buffer = *buffers_.back();
  if (domain == nullptr) domain = &pd(side);
  auto region = domain->register_memory(buffer.data(), size, access, setup_.memory);
  expect_ok(region, "register_memory of " + std::to_string(size) + " bytes");
  buffer.attach(std::move(region.value()));
  return buffer;
}

std::unique_ptr<CompletionQueue> Env::make_cq(int side, uint32_t depth) {
  auto cq = device(side).create_completion_queue(depth);
  expect_ok(cq, "create_completion_queue");
  return std::move(cq.value());
}

CompletionQueue& Env::completion_queue(int side, uint32_t depth) {
  cqs_.push_back(make_cq(side, depth));
  return *cqs_.back();
}

Ep& Env::endpoint(int side, EndpointConfig config, uint32_t cq_depth, CompletionQueue* shared_cq) {
  eps_.push_back(std::make_unique<Ep>());
  Ep& ep = *eps_.back();
  ep.node = side;
  if (shared_cq != nullptr) {
    ep.send_cq = ep.recv_cq = shared_cq;
  } else {
    ep.own_send_cq = make_cq(side, cq_depth);
    ep.own_recv_cq = make_cq(side, cq_depth);
    ep.send_cq = ep.own_send_cq.get();
    ep.recv_cq = ep.own_recv_cq.get();
  }
  config.send_cq = ep.send_cq;
  config.recv_cq = ep.recv_cq;
  auto endpoint = pd(side).create_endpoint(config);
  expect_ok(endpoint, std::string("create_endpoint (") + to_string(config.kind) + ")");
  ep.endpoint = std::move(endpoint.value());
  return ep;
}

Pair Env::pair(EndpointConfig config, uint32_t cq_depth) {
  config.kind = kind();
  Ep& a = endpoint(0, config, cq_depth);
  Ep& b = endpoint(1, config, cq_depth);
  connect(a, b);
  return Pair{a, b};
}

void Env::connect(Ep& a, Ep& b) {
  expect_ok(a->connect(b->address()), "connect");
  expect_ok(b->connect(a->address()), "connect");
}

// One provider's step at a time: on a virtual-time fabric each progress() moves the
// shared clock, so a second step would run past the instant the first one reached.
bool Env::progress() { return setup_.a->progress() || (setup_.a != setup_.b && setup_.b->progress()); }

std::vector<Completion> Env::wait(const Ep& ep, bool send_queue, size_t count) {
  CompletionQueue& cq = send_queue ? *ep.send_cq : *ep.recv_cq;
  std::vector<Completion> got;
  Completion batch[16];
  const uint64_t deadline = now() + setup_.timeout_ns;
  uint64_t idle = 0, polls = 0;
  while (got.size() < count) {
    const size_t want = std::min<size_t>(16, count - got.size());
    auto polled = cq.poll(std::span<Completion>(batch, want));
    expect_ok(polled, send_queue ? "poll of the send queue" : "poll of the recv queue");
    got.insert(got.end(), batch, batch + *polled);
    if (*polled > 0) continue;
    idle = progress() ? 0 : idle + 1;
    const bool virtual_time = !setup_.a->clock().is_wall_time();
    // A virtual-time fabric with nothing to run will never complete it.
    const bool gave_up = (virtual_time && idle > 1000) || (++polls % 256 == 0 && now() >= deadline);
    if (gave_up) {
      fail("endpoint " + std::to_string(ep.id()) + (send_queue ? " send" : " recv") + " queue: waited for " +
           std::to_string(count) + " completions, got " + std::to_string(got.size()) +
           (virtual_time && idle > 1000 ? " before the fabric went idle" : " within the timeout"));
    }
  }
  return got;
}

std::vector<Completion> Env::wait_send(const Ep& ep, size_t count) { return wait(ep, true, count); }
std::vector<Completion> Env::wait_recv(const Ep& ep, size_t count) { return wait(ep, false, count); }

void Env::settle() {
  constexpr uint64_t kSettleNs = 5'000'000;
  const uint64_t until = now() + kSettleNs;
  const bool virtual_time = !setup_.a->clock().is_wall_time();
  uint64_t idle = 0;
  while (now() < until) {
    idle = progress() ? 0 : idle + 1;
    if (virtual_time && idle > 100) return;
  }
}

void Env::pass_time(uint64_t ns) {
  const uint64_t until = now() + ns;
  if (setup_.cluster != nullptr && setup_.cluster->virtual_time()) return setup_.cluster->run_until(until);
  const bool virtual_time = !setup_.a->clock().is_wall_time();
  uint64_t idle = 0;
  while (now() < until) {
    idle = progress() ? 0 : idle + 1;
    if (virtual_time && idle > 100) return;  // nothing pending: time would stand still
  }
}

void Env::expect_no_completions(const Ep& ep) {
  settle();
  for (CompletionQueue* cq : {ep.send_cq, ep.recv_cq}) {
    Completion c;
    auto polled = cq->poll(std::span<Completion>(&c, 1));
    expect_ok(polled, "poll");
    if (*polled != 0) {
      fail("endpoint " + std::to_string(ep.id()) + " has an unexpected completion on its " +
           (cq == ep.send_cq ? "send" : "recv") + " queue: " + describe(c));
    }
  }
}

Cluster& Env::cluster_for(const char* what) {
  if (setup_.cluster == nullptr) {
    skip(std::string("needs ") + what + " through the cluster seam, and this run has only the providers");
  }
  return *setup_.cluster;
}

FabricFault Env::fault(FabricFaultKind kind, int side) const {
  FabricFault f;
  f.kind = kind;
  f.node = side == 0 ? setup_.node_a : setup_.node_b;
  f.nic = static_cast<uint32_t>(setup_.rail);
  return f;
}

void Env::inject(FabricFaultKind kind, int side) {
  Cluster& cluster = cluster_for("a fault");
  auto applied = cluster.inject(fault(kind, side));
  if (!applied.ok()) skip(std::string("the fabric cannot inject ") + to_string(kind) + ": " + applied.error().to_string());
}

void Env::inject_at(uint64_t t_ns, FabricFaultKind kind, int side) {
  // Callers inject() first: a fabric that refuses faults is skipped there.
  Cluster& cluster = cluster_for("a timed fault");
  const FabricFault f = fault(kind, side);
  cluster.at(t_ns, [&cluster, f] { (void)cluster.inject(f); });
}

}  // namespace ferry::conformance
