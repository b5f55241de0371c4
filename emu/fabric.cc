// The fabric: nodes, the event queue that drives time, faults and the trace.
#include "emu/fabric.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "emu/internal.h"

namespace ferry::emu {
namespace {

bool later(const Event& a, const Event& b) {
  return a.time_ns != b.time_ns ? a.time_ns > b.time_ns : a.seq > b.seq;
}

// Fault records in the trace use kinds beyond the completion kinds.
enum FaultKind : uint32_t {
  kFaultLinkDown = 1,
  kFaultLinkUp,
  kFaultNicDeath,
  kFaultNodeLoss,
  kFaultLoss,
  kFaultAckLoss,
  kFaultSrdDuplicate,
};

}  // namespace

uint64_t FabricImpl::FabricClock::now_ns() const {
  return fabric_.deterministic() ? fabric_.virtual_now_.load(std::memory_order_acquire)
                                 : steady_.now_ns();
}

bool FabricImpl::FabricClock::is_wall_time() const { return !fabric_.deterministic(); }

FabricImpl::FabricImpl(FabricConfig config_in) : config(std::move(config_in)), rng(config.seed) {
  if (config.nodes == 0 || config.nodes > 65535) {
    throw std::invalid_argument("emu: nodes must be in [1, 65535]");
  }
  if (config.nics.empty() || config.nics.size() > 64) {
    throw std::invalid_argument("emu: every node needs 1 to 64 NICs");
  }
  for (const NicConfig& nic : config.nics) {
    if (nic.max_sge == 0 || nic.max_sge > kMaxSge) {
      throw std::invalid_argument("emu: max_sge must be in [1, " + std::to_string(kMaxSge) + "]");
    }
    if (!(nic.link_gbps > 0) || nic.mtu < 256) {
      throw std::invalid_argument("emu: link rate must be positive and MTU at least 256");
    }
    if (!(nic.loss_probability >= 0 && nic.loss_probability < 1)) {
      throw std::invalid_argument("emu: loss probability must be in [0, 1)");
    }
  }
  for (uint32_t n = 0; n < config.nodes; ++n) nodes.push_back(std::make_unique<EmuNode>(*this, n));
}

EmuNode::EmuNode(FabricImpl& fabric, uint32_t index) : fabric_(fabric) {
  for (uint32_t nic = 0; nic < fabric.config.nics.size(); ++nic) {
    devices.push_back(std::make_unique<EmuDevice>(fabric, index, nic, fabric.config.nics[nic]));
  }
}

const Clock& EmuNode::clock() const { return fabric_.clock(); }

bool EmuNode::progress() { return fabric_.deterministic() ? fabric_.step() : fabric_.run_due(); }

EmuDevice& FabricImpl::device(uint32_t node, uint32_t nic) const {
  if (node >= nodes.size() || nic >= nodes[node]->devices.size()) {
    throw std::out_of_range("emu: no NIC " + std::to_string(nic) + " on node " +
                            std::to_string(node));
  }
  return *nodes[node]->devices[nic];
}

uint32_t FabricImpl::add_endpoint(EmuEndpoint* endpoint) {
  endpoints_.push_back(endpoint);
  return static_cast<uint32_t>(endpoints_.size());
}

void FabricImpl::remove_endpoint(uint32_t id) {
  if (id >= 1 && id <= endpoints_.size()) endpoints_[id - 1] = nullptr;
}

EmuEndpoint* FabricImpl::endpoint(uint32_t id) const {
  return id >= 1 && id <= endpoints_.size() ? endpoints_[id - 1] : nullptr;
}

void FabricImpl::schedule(uint64_t time_ns, EventKind kind, uint32_t endpoint_id, uint64_t op_seq) {
  std::lock_guard lock(events_mutex_);
  events_.push_back(Event{time_ns, event_seq_++, kind, endpoint_id, op_seq});
  std::push_heap(events_.begin(), events_.end(), later);
  pending_events_.store(events_.size(), std::memory_order_release);
}

uint64_t FabricImpl::add_callback(std::function<void()> fn) {
  std::lock_guard lock(events_mutex_);
  if (!free_callbacks_.empty()) {
    const uint64_t slot = free_callbacks_.back();
    free_callbacks_.pop_back();
    callbacks_[slot] = std::move(fn);
    return slot;
  }
  callbacks_.push_back(std::move(fn));
  return callbacks_.size() - 1;
}

bool FabricImpl::pop_event(uint64_t limit_ns, Event* out) {
  std::lock_guard lock(events_mutex_);
  if (events_.empty() || events_.front().time_ns > limit_ns) return false;
  std::pop_heap(events_.begin(), events_.end(), later);
  *out = events_.back();
  events_.pop_back();
  pending_events_.store(events_.size(), std::memory_order_release);
  return true;
}

void FabricImpl::run_event(const Event& event) {
  if (event.kind == EventKind::kCallback) {
    std::function<void()> fn;
    {
      std::lock_guard lock(events_mutex_);
      fn = std::move(callbacks_[event.op_seq]);
      callbacks_[event.op_seq] = nullptr;
      free_callbacks_.push_back(event.op_seq);
    }
    fn();  // may inject faults, which take the tables exclusively
    return;
  }
  std::shared_lock lock(tables);
  if (EmuEndpoint* endpoint = this->endpoint(event.endpoint_id)) endpoint->on_event(event);
}

// A wire event whose flow has changed rate since: it does nothing. Rate changes leave
// many behind, and step() skips them so that a caller's round per step is not spent on one.
bool FabricImpl::stale(const Event& event) const {
  if (event.kind != EventKind::kWire) return false;
  std::shared_lock lock(tables);
  const EmuEndpoint* endpoint = this->endpoint(event.endpoint_id);
  return endpoint == nullptr || !endpoint->wire_finishes(event.op_seq);
}

// Deterministic mode only: jumps the virtual clock to the next event and runs it.
bool FabricImpl::step(uint64_t limit_ns) {
  Event event;
  do {
    if (!pop_event(limit_ns, &event)) return false;
  } while (stale(event));
  virtual_now_.store(std::max(virtual_now_.load(), event.time_ns), std::memory_order_release);
  run_event(event);
  return true;
}

void FabricImpl::run_until(uint64_t t_ns) {
  if (!deterministic()) {
    run_due();
    return;
  }
  Event event;
  while (pop_event(t_ns, &event)) {
    virtual_now_.store(std::max(virtual_now_.load(), event.time_ns), std::memory_order_release);
    run_event(event);
  }
  virtual_now_.store(std::max(virtual_now_.load(), t_ns), std::memory_order_release);
}

bool FabricImpl::run_due() {
  if (pending_events_.load(std::memory_order_acquire) == 0) return false;
  bool ran = false;
  Event event;
  // Only what is due now: events a retry schedules while this runs wait for the next
  // call, or a retry timer shorter than one pass would keep this loop busy forever.
  const uint64_t limit = now_ns();
  while (pop_event(limit, &event)) {
    run_event(event);
    ran = true;
  }
  return ran;
}

void FabricImpl::wire_changed(WireFlow& flow) {
  schedule(flow.finish_ns(), EventKind::kWire, flow.endpoint_id, flow.generation);
}

void FabricImpl::record(const TraceRecord& r) {
  std::lock_guard lock(trace_mutex_);
  hash_record(trace_hash, r);
  if (config.record_trace) trace.push_back(r);
}

void FabricImpl::record_fault(uint32_t kind, uint32_t node, uint32_t nic) {
  if (!deterministic()) return;
  std::lock_guard lock(trace_mutex_);
  hash_value(trace_hash, now_ns());
  hash_value(trace_hash, kind);
  hash_value(trace_hash, node);
  hash_value(trace_hash, nic);
}

// ---------------------------------------------------------------------------------
// Fabric: the public face.

Fabric::Fabric(FabricConfig config) : impl_(std::make_unique<FabricImpl>(std::move(config))) {}
Fabric::~Fabric() = default;

const FabricConfig& Fabric::config() const { return impl_->config; }
size_t Fabric::node_count() const { return impl_->nodes.size(); }
Provider& Fabric::node(size_t index) { return *impl_->nodes.at(index); }
uint64_t Fabric::now_ns() const { return impl_->now_ns(); }
bool Fabric::step() { return impl_->deterministic() ? impl_->step() : impl_->run_due(); }

bool Fabric::step_until(uint64_t t_ns) { return impl_->deterministic() ? impl_->step(t_ns) : impl_->run_due(); }

size_t Fabric::run_until_idle(size_t max_events) {
  size_t ran = 0;
  while (ran < max_events && step()) ++ran;
  return ran;
}

void Fabric::run_until(uint64_t t_ns) { impl_->run_until(t_ns); }

void Fabric::at(uint64_t t_ns, std::function<void()> fn) {
  const uint64_t slot = impl_->add_callback(std::move(fn));
  impl_->schedule(t_ns, EventKind::kCallback, 0, slot);
}

void Fabric::set_link_up(uint32_t node, uint32_t nic, bool up) {
  impl_->device(node, nic).link_up.store(up);
  impl_->record_fault(up ? kFaultLinkUp : kFaultLinkDown, node, nic);
}

void Fabric::set_loss_probability(uint32_t node, uint32_t nic, double probability) {
  if (!(probability >= 0 && probability < 1)) {
    throw std::invalid_argument("emu: loss probability must be in [0, 1)");
  }
  impl_->device(node, nic).loss_probability.store(probability);
  impl_->record_fault(kFaultLoss, node, nic);
}

void Fabric::lose_acks(uint32_t node, uint32_t nic, uint32_t count) {
  impl_->device(node, nic).acks_to_lose.store(count);
  impl_->record_fault(kFaultAckLoss, node, nic);
}

void Fabric::duplicate_srd(uint32_t node, uint32_t nic, uint32_t count) {
  impl_->device(node, nic).srd_duplicates.store(count);
  impl_->record_fault(kFaultSrdDuplicate, node, nic);
}

void Fabric::kill_nic(uint32_t node, uint32_t nic) {
  EmuDevice& device = impl_->device(node, nic);
  device.dead.store(true);
  impl_->record_fault(kFaultNicDeath, node, nic);
  std::shared_lock lock(impl_->tables);
  for (uint32_t id = 1; id <= impl_->endpoint_count(); ++id) {
    EmuEndpoint* endpoint = impl_->endpoint(id);
    if (endpoint != nullptr && &endpoint->device == &device) endpoint->request_error(false);
  }
}

void Fabric::vanish_node(uint32_t node) {
  if (node >= impl_->nodes.size()) throw std::out_of_range("emu: no node " + std::to_string(node));
  EmuNode& gone = *impl_->nodes[node];
  gone.vanished.store(true);
  for (auto& device : gone.devices) device->dead.store(true);
  impl_->record_fault(kFaultNodeLoss, node, 0);
  std::shared_lock lock(impl_->tables);
  for (uint32_t id = 1; id <= impl_->endpoint_count(); ++id) {
    EmuEndpoint* endpoint = impl_->endpoint(id);
    if (endpoint != nullptr && endpoint->device.node == node) endpoint->request_error(true);
  }
}

std::string Fabric::mode() const { return virtual_time() ? "deterministic" : "fast"; }

void Fabric::advance(uint64_t limit_ns) {
  if (!virtual_time()) {
    step();
    return;
  }
  if (!step_until(limit_ns)) run_until(std::max(limit_ns, now_ns()));
}

VoidResult Fabric::inject(const FabricFault& fault) {
  if (fault.node >= node_count() || (fault.kind != FabricFaultKind::kNodeLoss && fault.nic >= nics_per_node())) {
    return make_error(ErrorCode::kOutOfRange, std::string("emu: ") + to_string(fault.kind) + " on node " +
                                                  std::to_string(fault.node) + " NIC " + std::to_string(fault.nic) +
                                                  ": the fabric has " + std::to_string(node_count()) + " nodes of " +
                                                  std::to_string(nics_per_node()) + " NICs");
  }
  switch (fault.kind) {
    case FabricFaultKind::kLinkDown: set_link_up(fault.node, fault.nic, false); break;
    case FabricFaultKind::kLinkUp: set_link_up(fault.node, fault.nic, true); break;
    case FabricFaultKind::kNicDeath: kill_nic(fault.node, fault.nic); break;
    case FabricFaultKind::kNodeLoss: vanish_node(fault.node); break;
    case FabricFaultKind::kLossRate:
      if (!(fault.value >= 0 && fault.value < 1)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "emu: loss probability " + std::to_string(fault.value) + " is outside [0, 1)");
      }
      set_loss_probability(fault.node, fault.nic, fault.value);
      break;
  }
  return {};
}

