#include "sim/ns3/link.h"

#include <algorithm>
#include <cmath>

#include "ns3/simulator.h"

namespace ferry::sim::net {
namespace {

uint64_t now_ns() { return static_cast<uint64_t>(ns3::Simulator::Now().GetNanoSeconds()); }
uint64_t ceil_ns(uint64_t ps) { return (ps + 999) / 1000; }

}  // namespace

// ---------------------------------------------------------------------------------
// LinkChannel

ns3::TypeId LinkChannel::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("ferry::sim::net::LinkChannel")
                               .SetParent<ns3::Channel>()
                               .SetGroupName("Network")
                               .AddConstructor<LinkChannel>();
  return tid;
}

void LinkChannel::connect(ns3::Ptr<LinkDevice> a, ns3::Ptr<LinkDevice> b) {
  devices_[0] = a;
  devices_[1] = b;
  a->attach(this, ns3::PeekPointer(b));
  b->attach(this, ns3::PeekPointer(a));
}

ns3::Ptr<ns3::NetDevice> LinkChannel::GetDevice(std::size_t i) const { return devices_[i]; }

void LinkChannel::DoDispose() {
  devices_[0] = nullptr;
  devices_[1] = nullptr;
  ns3::Channel::DoDispose();
}

// ---------------------------------------------------------------------------------
// LinkDevice

ns3::TypeId LinkDevice::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("ferry::sim::net::LinkDevice")
                               .SetParent<ns3::NetDevice>()
                               .SetGroupName("Network")
                               .AddConstructor<LinkDevice>();
  return tid;
}

void LinkDevice::configure(LinkContext* context, double gbps, uint64_t delay_ns,
                           uint32_t address, ns3::Ptr<ns3::UniformRandomVariable> loss_stream) {
  context_ = context;
  gbps_ = gbps;
  ps_per_byte_ = 8000.0 / gbps;
  delay_ns_ = delay_ns;
  loss_stream_ = loss_stream;
  uint8_t bytes[6] = {0x02, 0, static_cast<uint8_t>(address >> 24),
                      static_cast<uint8_t>(address >> 16), static_cast<uint8_t>(address >> 8),
                      static_cast<uint8_t>(address)};
  address_.CopyFrom(bytes);
}

void LinkDevice::attach(ns3::Ptr<LinkChannel> channel, LinkDevice* peer) {
  channel_ = channel;
  peer_ = peer;
}

uint64_t LinkDevice::free_at_ns() const { return std::max(now_ns(), ceil_ns(busy_until_ps_)); }

bool LinkDevice::send(Frame* frame) {
  const uint64_t now_ps = now_ns() * 1000;
  if (!paused_ && queue_.empty() && !tx_done_pending_ && busy_until_ps_ < now_ps + 1000) {
    transmit(frame);
    return false;
  }
  queue_.push_back(frame);
  queued_bytes_ += frame->wire_bytes;
  if (!tx_done_pending_ && !paused_) schedule_tx_done();
  return true;
}

void LinkDevice::wake() {
  if (!tx_done_pending_ && !paused_) schedule_tx_done();
}

uint64_t LinkDevice::paused_ns() const {
  return paused_ns_ + (paused_ ? now_ns() - paused_since_ns_ : 0);
}

void LinkDevice::set_paused(bool paused) {
  if (paused && !paused_) paused_since_ns_ = now_ns();
  if (!paused && paused_) paused_ns_ += now_ns() - paused_since_ns_;
  paused_ = paused;
  if (!paused_ && !tx_done_pending_ && (source_ != nullptr || !queue_.empty())) schedule_tx_done();
}

Frame* LinkDevice::next_to_send() {
  if (!queue_.empty()) {
    Frame* frame = queue_.front();
    queue_.pop_front();
    queued_bytes_ -= frame->wire_bytes;
    if (observer_ != nullptr) observer_->on_dequeue(*this, *frame);
    return frame;
  }
  return source_ != nullptr ? source_->next_frame() : nullptr;
}

