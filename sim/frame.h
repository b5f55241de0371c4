// A simulated packet and the pool that recycles them.
//
// Frames carry sizes and the transport's header fields, not the bytes: the receiver
// copies the payload from the sender's registered memory when the frame is accepted
// (docs/simulation.md, "The data path"). A plain pooled struct instead of an ns3::Packet
// with an ns3::Header: creating, serialising and parsing a Packet costs about 260 ns
// here, more than the rest of a hop.
//
// Plain C++ that compiles as C++17 and C++20 (shared by both sides of the simulation).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace ferry::sim {

enum class FrameKind : uint8_t {
  kData,          // payload of a write, write-with-imm or send
  kReadRequest,   // RC: asks for the rest of a read from `psn`; SRD: one chunk
  kReadResponse,  // payload of a read
  kAck,           // RC: everything up to `psn`; SRD: packet `index` of message `psn`
  kNak,           // RC: at `psn`; SRD: message `psn` refused (see NakCode)
  kCnp,           // congestion notification: the receiver saw ECN marks (DCQCN)
};

enum class NakCode : uint8_t {
  kSequence,         // RC: a gap; resend from psn
  kReceiverNotReady, // no recv posted
  kRemoteAccess,     // key, range, right or domain refused
  kRemoteOperation,  // the recv was not writable
  kInvalidRequest,   // the recv was too short for the send
};

struct Frame {
  FrameKind kind = FrameKind::kData;
  NakCode nak = NakCode::kSequence;
  uint8_t opcode = 0;  // ferry::Opcode of the message
  bool first = false;  // first packet of the message
  bool last = false;   // last packet of the message
  bool ecn_marked = false;  // a switch queue was congested (ECN CE)
  uint16_t entropy = 0;  // ECMP input: per endpoint for RC, per packet (the path) for SRD

  uint32_t src_nic = 0;  // global NIC index: host * nics_per_host + nic
  uint32_t dst_nic = 0;
  uint32_t src_endpoint = 0;
  uint32_t dst_endpoint = 0;

  uint16_t ingress_port = 0;   // the switch port it came in on, while buffered (PFC)
  uint32_t wire_bytes = 0;     // serialisation size: payload plus headers
  uint32_t frames = 1;         // MTU frames this packet stands for (loss is per frame)
  uint32_t payload_bytes = 0;

  uint64_t psn = 0;       // RC: packet sequence number; SRD: the message's sequence number
  uint32_t index = 0;     // SRD: packet of the message; RC read request: packets asked for
  uint32_t attempt = 0;   // SRD: which try of the message (RNR restarts it)
  uint64_t op_seq = 0;    // the requester's work request (to find its scatter-gather list)
  uint64_t offset = 0;    // byte offset of the payload in the message
  uint64_t message_bytes = 0;
  uint64_t remote_addr = 0;
  uint32_t rkey = 0;
  uint32_t imm = 0;
  uint64_t sender_head = 0;  // SRD: the oldest message the sender still works on
  uint64_t sent_ns = 0;      // SRD: when the packet left; echoed in its ACK (RTT samples)
};

// Frames live in chunks that stay put, so a Frame* stays valid while it travels through
// scheduled events; released frames are reused. One thread only.
class FramePool {
 public:
  Frame* get() {
    if (free_.empty()) grow();
    Frame* frame = free_.back();
    free_.pop_back();
    *frame = Frame{};
    ++live_;
    return frame;
  }
  void put(Frame* frame) {
    free_.push_back(frame);
    --live_;
  }
  size_t live() const { return live_; }

 private:
  static constexpr size_t kChunk = 1024;
  void grow() {
    chunks_.push_back(std::make_unique<Frame[]>(kChunk));
    for (size_t i = kChunk; i > 0; --i) free_.push_back(&chunks_.back()[i - 1]);
  }

  std::vector<std::unique_ptr<Frame[]>> chunks_;
  std::vector<Frame*> free_;
  size_t live_ = 0;
};

}  // namespace ferry::sim
