// A full-duplex point-to-point link: a channel and the device at each end.
//
// A device serialises frames at its rate, one at a time, and delivers each to the
// peer device one propagation delay after its last bit left. Frames come from the
// device's egress queue (switch ports) or, when the queue is empty, are pulled from the
// NIC behind it (host ports): a NIC hands over a frame only when its link is free, as
// hardware does. Loss and link state apply per direction and per MTU frame. A paused
// device (PFC) finishes the frame on the wire and starts no other until resumed.
//
// Times are kept in picoseconds inside the device, so that back-to-back frames keep the
// exact line rate although events fire on whole nanoseconds.
//
// ns-3 internals: C++17 only.
#pragma once

#include <cstdint>
#include <deque>

#include "ns3/channel.h"
#include "ns3/mac48-address.h"
#include "ns3/net-device.h"
#include "ns3/node.h"
#include "ns3/random-variable-stream.h"
#include "sim/network.h"

namespace ferry::sim::net {

class LinkDevice;

// Where frames that arrive on a device go (a switch, or the NIC behind a host port).
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual void on_frame(LinkDevice& device, Frame* frame) = 0;
};

// Told when a frame that waited in a device's egress queue leaves it (PFC accounting).
class QueueObserver {
 public:
  virtual ~QueueObserver() = default;
  virtual void on_dequeue(LinkDevice& device, const Frame& frame) = 0;
};

// What every device shares: the frame pool and the counters.
struct LinkContext {
  FramePool& frames;
  NetworkCounters& counters;
};

class LinkChannel final : public ns3::Channel {
 public:
  static ns3::TypeId GetTypeId();
  void connect(ns3::Ptr<LinkDevice> a, ns3::Ptr<LinkDevice> b);
  std::size_t GetNDevices() const override { return 2; }
  ns3::Ptr<ns3::NetDevice> GetDevice(std::size_t i) const override;

 private:
  void DoDispose() override;
  ns3::Ptr<LinkDevice> devices_[2];
};

class LinkDevice final : public ns3::NetDevice {
 public:
  static ns3::TypeId GetTypeId();

  // Set up before the first frame moves.
  void configure(LinkContext* context, double gbps, uint64_t delay_ns, uint32_t address,
                 ns3::Ptr<ns3::UniformRandomVariable> loss_stream);
  void attach(ns3::Ptr<LinkChannel> channel, LinkDevice* peer);
  void set_sink(FrameSink* sink) { sink_ = sink; }
  void set_source(FramePort* source) { source_ = source; }  // host ports only
  void set_queue_observer(QueueObserver* observer) { observer_ = observer; }
  void set_loss(double loss) { loss_ = loss; }
  void set_up(bool up) { up_ = up; }

  double gbps() const { return gbps_; }
  uint64_t delay_ns() const { return delay_ns_; }
  LinkDevice* peer() const { return peer_; }
  uint64_t queued_bytes() const { return queued_bytes_; }
  // When the frame now on the wire has left (now, if none).
  uint64_t free_at_ns() const;
  // How long PFC kept this device paused, up to now (a pause still on counts so far).
  uint64_t paused_ns() const;

  // Switch ports: sends `frame` now if the link is free, else queues it; true if queued.
  bool send(Frame* frame);
  // Host ports: the NIC has frames; pull them as the link frees up.
  void wake();
  // PFC PAUSE (true) and resume (false), from the device at the other end.
  void set_paused(bool paused);

  // ns3::NetDevice. Frames travel through send() and the sink; the Packet interface is
  // not used by the simulation, so Send/SendFrom refuse.
  void SetIfIndex(const uint32_t index) override { if_index_ = index; }
  uint32_t GetIfIndex() const override { return if_index_; }
  ns3::Ptr<ns3::Channel> GetChannel() const override;
  void SetAddress(ns3::Address address) override;
  ns3::Address GetAddress() const override { return address_; }
  bool SetMtu(const uint16_t mtu) override;
  uint16_t GetMtu() const override { return mtu_; }
  bool IsLinkUp() const override { return up_; }
  void AddLinkChangeCallback(ns3::Callback<void>) override {}
  bool IsBroadcast() const override { return false; }
  ns3::Address GetBroadcast() const override { return ns3::Mac48Address::GetBroadcast(); }
  bool IsMulticast() const override { return false; }
  ns3::Address GetMulticast(ns3::Ipv4Address group) const override;
  ns3::Address GetMulticast(ns3::Ipv6Address group) const override;
  bool IsBridge() const override { return false; }
  bool IsPointToPoint() const override { return true; }
  bool Send(ns3::Ptr<ns3::Packet> packet, const ns3::Address& dest, uint16_t protocol) override;
  bool SendFrom(ns3::Ptr<ns3::Packet> packet, const ns3::Address& source,
                const ns3::Address& dest, uint16_t protocol) override;
  ns3::Ptr<ns3::Node> GetNode() const override { return node_; }
  void SetNode(ns3::Ptr<ns3::Node> node) override { node_ = node; }
  bool NeedsArp() const override { return false; }
  void SetReceiveCallback(ns3::NetDevice::ReceiveCallback) override {}
  void SetPromiscReceiveCallback(ns3::NetDevice::PromiscReceiveCallback) override {}
  bool SupportsSendFrom() const override { return false; }

 private:
  void DoDispose() override;
  Frame* next_to_send();
  void transmit(Frame* frame);
  void schedule_tx_done();
  void on_tx_done();
  void arrive(Frame* frame);
  bool draw_loss(const Frame& frame);
  void drop(Frame* frame, uint64_t NetworkCounters::*counter);

  LinkContext* context_ = nullptr;
  double gbps_ = 0;
  double ps_per_byte_ = 0;
  uint64_t delay_ns_ = 0;
  bool up_ = true;
  double loss_ = 0;
  ns3::Ptr<ns3::UniformRandomVariable> loss_stream_;

  ns3::Ptr<LinkChannel> channel_;
  LinkDevice* peer_ = nullptr;
  FrameSink* sink_ = nullptr;
  FramePort* source_ = nullptr;
  QueueObserver* observer_ = nullptr;
  bool paused_ = false;
  uint64_t paused_since_ns_ = 0;
  uint64_t paused_ns_ = 0;  // of the pauses that ended

  std::deque<Frame*> queue_;
  uint64_t queued_bytes_ = 0;
  uint64_t busy_until_ps_ = 0;  // the last bit of the frame on the wire leaves then
  bool tx_done_pending_ = false;

  ns3::Ptr<ns3::Node> node_;
  uint32_t if_index_ = 0;
  ns3::Mac48Address address_;
  uint16_t mtu_ = 9000;
};

}  // namespace ferry::sim::net
