#include "sim/ns3/switch.h"

#include <algorithm>

#include "ns3/simulator.h"

namespace ferry::sim::net {
namespace {

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

bool carries_data(const Frame& frame) {
  return frame.kind == FrameKind::kData || frame.kind == FrameKind::kReadResponse;
}

constexpr uint32_t kPauseFrameBytes = 64;

}  // namespace

Switch::Switch(ns3::Ptr<ns3::Node> node, uint64_t salt, const SimulationConfig& config,
               LinkContext* context)
    : node_(node),
      salt_(salt),
      port_buffer_bytes_(config.switch_port_buffer_bytes),
      congestion_(config.congestion),
      pfc_(config.pfc),
      context_(context) {}

uint32_t Switch::add_port(ns3::Ptr<LinkDevice> device) {
  node_->AddDevice(device);  // a switch node's devices are its ports: if index = port
  device->set_sink(this);
  device->set_queue_observer(this);
  ports_.push_back(device);
  ingress_bytes_.push_back(0);
  upstream_paused_.push_back(false);
  return static_cast<uint32_t>(ports_.size() - 1);
}

void Switch::add_route(uint32_t dst_nic, uint32_t port) {
  if (routes_.size() <= dst_nic) routes_.resize(dst_nic + 1);
  routes_[dst_nic].push_back(port);
}

uint32_t Switch::pick_port(const Frame& frame) const {
  const std::vector<uint32_t>& group = routes_[frame.dst_nic];
  if (group.size() == 1) return group[0];
  const uint64_t flow = (uint64_t{frame.src_nic} << 40) ^ (uint64_t{frame.dst_nic} << 16) ^
                        frame.entropy;
  return group[mix(flow ^ salt_) % group.size()];
}

bool Switch::draw_mark(uint64_t queued_bytes) {
  if (queued_bytes <= congestion_.kmin_bytes) return false;
  if (queued_bytes >= congestion_.kmax_bytes) return true;
  const double p = congestion_.pmax * static_cast<double>(queued_bytes - congestion_.kmin_bytes) /
                   static_cast<double>(congestion_.kmax_bytes - congestion_.kmin_bytes);
  return marking_->GetValue() < p;
}

void Switch::on_frame(LinkDevice& in, Frame* frame) {
  NetworkCounters& counters = context_->counters;
  if (frame->dst_nic >= routes_.size() || routes_[frame->dst_nic].empty()) {
    ++counters.frames_dropped;  // no route: a frame for a NIC that does not exist
    context_->frames.put(frame);
    return;
  }
  LinkDevice& out = *ports_[pick_port(*frame)];
  if (out.queued_bytes() + frame->wire_bytes > port_buffer_bytes_) {
    ++counters.frames_dropped;
    context_->frames.put(frame);
    return;
  }
  if (congestion_.enabled && carries_data(*frame) && draw_mark(out.queued_bytes())) {
    frame->ecn_marked = true;
    ++counters.ecn_marked;
  }
  ++counters.switch_frames_forwarded;
  const uint32_t in_port = in.GetIfIndex();
  const uint32_t bytes = frame->wire_bytes;
  frame->ingress_port = static_cast<uint16_t>(in_port);
  const bool queued = out.send(frame);  // `frame` may be gone from here on
  counters.max_switch_queue_bytes = std::max(counters.max_switch_queue_bytes, out.queued_bytes());
  if (pfc_.enabled && queued) {
    ingress_bytes_[in_port] += bytes;
    if (ingress_bytes_[in_port] > pfc_.xoff_bytes && !upstream_paused_[in_port]) {
      pause_upstream(in_port, true);
    }
  }
}

void Switch::on_dequeue(LinkDevice&, const Frame& frame) {
  if (!pfc_.enabled) return;
  const uint32_t port = frame.ingress_port;
  ingress_bytes_[port] -= frame.wire_bytes;
  if (upstream_paused_[port] && ingress_bytes_[port] <= pfc_.xon_bytes) pause_upstream(port, false);
}

// The PAUSE (or resume) frame leaves through the port once the frame on its wire is
// done, ahead of any queued data, and takes the link's delay to reach the sender.
void Switch::pause_upstream(uint32_t port, bool pause) {
  upstream_paused_[port] = pause;
  if (pause) ++context_->counters.pfc_pauses;
  LinkDevice& device = *ports_[port];
  const uint64_t now = static_cast<uint64_t>(ns3::Simulator::Now().GetNanoSeconds());
  const auto frame_ns = static_cast<uint64_t>(kPauseFrameBytes * 8 / device.gbps() + 0.999);
  const uint64_t at = device.free_at_ns() + frame_ns + device.delay_ns();
  ns3::Simulator::Schedule(ns3::NanoSeconds(at - now), &LinkDevice::set_paused, device.peer(), pause);
}

}  // namespace ferry::sim::net
