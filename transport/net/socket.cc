#include "transport/net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport/clock.h"

namespace ferry::net {
namespace {

uint64_t now_ns() { return SteadyClock().now_ns(); }

int remaining_ms(uint64_t deadline_ns) {
  const uint64_t now = now_ns();
  return now >= deadline_ns ? 0 : static_cast<int>((deadline_ns - now + 999'999) / 1'000'000);
}

// Waits until fd is ready for `events`, or the deadline; false on timeout.
bool wait_ready(int fd, short events, uint64_t deadline_ns) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, remaining_ms(deadline_ns));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

}  // namespace

Result<uint32_t> parse_ipv4(const std::string& host) {
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) != 1) {
    return make_error(ErrorCode::kInvalidArgument, "tcp: '" + host + "' is not an IPv4 address");
  }
  return a.s_addr;
}

std::string format_endpoint(uint32_t ipv4, uint16_t port) {
  char text[INET_ADDRSTRLEN] = {};
  in_addr a{};
  a.s_addr = ipv4;
  inet_ntop(AF_INET, &a, text, sizeof text);
  return std::string(text) + ":" + std::to_string(port);
}

Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  const auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument, "tcp: '" + host_port + "' is not host:port");
  };
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) return bad();
  const std::string port_text = host_port.substr(colon + 1);
  if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) return bad();
  const unsigned long port = std::stoul(port_text);
  if (port == 0 || port > 65535) return bad();
  return std::make_pair(host_port.substr(0, colon), static_cast<uint16_t>(port));
}

Result<uint32_t> resolve_ipv4(const std::string& host) {
  if (auto dotted = parse_ipv4(host); dotted.ok()) return dotted;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int err = getaddrinfo(host.c_str(), nullptr, &hints, &found); err != 0 || found == nullptr) {
    return make_error(ErrorCode::kUnavailable,
                      "tcp: cannot resolve '" + host + "': " + (err != 0 ? gai_strerror(err) : "no address"));
  }
  const uint32_t ipv4 = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr.s_addr;
  freeaddrinfo(found);
  return ipv4;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void set_nodelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Result<int> listen_on(const std::string& host, uint16_t port) {
  auto ip = parse_ipv4(host);
  if (!ip.ok()) return ip.error();
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, std::string("tcp: socket(): ") + std::strerror(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = *ip;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 128) != 0) {
    const int err = errno;
    close(fd);
    return make_error(ErrorCode::kUnavailable, "tcp: cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                                   std::strerror(err));
  }
  return fd;
}

Result<uint16_t> local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return make_error(ErrorCode::kInternal, std::string("tcp: getsockname(): ") + std::strerror(errno));
  }
  return ntohs(a.sin_port);
}

Result<int> connect_to(uint32_t ipv4, uint16_t port, uint64_t timeout_ns) {
  const std::string peer = format_endpoint(ipv4, port);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, std::string("tcp: socket(): ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = ipv4;
  int err = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      if (!wait_ready(fd, POLLOUT, now_ns() + timeout_ns)) {
        close(fd);
        return make_error(ErrorCode::kUnavailable, "tcp: connecting to " + peer + ": no answer within " +
                                                       std::to_string(timeout_ns / 1'000'000) + " ms (unreachable?)");
      }
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  if (err != 0) {
    close(fd);
    return make_error(ErrorCode::kUnavailable, "tcp: connecting to " + peer + ": " + std::strerror(err));
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  set_nodelay(fd);
  return fd;
}

VoidResult write_all(int fd, const void* data, size_t n, uint64_t deadline_ns, const std::string& peer) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    if (!wait_ready(fd, POLLOUT, deadline_ns)) {
      return make_error(ErrorCode::kDeadlineExceeded, "tcp: " + peer + " takes no bytes");
    }
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w < 0) return make_error(ErrorCode::kUnavailable, "tcp: writing to " + peer + ": " + std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

VoidResult read_all(int fd, void* data, size_t n, uint64_t deadline_ns, const std::string& peer) {
  auto* p = static_cast<uint8_t*>(data);
  while (n > 0) {
    if (!wait_ready(fd, POLLIN, deadline_ns)) {
      return make_error(ErrorCode::kDeadlineExceeded, "tcp: " + peer + " did not answer in time");
    }
    const ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r == 0) return make_error(ErrorCode::kUnavailable, "tcp: " + peer + " closed the connection");
    if (r < 0) return make_error(ErrorCode::kUnavailable, "tcp: reading from " + peer + ": " + std::strerror(errno));
    p += r;
    n -= static_cast<size_t>(r);
  }
  return {};
}

Result<size_t> read_some(int fd, void* data, size_t n, uint64_t deadline_ns, const std::string& peer) {
  for (;;) {
    if (!wait_ready(fd, POLLIN, deadline_ns)) {
      return make_error(ErrorCode::kDeadlineExceeded, "tcp: " + peer + " did not answer in time");
    }
    const ssize_t r = recv(fd, data, n, MSG_DONTWAIT);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r < 0) return make_error(ErrorCode::kUnavailable, "tcp: reading from " + peer + ": " + std::strerror(errno));
    return static_cast<size_t>(r);
  }
}

}  // namespace ferry::net
