#include "transport/engine/tcp_exchange.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry {
namespace {

constexpr uint32_t kFrameMagic = 0x4d584546;  // "FEXM"
constexpr uint16_t kFrameVersion = 1;
constexpr size_t kHeaderBytes = 4 + 2 + 2 + 4;
constexpr size_t kMaxName = 255;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

// Writes all of `bytes`, waiting for the socket at most `timeout_ms` in total.
bool write_all(int fd, const std::vector<uint8_t>& bytes, int timeout_ms) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

bool split_host_port(const std::string& host_port, std::string* host, std::string* port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) return false;
  *host = host_port.substr(0, colon);
  *port = host_port.substr(colon + 1);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_frame(const std::string& from, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(kHeaderBytes);
  const uint16_t name_length = static_cast<uint16_t>(from.size());
  const uint32_t payload_length = static_cast<uint32_t>(payload.size());
  std::memcpy(out.data(), &kFrameMagic, 4);
  std::memcpy(out.data() + 4, &kFrameVersion, 2);
  std::memcpy(out.data() + 6, &name_length, 2);
  std::memcpy(out.data() + 8, &payload_length, 4);
  out.insert(out.end(), from.begin(), from.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Result<std::optional<ExchangeFrame>> decode_frame(std::span<const uint8_t> buffer, size_t* consumed) {
  *consumed = 0;
  if (buffer.size() < 4) return std::optional<ExchangeFrame>();
  uint32_t magic;
  std::memcpy(&magic, buffer.data(), 4);
  if (magic != kFrameMagic) return make_error(ErrorCode::kInvalidArgument, "not an exchange frame (bad magic)");
  if (buffer.size() < kHeaderBytes) return std::optional<ExchangeFrame>();
  uint16_t version, name_length;
  uint32_t payload_length;
  std::memcpy(&version, buffer.data() + 4, 2);
  std::memcpy(&name_length, buffer.data() + 6, 2);
  std::memcpy(&payload_length, buffer.data() + 8, 4);
  if (version != kFrameVersion) {
    return make_error(ErrorCode::kInvalidArgument,
                      "exchange frame version " + std::to_string(version) + ", expected " +
                          std::to_string(kFrameVersion));
  }
  if (name_length == 0 || name_length > kMaxName) {
    return make_error(ErrorCode::kInvalidArgument, "exchange frame names a sender of " +
                                                       std::to_string(name_length) + " bytes (1.." +
                                                       std::to_string(kMaxName) + ")");
  }
  if (payload_length > TcpExchange::kMaxPayload) {
    return make_error(ErrorCode::kInvalidArgument, "exchange frame payload of " + std::to_string(payload_length) +
                                                       " bytes exceeds " + std::to_string(TcpExchange::kMaxPayload));
  }
  const size_t total = kHeaderBytes + name_length + payload_length;
  if (buffer.size() < total) return std::optional<ExchangeFrame>();
  ExchangeFrame frame;
  frame.from.assign(reinterpret_cast<const char*>(buffer.data() + kHeaderBytes), name_length);
  frame.payload.assign(buffer.begin() + static_cast<long>(kHeaderBytes + name_length),
                       buffer.begin() + static_cast<long>(total));
  *consumed = total;
  return std::optional<ExchangeFrame>(std::move(frame));
}

Result<std::unique_ptr<TcpExchange>> TcpExchange::listen(const std::string& name, const std::string& host,
                                                         uint16_t port) {
  if (name.empty() || name.size() > kMaxName) {
    return make_error(ErrorCode::kInvalidArgument, "an exchange name must be 1.." + std::to_string(kMaxName) + " bytes");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int err = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found)) {
    return make_error(ErrorCode::kInvalidArgument, "cannot resolve '" + host + "': " + gai_strerror(err));
  }
  int fd = -1;
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 64) == 0) break;
    why = errno_text("bind/listen");
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "cannot listen on " + host + ":" + service + ": " + why);
  set_nonblocking(fd);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const uint16_t actual = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<TcpExchange>(new TcpExchange(name, fd, actual));
}

TcpExchange::~TcpExchange() {
  ::close(listen_fd_);
  for (auto& [peer, fd] : outbound_) ::close(fd);
  for (auto& in : inbound_) ::close(in.fd);
}

VoidResult TcpExchange::add_peer(const std::string& name, const std::string& host_port) {
  std::string host, port;
  if (name.empty() || name.size() > kMaxName || !split_host_port(host_port, &host, &port)) {
    return make_error(ErrorCode::kInvalidArgument, "peer '" + name + "' at '" + host_port + "': expected NAME and HOST:PORT");
  }
  directory_[name] = host_port;
  return {};
}

