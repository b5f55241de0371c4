// RoCE RC: a requester and a responder in one queue pair, over one PSN space per
// direction.
//
// Requester: each request owns a run of PSNs (one per packet; a read owns the PSNs of
// its responses). Packets go out in PSN order; the responder's cumulative ACKs, NAKs and
// read responses move snd_una. A sequence NAK, or a gap in read responses, sends it back
// to the lost PSN (go-back-N; go_back_zero: to the start of its message, which the
// responder discarded too, so a message lands only whole in one attempt); a lost tail is
// found by the retransmission timer (retry_timeout_ns, retry_count times). Requests
// complete in posting order.
//
// Responder: accepts only the expected PSN, places each packet's payload as it is
// accepted, NAKs the first gap once, acknowledges duplicates, re-executes duplicate
// reads, and answers in order (ACKs queue behind read responses).
#pragma once

#include <cstdint>
#include <deque>

#include "sim/endpoint.h"

namespace ferry::sim {

class RcEndpoint final : public SimEndpoint {
 public:
  using SimEndpoint::SimEndpoint;

 private:
  Frame* build_next_frame() override;
  void handle_frame(const Frame& frame) override;
  // What the responder still has to send, in order.
  struct Response {
    FrameKind kind = FrameKind::kAck;  // kAck, kNak, or kReadResponse for a read stream
    NakCode nak = NakCode::kSequence;
    uint64_t psn = 0;  // the ACK's or NAK's; a stream's next response
    // Read stream
    uint64_t op_seq = 0;
    uint64_t offset = 0;  // of the next response in the read
    uint32_t left = 0;    // responses still to send
    uint64_t message_bytes = 0;
    uint64_t remote_addr = 0;
    uint32_t rkey = 0;
  };

  void on_posted(SendOp& op) override;
  void on_timeout() override;
  void on_error() override;

  // Requester
  Frame* next_request();
  SendOp* op_holding(uint64_t psn);
  void acknowledge(uint64_t psn);  // every PSN before `psn` was acknowledged
  void advance_una(uint64_t psn);
  void go_back(uint64_t psn);
  void fail(SendOp& op, Status status);
  void complete_in_order();
  void on_nak(const Frame& frame);
  void on_read_response(const Frame& frame);

  // Responder
  void on_request(const Frame& frame);
  bool execute_read(const Frame& frame);
  void accept_data(const Frame& frame);
  void queue_ack(uint64_t psn);
  void queue_nak(NakCode code, uint64_t psn);
  void refuse(NakCode code, uint64_t psn);  // NAK, and the responder goes to error
  Frame* next_response();

  // Requester state
  uint64_t next_psn_ = 0;  // first PSN of the next request posted
  uint64_t snd_nxt_ = 0;   // next PSN to send
  uint64_t snd_una_ = 0;   // oldest PSN not acknowledged
  uint64_t sent_high_ = 0; // highest PSN sent + 1: below it, a send is a retransmission
  uint64_t tx_seq_ = 0;    // the request holding snd_nxt_ (or before it)
  uint64_t stop_psn_ = kNever;  // first PSN of a failed request: nothing from it is sent
  uint32_t timeouts_ = 0;  // in a row, without progress
  bool rnr_wait_ = false;  // an RNR NAK paused sending until the timer fires
  bool read_gap_ = false;  // a gap in read responses sent us back already

  // Responder state
  uint64_t epsn_ = 0;  // expected PSN
  uint64_t message_start_ = 0;  // first PSN of the message epsn_ is in
  bool nak_sent_ = false;
  uint32_t unacknowledged_ = 0;
  std::deque<Response> responses_;
};

}  // namespace ferry::sim
