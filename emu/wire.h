// Deterministic mode: the wire as a shared resource. Every NIC has a transmit port and a
// receive port; an operation on the wire crosses the sender's transmit port and the
// receiver's receive port, and each port is shared fairly by the operations crossing it.
// Not for use outside emu/.
//
// The model is fluid: an operation on the wire moves at
//   min(tx.gbps / operations on tx, rx.gbps / operations on rx)
// and its rate, and so its finish time, change whenever an operation joins or leaves one
// of its ports. No port ever carries more than its line rate. It is not max-min fair:
// bandwidth a flow cannot use at its other port is not handed to the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace ferry::emu {

struct WireFlow;

// One direction of one NIC.
struct WirePort {
  double gbps = 0;
  std::vector<WireFlow*> flows;  // in joining order, so that runs are deterministic

  // Bytes of the operations now on this port that have already crossed it.
  uint64_t partial_bytes(uint64_t now_ns) const;
};

// One endpoint's operation on the wire (an endpoint puts one on at a time).
struct WireFlow {
  uint32_t endpoint_id = 0;
  WirePort* tx = nullptr;
  WirePort* rx = nullptr;  // null when the target is gone: only the sender's port limits it
  uint64_t bytes = 0;
  double bits_left = 0;    // as of since_ns
  double gbps = 0;         // bits per ns
  uint64_t since_ns = 0;
  uint64_t generation = 0;  // bumped at every rate change: finish events of older ones are stale

  bool on_wire() const { return tx != nullptr; }
  uint64_t finish_ns() const;
  uint64_t bytes_sent(uint64_t now_ns) const;
};

// Called for every flow whose rate changed (the joining one included), so that its
// finish event is scheduled again.
using WireChanged = std::function<void(WireFlow&)>;

// Puts `flow` on the wire with `bytes` to send; if it was on already (its previous
// operation just finished), moves it. The ports it leaves and joins are shared again.
void wire_start(WireFlow& flow, WirePort& tx, WirePort* rx, uint64_t bytes, uint64_t now_ns,
                const WireChanged& changed);
// Takes `flow` off the wire; returns the bytes it had sent.
uint64_t wire_stop(WireFlow& flow, uint64_t now_ns, const WireChanged& changed);

}  // namespace ferry::emu
