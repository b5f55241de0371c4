// PeerLink: the two processes of a two-process qualification run (or of
// workload_peer), joined by one TCP connection that carries the bootstrap (endpoint
// addresses, buffer addresses and keys, region descriptors, exchange ports) and the
// step-by-step handshakes of each check.
//
// Messages are the exchange's frames (tcp_exchange.h): the frame's sender name carries
// the message kind ("ready", "verdict", ...), its payload the bytes. Every wait has a
// timeout; a peer that closed the connection or died is an error at once, never a hang.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "transport/engine/tcp_exchange.h"
#include "transport/result.h"
#include "transport/wire_fields.h"

namespace ferry::qualify {

class PeerLink {
 public:
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Sends one message of `kind` (1..255 bytes).
  VoidResult send(const std::string& kind, std::span<const uint8_t> bytes = {});
  // The next message if one is complete, without waiting; an error once the peer closed
  // the connection or sent something that is not a frame.
  Result<std::optional<ExchangeFrame>> poll();
  // Waits for the next message, which must be of `kind`, at most `timeout_ns`, calling
  // `meanwhile` between polls (to keep an engine moving). A message of another kind is an
  // error quoting it (the peer's "abort" carries its reason).
  Result<std::vector<uint8_t>> expect(const std::string& kind, uint64_t timeout_ns,
                                      const std::function<void()>& meanwhile = {});

  // This end's address as the peer reaches it, and the peer's host (numeric).
  const std::string& local_host() const { return local_host_; }
  const std::string& peer_host() const { return peer_host_; }
  // Closes the connection: the peer's next poll sees it.
  void close();

 private:
  friend class PeerListener;
  friend Result<std::unique_ptr<PeerLink>> connect_peer(const std::string& host_port, uint64_t timeout_ns);
  explicit PeerLink(int fd);

  int fd_;
  std::vector<uint8_t> inbound_;
  std::string local_host_;
  std::string peer_host_;
};

class PeerListener {
 public:
  // Listens on "host:port" (port 0: any free port, see port()).
  static Result<std::unique_ptr<PeerListener>> open(const std::string& host_port);
  ~PeerListener();
  uint16_t port() const { return port_; }
  // Waits at most `timeout_ns` for the peer to connect.
  Result<std::unique_ptr<PeerLink>> accept(uint64_t timeout_ns);

 private:
  PeerListener(int fd, uint16_t port) : fd_(fd), port_(port) {}
  int fd_;
  uint16_t port_;
};

// Connects to a listener at "host:port", retrying while it is not up yet, for at most
// `timeout_ns`.
Result<std::unique_ptr<PeerLink>> connect_peer(const std::string& host_port, uint64_t timeout_ns);

// "host:port", with an IPv6 host in brackets.
std::string host_port(const std::string& host, uint64_t port);

}  // namespace ferry::qualify