// Puts one frame on the wire. A frame that follows the previous one within a nanosecond
// starts exactly where it ended, so rounding to whole nanoseconds never costs rate.
void LinkDevice::transmit(Frame* frame) {
  const uint64_t now = now_ns();
  const uint64_t now_ps = now * 1000;
  const uint64_t start_ps = now_ps < busy_until_ps_ + 1000 ? busy_until_ps_ : now_ps;
  busy_until_ps_ = start_ps + static_cast<uint64_t>(std::llround(frame->wire_bytes * ps_per_byte_));
  NetworkCounters& counters = context_->counters;
  if (source_ != nullptr) {
    ++counters.nic_frames_sent;
    if (frame->kind == FrameKind::kData || frame->kind == FrameKind::kReadResponse) {
      ++counters.nic_data_frames_sent;
    }
  }
  if (!up_ || draw_loss(*frame)) {
    drop(frame, &NetworkCounters::frames_lost);
    return;
  }
  const uint64_t arrival = std::max(now, ceil_ns(busy_until_ps_)) + delay_ns_;
  ns3::Simulator::ScheduleWithContext(peer_->GetNode()->GetId(), ns3::NanoSeconds(arrival - now),
                                      &LinkDevice::arrive, peer_, frame);
}

void LinkDevice::schedule_tx_done() {
  tx_done_pending_ = true;
  const uint64_t now = now_ns();
  const uint64_t at = std::max(now, ceil_ns(busy_until_ps_));
  ns3::Simulator::Schedule(ns3::NanoSeconds(at - now), &LinkDevice::on_tx_done, this);
}

void LinkDevice::on_tx_done() {
  tx_done_pending_ = false;
  if (paused_) return;  // resuming schedules the next
  Frame* frame = next_to_send();
  if (frame == nullptr) return;
  transmit(frame);
  // A NIC may have more at any time; a switch port only if its queue does.
  if (source_ != nullptr || !queue_.empty()) schedule_tx_done();
}

void LinkDevice::arrive(Frame* frame) {
  if (!up_) {
    drop(frame, &NetworkCounters::frames_lost);
    return;
  }
  if (source_ != nullptr) ++context_->counters.nic_frames_received;
  sink_->on_frame(*this, frame);
}

bool LinkDevice::draw_loss(const Frame& frame) {
  if (loss_ <= 0) return false;
  const double p = frame.frames == 1 ? loss_ : 1.0 - std::pow(1.0 - loss_, frame.frames);
  return loss_stream_->GetValue() < p;
}

void LinkDevice::drop(Frame* frame, uint64_t NetworkCounters::*counter) {
  ++(context_->counters.*counter);
  context_->frames.put(frame);
}

// ns3::NetDevice

ns3::Ptr<ns3::Channel> LinkDevice::GetChannel() const { return channel_; }

void LinkDevice::SetAddress(ns3::Address address) {
  address_ = ns3::Mac48Address::ConvertFrom(address);
}

bool LinkDevice::SetMtu(const uint16_t mtu) {
  mtu_ = mtu;
  return true;
}

ns3::Address LinkDevice::GetMulticast(ns3::Ipv4Address group) const {
  return ns3::Mac48Address::GetMulticast(group);
}

ns3::Address LinkDevice::GetMulticast(ns3::Ipv6Address group) const {
  return ns3::Mac48Address::GetMulticast(group);
}

bool LinkDevice::Send(ns3::Ptr<ns3::Packet>, const ns3::Address&, uint16_t) { return false; }

bool LinkDevice::SendFrom(ns3::Ptr<ns3::Packet>, const ns3::Address&, const ns3::Address&,
                          uint16_t) {
  return false;
}

void LinkDevice::DoDispose() {
  channel_ = nullptr;
  node_ = nullptr;
  peer_ = nullptr;
  queue_.clear();  // the frames belong to the pool, which outlives the simulator
  ns3::NetDevice::DoDispose();
}

}  // namespace ferry::sim::net
