// The seam between the simulated NICs (provider side, C++20) and the network that
// carries their frames (ns-3 side, C++17): links, switches, queues, time and randomness.
//
// Plain C++ that compiles as C++17 and C++20; no ns-3 type appears here, so the
// provider side never includes an ns-3 header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "sim/config.h"
#include "sim/frame.h"

namespace ferry::sim {

// A NIC as the network sees it. NICs are numbered host * nics_per_host + nic.
class FramePort {
 public:
  virtual ~FramePort() = default;
  // The NIC's link is free: the next frame to put on the wire, or null for none. The
  // network owns the frame from here.
  virtual Frame* next_frame() = 0;
  // A frame addressed to this NIC arrived; the NIC owns it and must release it.
  virtual void receive(Frame* frame) = 0;
};

struct NetworkCounters {
  uint64_t nic_frames_sent = 0;     // every frame a NIC put on the wire
  uint64_t nic_data_frames_sent = 0;  // of which payload (data and read responses)
  uint64_t nic_frames_received = 0;
  uint64_t frames_lost = 0;         // to link loss or a link that was down
  uint64_t frames_dropped = 0;      // to a full switch queue
  uint64_t switch_frames_forwarded = 0;
  uint64_t max_switch_queue_bytes = 0;
  uint64_t ecn_marked = 0;   // packets a switch marked
  uint64_t pfc_pauses = 0;   // PAUSE frames a switch sent
  uint64_t pfc_paused_ns = 0;  // time devices spent paused, summed over every device
};

class Network {
 public:
  virtual ~Network() = default;

  virtual uint32_t nic_count() const = 0;
  // Every NIC must be attached before the first frame moves.
  virtual void attach(uint32_t nic, FramePort* port) = 0;
  // The NIC has something to send: if its link is idle, it will be asked for a frame.
  virtual void wake(uint32_t nic) = 0;

  // Virtual time.
  virtual uint64_t now_ns() const = 0;
  virtual void schedule(uint64_t at_ns, std::function<void()> fn) = 0;
  // Runs every event of the next instant that has any; false when nothing is pending.
  virtual bool step() = 0;
  // Runs every event up to t_ns and leaves the clock there.
  virtual void run_until(uint64_t t_ns) = 0;
  // Runs until nothing is pending, stop() is called, or the clock would pass limit_ns;
  // the clock stays at the last event run. True when nothing is pending.
  virtual bool run(uint64_t limit_ns) = 0;
  // Ends the current run() after the event in progress.
  virtual void stop() = 0;
  virtual bool idle() const = 0;

  // Seeded randomness: a value in [0, bound) from the NIC's own stream.
  virtual uint32_t draw(uint32_t nic, uint32_t bound) = 0;

  // Links. Throw std::out_of_range for a link the topology does not have.
  virtual void set_link_up(const LinkId& link, bool up) = 0;
  virtual void set_link_loss(const LinkId& link, double loss) = 0;
  virtual double link_gbps(const LinkId& link) const = 0;
  virtual uint64_t link_delay_ns(const LinkId& link) const = 0;

  virtual NetworkCounters counters() const = 0;
};

// The ns-3 network of a configuration (validated by the caller). Frames come from and
// go back to `frames`. Only one may exist at a time: ns-3's simulator is global.
std::unique_ptr<Network> make_ns3_network(const SimulationConfig& config, FramePool& frames);

}  // namespace ferry::sim
