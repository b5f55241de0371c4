#include "hw_tests/peer_link.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace ferry::qualify {
namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool split_host_port(const std::string& host_port, std::string* host, std::string* port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) return false;
  *host = host_port.substr(0, colon);
  *port = host_port.substr(colon + 1);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  return true;
}

std::string numeric_host(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr, text, sizeof text);
  } else if (a.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr, text, sizeof text);
  }
  return text;
}

Result<addrinfo*> resolve(const std::string& host_port, bool passive) {
  std::string host, port;
  if (!split_host_port(host_port, &host, &port)) {
    return make_error(ErrorCode::kInvalidArgument, "'" + host_port + "' is not HOST:PORT");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int err = getaddrinfo(host.c_str(), port.c_str(), &hints, &found)) {
    return make_error(ErrorCode::kInvalidArgument, "cannot resolve '" + host_port + "': " + gai_strerror(err));
  }
  return found;
}

}  // namespace

PeerLink::PeerLink(int fd) : fd_(fd) {
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage a{};
  socklen_t length = sizeof a;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &length) == 0) local_host_ = numeric_host(a);
  length = sizeof a;
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &length) == 0) peer_host_ = numeric_host(a);
}

PeerLink::~PeerLink() { close(); }

void PeerLink::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

VoidResult PeerLink::send(const std::string& kind, std::span<const uint8_t> bytes) {
  if (fd_ < 0) return make_error(ErrorCode::kUnavailable, "the link to the peer is closed");
  if (kind.empty() || kind.size() > 255 || bytes.size() > TcpExchange::kMaxPayload) {
    return make_error(ErrorCode::kInvalidArgument, "link message '" + kind + "' is malformed or too large");
  }
  const std::vector<uint8_t> frame = encode_frame(kind, bytes);
  size_t off = 0;
  while (off < frame.size()) {
    const ssize_t n = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 10'000) <= 0) return make_error(ErrorCode::kDeadlineExceeded, "the peer stopped reading");
      continue;
    }
    return make_error(ErrorCode::kUnavailable, errno_text("sending to the peer"));
  }
  return {};
}

Result<std::optional<ExchangeFrame>> PeerLink::poll() {
  for (;;) {
    size_t consumed = 0;
    auto frame = decode_frame(inbound_, &consumed);
    if (!frame.ok()) return make_error(ErrorCode::kInvalidArgument, "the peer sent garbage: " + frame.error().message);
    if (frame->has_value()) {
      inbound_.erase(inbound_.begin(), inbound_.begin() + static_cast<long>(consumed));
      return frame;
    }
    if (fd_ < 0) return make_error(ErrorCode::kUnavailable, "the link to the peer is closed");
    uint8_t chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      inbound_.insert(inbound_.end(), chunk, chunk + n);
      continue;
    }
    if (n == 0) return make_error(ErrorCode::kUnavailable, "the peer closed the connection (process ended?)");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return std::optional<ExchangeFrame>();
    return make_error(ErrorCode::kUnavailable, errno_text("reading from the peer"));
  }
}

Result<std::vector<uint8_t>> PeerLink::expect(const std::string& kind, uint64_t timeout_ns,
                                              const std::function<void()>& meanwhile) {
  const uint64_t deadline = now_ns() + timeout_ns;
  for (;;) {
    auto got = poll();
    if (!got.ok()) return got.error();
    if (got->has_value()) {
      ExchangeFrame& frame = **got;
      if (frame.from == kind) return std::move(frame.payload);
      return make_error(ErrorCode::kFailedPrecondition,
                        "expected '" + kind + "' from the peer, got '" + frame.from + "': " +
                            std::string(frame.payload.begin(), frame.payload.end()));
    }
    if (now_ns() >= deadline) {
      return make_error(ErrorCode::kDeadlineExceeded, "no '" + kind + "' from the peer within " +
                                                          std::to_string(timeout_ns / 1'000'000) + " ms");
    }
    if (meanwhile) {
      meanwhile();
    } else {
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 1);
    }
  }
}

Result<std::unique_ptr<PeerListener>> PeerListener::open(const std::string& host_port) {
  auto found = resolve(host_port, true);
  if (!found.ok()) return found.error();
  int fd = -1;
  std::string why = "no address";
  for (addrinfo* a = *found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 4) == 0) break;
    why = errno_text("bind/listen");
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(*found);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "cannot listen on " + host_port + ": " + why);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const uint16_t port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<PeerListener>(new PeerListener(fd, port));
}

PeerListener::~PeerListener() { ::close(fd_); }

Result<std::unique_ptr<PeerLink>> PeerListener::accept(uint64_t timeout_ns) {
  pollfd p{fd_, POLLIN, 0};
  const int ms = static_cast<int>(std::min<uint64_t>(timeout_ns / 1'000'000, 1u << 30));
  const int ready = ::poll(&p, 1, ms);
  if (ready == 0) {
    return make_error(ErrorCode::kDeadlineExceeded,
                      "no peer connected to port " + std::to_string(port_) + " within " + std::to_string(ms) + " ms");
  }
  if (ready < 0) return make_error(ErrorCode::kUnavailable, errno_text("waiting for the peer"));
  const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, errno_text("accept"));
  return std::unique_ptr<PeerLink>(new PeerLink(fd));
}

Result<std::unique_ptr<PeerLink>> connect_peer(const std::string& host_port, uint64_t timeout_ns) {
  const uint64_t deadline = now_ns() + timeout_ns;
  std::string why;
  for (;;) {
    auto found = resolve(host_port, false);
    if (!found.ok()) return found.error();
    int fd = -1;
    for (addrinfo* a = *found; a != nullptr && fd < 0; a = a->ai_next) {
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        why = errno_text("connect");
        ::close(fd);
        fd = -1;
      }
    }
    freeaddrinfo(*found);
    if (fd >= 0) return std::unique_ptr<PeerLink>(new PeerLink(fd));
    if (now_ns() >= deadline) {
      return make_error(ErrorCode::kDeadlineExceeded, "cannot reach the peer at " + host_port + " (" + why + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the peer may not listen yet
  }
}

std::string host_port(const std::string& host, uint64_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace ferry::qualify