Result<NicCounters> Fabric::nic_counters(uint32_t node, uint32_t nic) const {
  if (node >= node_count() || nic >= nics_per_node()) {
    return make_error(ErrorCode::kOutOfRange,
                      "emu: no NIC " + std::to_string(nic) + " on node " + std::to_string(node));
  }
  const EmuDevice& d = impl_->device(node, nic);
  NicCounters c;
  c.tx_bytes = d.tx_bytes.load(std::memory_order_relaxed);
  c.rx_bytes = d.rx_bytes.load(std::memory_order_relaxed);
  if (impl_->deterministic()) {
    // What the operations on the wire have sent so far: counters follow the wire, not
    // each operation's end. One thread drives deterministic mode: no lock needed.
    c.tx_bytes += d.tx_port.partial_bytes(now_ns());
    c.rx_bytes += d.rx_port.partial_bytes(now_ns());
  }
  c.tx_packets = d.tx_packets.load(std::memory_order_relaxed);
  c.rx_packets = d.rx_packets.load(std::memory_order_relaxed);
  c.retransmitted_packets = d.retransmitted_packets.load(std::memory_order_relaxed);
  return c;
}

uint64_t Fabric::trace_hash() const { return impl_->trace_hash; }
const std::vector<TraceRecord>& Fabric::trace() const { return impl_->trace; }

}  // namespace ferry::emu