Result<int> TcpExchange::connection_to(const std::string& peer) {
  if (auto it = outbound_.find(peer); it != outbound_.end()) return it->second;
  auto where = directory_.find(peer);
  if (where == directory_.end()) return make_error(ErrorCode::kNotFound, "no address known for engine '" + peer + "'");
  std::string host, port;
  split_host_port(where->second, &host, &port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int err = getaddrinfo(host.c_str(), port.c_str(), &hints, &found)) {
    return make_error(ErrorCode::kUnavailable, "cannot resolve " + where->second + ": " + gai_strerror(err));
  }
  int fd = -1;
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    set_nonblocking(fd);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = errno_text("connect");
      ::close(fd);
      fd = -1;
      continue;
    }
    // Wait for the connection, bounded.
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    if (::poll(&p, 1, static_cast<int>(connect_timeout_ms)) <= 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
      why = error ? std::string("connect: ") + std::strerror(error) : "connect timed out";
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "cannot reach engine '" + peer + "' at " + where->second + ": " + why);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  outbound_[peer] = fd;
  return fd;
}

VoidResult TcpExchange::send(const std::string& from, const std::string& to, std::vector<uint8_t> bytes) {
  if (bytes.size() > kMaxPayload) {
    return make_error(ErrorCode::kOutOfRange, "exchange message of " + std::to_string(bytes.size()) + " bytes exceeds " +
                                                  std::to_string(kMaxPayload));
  }
  auto fd = connection_to(to);
  if (!fd.ok()) return fd.error();
  if (!write_all(*fd, encode_frame(from, bytes), static_cast<int>(connect_timeout_ms))) {
    ::close(*fd);
    outbound_.erase(to);
    return make_error(ErrorCode::kUnavailable, "lost the connection to engine '" + to + "'");
  }
  return {};
}

void TcpExchange::read_ready() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    inbound_.push_back(Inbound{fd, next_inbound_id_++, {}});
  }
  for (size_t i = 0; i < inbound_.size();) {
    Inbound& in = inbound_[i];
    bool closed = false;
    uint8_t chunk[16384];
    for (;;) {
      const size_t held = in.buffer.size() + in.ready_bytes;
      if (held >= kMaxBufferedPerPeer) {
        // Read no more until what is held was polled: the sender's TCP window closes.
        last_error_ = "a peer has " + std::to_string(held) + " bytes waiting to be polled (at most " +
                      std::to_string(kMaxBufferedPerPeer) + "): reading from it paused";
        break;
      }
      const ssize_t n = ::recv(in.fd, chunk, std::min(sizeof chunk, kMaxBufferedPerPeer - held), 0);
      if (n > 0) {
        in.buffer.insert(in.buffer.end(), chunk, chunk + n);
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) closed = true;
      break;
    }
    // Complete frames go to the ready queue; a malformed one ends the connection.
    size_t offset = 0;
    for (;;) {
      size_t consumed = 0;
      auto frame = decode_frame(std::span(in.buffer).subspan(offset), &consumed);
      if (!frame.ok()) {
        last_error_ = frame.error().to_string();
        closed = true;
        break;
      }
      if (!frame->has_value()) break;
      ready_.push_back(Ready{ExchangeMessage{std::move((*frame)->from), std::move((*frame)->payload)}, in.id, consumed});
      in.ready_bytes += consumed;
      offset += consumed;
    }
    in.buffer.erase(in.buffer.begin(), in.buffer.begin() + static_cast<long>(offset));
    if (closed) {
      ::close(in.fd);
      inbound_.erase(inbound_.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
}

std::optional<ExchangeMessage> TcpExchange::poll(const std::string& me) {
  if (me != name_) return std::nullopt;
  if (ready_.empty()) read_ready();
  if (ready_.empty()) return std::nullopt;
  Ready ready = std::move(ready_.front());
  ready_.pop_front();
  for (Inbound& in : inbound_) {
    if (in.id == ready.connection) in.ready_bytes -= ready.bytes;
  }
  return std::move(ready.message);
}

size_t TcpExchange::buffered_bytes() const {
  size_t total = 0;
  for (const Ready& ready : ready_) total += ready.bytes;
  for (const Inbound& in : inbound_) total += in.buffer.size();
  return total;
}

}  // namespace ferry
