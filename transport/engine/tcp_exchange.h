// TcpExchange: the out-of-band mailbox between engines on different hosts (or network
// namespaces), over TCP.
//
// Every engine listens on host:port; it knows the others' host:port from a directory
// given at start (a hostfile, a launcher's environment). send() frames a message and
// writes it on a connection to the peer (opened on first use, with a connect timeout);
// poll() accepts connections and reads complete frames without blocking.
//
// Frame: magic "FEXM" (4 bytes), version (2), sender-name length (2), payload length (4),
// sender name, payload; little endian. Names are at most 255 bytes, payloads at most
// kMaxPayload: anything else (a bad magic, another version, an oversized or truncated
// frame) closes that connection and is recorded in last_error(); it never crashes,
// allocates without bound or blocks the poller. A connection holds at most
// kMaxBufferedPerPeer bytes received but not yet polled: a peer that sends faster than
// they are polled is not read from until they are (TCP then slows it down), and
// last_error() says so; nothing is lost.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "transport/engine/exchange.h"

namespace ferry {

struct ExchangeFrame {
  std::string from;
  std::vector<uint8_t> payload;
};

// Decodes one frame from the front of `buffer`. Returns the frame and sets *consumed, or
// nothing with *consumed = 0 when more bytes are needed, or an Error when the bytes can
// never be a frame.
Result<std::optional<ExchangeFrame>> decode_frame(std::span<const uint8_t> buffer, size_t* consumed);
std::vector<uint8_t> encode_frame(const std::string& from, std::span<const uint8_t> payload);

class TcpExchange final : public Exchange {
 public:
  static constexpr uint32_t kMaxPayload = 1u << 20;
  // Per connection: at least one frame of the largest payload fits.
  static constexpr size_t kMaxBufferedPerPeer = 4u << 20;

  // Listens on host:port (port 0: any free port, see port()).
  static Result<std::unique_ptr<TcpExchange>> listen(const std::string& name, const std::string& host,
                                                     uint16_t port);
  ~TcpExchange() override;

  uint16_t port() const { return port_; }
  // Where to find a peer: "host:port".
  VoidResult add_peer(const std::string& name, const std::string& host_port);

  VoidResult send(const std::string& from, const std::string& to, std::vector<uint8_t> bytes) override;
  std::optional<ExchangeMessage> poll(const std::string& me) override;

  // The last malformed input, connection failure or paused reader, for diagnostics.
  const std::string& last_error() const { return last_error_; }
  // Bytes received from peers and not yet polled, over every connection.
  size_t buffered_bytes() const;
  uint64_t connect_timeout_ms = 2000;

 private:
  struct Inbound {
    int fd;
    uint64_t id;
    std::vector<uint8_t> buffer;  // bytes not yet a whole frame
    size_t ready_bytes = 0;       // of its frames waiting in ready_
  };
  struct Ready {
    ExchangeMessage message;
    uint64_t connection;  // Inbound::id
    size_t bytes;         // its frame's size
  };
  TcpExchange(std::string name, int listen_fd, uint16_t port)
      : name_(std::move(name)), listen_fd_(listen_fd), port_(port) {}
  Result<int> connection_to(const std::string& peer);
  void read_ready();

  std::string name_;
  int listen_fd_;
  uint16_t port_;
  std::map<std::string, std::string> directory_;  // name -> host:port
  std::map<std::string, int> outbound_;           // name -> connected socket
  std::vector<Inbound> inbound_;
  uint64_t next_inbound_id_ = 0;
  std::deque<Ready> ready_;
  std::string last_error_;
};

}  // namespace ferry
