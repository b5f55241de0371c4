// EFA-like SRD: reliable, unordered, one peer per endpoint.
//
// Sender: requests run side by side. Each packet goes out on a path drawn from the
// NIC's seeded stream (srd_paths of them: the ECMP entropy), at most srd_window_packets
// unacknowledged at a time. The receiver acknowledges every packet; a packet not
// acknowledged within the RTO is sent again on a new path (selective). The RTO follows
// the measured round trip as in TCP (RFC 6298: srtt + 4 rttvar, every ACK echoes its
// packet's send time), at least srd_min_rto_ns; each resend doubles
// it until the next ACK, and a timer that expires is checked against the current RTO
// first, so that a queue building up does not trigger a storm of resends. A packet
// unanswered for (retry_count + 1) * retry_timeout_ns fails its request with
// kRetryExceeded. A request completes, in any order, when all its packets are
// acknowledged (a read: when all its chunks came back). An RNR NAK restarts the whole
// message after rnr_timer_ns; other errors fail only that request.
//
// Receiver: places each packet's payload as it lands, in any order. The first packet to
// land decides for the message (checks; a send or write-with-imm takes the next recv,
// so recvs are consumed in arrival order); the message completes at the target when
// its last missing packet lands.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <queue>
#include <vector>

#include "sim/endpoint.h"

namespace ferry::sim {

class SrdEndpoint final : public SimEndpoint {
 public:
  using SimEndpoint::SimEndpoint;
  ~SrdEndpoint() override;

 private:
  Frame* build_next_frame() override;
  void handle_frame(const Frame& frame) override;
  // A packet on the wire, waiting for its acknowledgement.
  struct Sent {
    uint64_t seq = 0;
    uint32_t index = 0;
    uint32_t attempt = 0;
    uint32_t retries = 0;       // times sent again so far
    uint64_t first_sent_ns = 0; // its first send in this attempt
    uint64_t sent_ns = 0;       // this copy's send
    uint64_t deadline_ns = 0;   // looked at again then
  };
  struct LaterDeadline {
    bool operator()(const Sent& a, const Sent& b) const { return a.deadline_ns > b.deadline_ns; }
  };
  // A message being received.
  struct Inbound {
    uint32_t attempt = 0;
    uint32_t packets = 0;
    uint32_t received = 0;
    std::vector<bool> got;
    bool complete = false;
    bool refused = false;
    NakCode refusal = NakCode::kRemoteAccess;
    bool has_recv = false;
    RecvOp recv;
  };

  void on_posted(SendOp& op) override;
  void on_timeout() override;
  void on_error() override;

  // Sender
  Frame* next_packet();
  Frame* build_packet(SendOp& op, uint32_t index, uint32_t retries, uint64_t first_sent_ns);
  uint64_t retransmit_timeout() const;
  uint64_t give_up_ns() const;
  void sample_round_trip(uint64_t sent_ns);
  bool waiting(const Sent& sent);  // still unacknowledged, in its request's attempt
  void on_ack(const Frame& frame);
  void on_read_response(const Frame& frame);
  void on_nak(const Frame& frame);
  void acknowledge(SendOp& op, uint32_t index);
  void finish(SendOp& op, Status status);
  void restart(SendOp& op);
  void arm_next_deadline();

  // Receiver
  void on_data(const Frame& frame);
  void on_read_request(const Frame& frame);
  Inbound* admit(const Frame& frame);
  void prune(uint64_t sender_head);
  void reply(FrameKind kind, const Frame& about, NakCode nak = NakCode::kSequence);
  void refuse(Inbound& message, NakCode code, const Frame& about);

  std::deque<Frame*> control_;  // ACKs, NAKs and read responses ready to go, in order
  std::priority_queue<Sent, std::vector<Sent>, LaterDeadline> in_flight_;  // earliest first
  std::deque<Sent> resend_;
  double srtt_ns_ = 0;
  double rttvar_ns_ = 0;
  bool measured_ = false;  // srtt_ns_ holds a sample
  uint32_t backoff_ = 1;   // doubles on every resend, back to 1 on an ACK
  uint32_t window_used_ = 0;
  uint64_t tx_seq_ = 0;  // requests before it have sent all their packets
  std::map<uint64_t, Inbound> inbound_;  // by the sender's request sequence number
  uint64_t pruned_below_ = 0;
};

}  // namespace ferry::sim
