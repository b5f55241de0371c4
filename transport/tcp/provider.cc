// The tcp provider, its device, domains, regions and completion queues, and the event
// loop that reads every connection. Endpoints are in endpoint.cc (initiator side) and
// target.cc (target side); a connection's bytes in lane.cc.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "transport/provider_support/dma_copy.h"
#include "transport/random.h"
#include "transport/tcp/internal.h"
#include "transport/net/socket.h"

namespace ferry::tcp {
namespace {

// Markers for the epoll events that are not connections.
char listen_tag;
char wake_tag;

// A deregistration waits this long at most for the operations using the region; they
// end sooner: each completes, or fails once its peer stops answering.
constexpr auto kUnpinWait = std::chrono::seconds(30);

}  // namespace

// ---------------------------------------------------------------------------------
// Pieces and pins

std::vector<Piece> slice(const std::vector<Piece>& pieces, uint64_t offset, uint64_t length) {
  std::vector<Piece> out;
  for (const Piece& p : pieces) {
    if (length == 0) break;
    if (offset >= p.length) {
      offset -= p.length;
      continue;
    }
    const uint64_t n = std::min(length, p.length - offset);
    out.push_back(Piece{p.addr + offset, n, p.device});
    length -= n;
    offset = 0;
  }
  return out;
}

uint64_t bytes_of(const std::vector<Piece>& pieces) {
  uint64_t bytes = 0;
  for (const Piece& p : pieces) bytes += p.length;
  return bytes;
}

bool any_device(const std::vector<Piece>& pieces) {
  for (const Piece& p : pieces) {
    if (p.device) return true;
  }
  return false;
}

bool gather(const std::vector<Piece>& pieces, uint8_t* out) {
  for (const Piece& p : pieces) {
    if (!dma_copy(out, p.addr, p.length, p.device)) return false;
    out += p.length;
  }
  return true;
}

bool scatter(const std::vector<Piece>& pieces, const uint8_t* in) {
  for (const Piece& p : pieces) {
    if (!dma_copy(p.addr, in, p.length, p.device)) return false;
    in += p.length;
  }
  return true;
}

Pins::~Pins() {
  for (uint32_t key : keys_) provider_.unpin_locked(key);
}

void Pins::add(uint32_t key) {
  provider_.pin_locked(key);
  keys_.push_back(key);
}

// ---------------------------------------------------------------------------------
// Device, domain, regions

TcpDevice::TcpDevice(TcpProvider& provider, const std::string& name) : provider(provider) {
  attributes_.name = name;
  attributes_.vendor = "ferry-tcp";
  attributes_.link_gbps = 0;  // unknown: whatever the route between the hosts gives
  attributes_.mtu = 4096;     // no packets of ours; the unit the engine sizes pieces by
  attributes_.max_sge = kMaxSge;
  attributes_.max_send_wr = 1024;
  attributes_.max_recv_wr = 1024;
  attributes_.ordered = true;
  attributes_.unordered = false;  // one endpoint's requests run in order over its connections
  attributes_.supports_rdma_read = true;
  attributes_.supports_write_with_imm = true;
}

Result<std::unique_ptr<ProtectionDomain>> TcpDevice::create_protection_domain() {
  return std::unique_ptr<ProtectionDomain>(std::make_unique<TcpProtectionDomain>(*this, provider.next_pd_id()));
}

Result<std::unique_ptr<CompletionQueue>> TcpDevice::create_completion_queue(uint32_t depth) {
  if (depth == 0 || depth > attributes_.max_cqe) {
    return make_error(ErrorCode::kOutOfRange, "completion queue depth must be in [1, " +
                                                  std::to_string(attributes_.max_cqe) + "]");
  }
  return std::unique_ptr<CompletionQueue>(std::make_unique<TcpCompletionQueue>(depth));
}

Result<std::unique_ptr<MemoryRegion>> TcpProtectionDomain::register_memory(void* addr, size_t length, uint32_t access,
                                                                           MemoryKind kind) {
  if (auto checked = check_registration(addr, length, access, kind, "tcp"); !checked.ok()) return checked.error();
  TcpProvider* provider = &device.provider;
  uint32_t key;
  {
    std::lock_guard lock(provider->mutex);
    key = provider->keys.add(reinterpret_cast<uint64_t>(addr), length, access, id, kind);
  }
  return std::unique_ptr<MemoryRegion>(std::make_unique<KeyedMemoryRegion>(
      addr, length, access, key, kind, [provider](uint32_t freed) { provider->deregister(freed); }));
}

void TcpProvider::unpin_locked(uint32_t key) {
  auto it = pins_.find(key);
  if (it == pins_.end()) return;
  if (--it->second == 0) {
    pins_.erase(it);
    unpinned_.notify_all();
  }
}

void TcpProvider::deregister(uint32_t key) {
  std::unique_lock lock(mutex);
  keys.remove(key);  // no new operation finds it
  unpinned_.wait_for(lock, kUnpinWait, [&] { return pins_.count(key) == 0; });
}

// ---------------------------------------------------------------------------------
// Provider

TcpProvider::TcpProvider(const TcpOptions& options, int listen_fd, uint32_t ipv4, uint16_t port)
    : options_(options),
      listen_fd_(listen_fd),
      ipv4_(ipv4),
      port_(port),
      nonce_(splitmix64(SteadyClock().now_ns() ^ (uint64_t{static_cast<uint32_t>(getpid())} << 32) ^
                        reinterpret_cast<uintptr_t>(this)) |
             1),
      device_(std::make_unique<TcpDevice>(*this, "tcp:" + net::format_endpoint(ipv4, port))),
      discard_(1 << 16) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event listen_event{EPOLLIN, {.ptr = &listen_tag}};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event);
  epoll_event wake_event{EPOLLIN, {.ptr = &wake_tag}};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event);
  loop_ = std::thread([this] { run(); });
}

TcpProvider::~TcpProvider() {
  stop_.store(true);
  wake();
  loop_.join();
  std::lock_guard lock(mutex);
  while (!lanes_.empty()) close_lane_locked(lanes_.begin()->first);
  closed_.clear();
  close(listen_fd_);
  close(wake_fd_);
  close(epoll_fd_);
}

Device& TcpProvider::device(size_t index) {
  if (index != 0) throw std::out_of_range("tcp has one device");
  return *device_;
}

void TcpProvider::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

uint32_t TcpProvider::add_endpoint_locked(TcpEndpoint* endpoint) {
  const uint32_t id = next_endpoint_id_++;  // never reused: a destroyed endpoint's address stays dead
  endpoints_[id] = endpoint;
  return id;
}

void TcpProvider::remove_endpoint_locked(uint32_t id) { endpoints_.erase(id); }

void TcpProvider::run() {
  epoll_event events[64];
  while (!stop_.load()) {
    int timeout_ms = 50;  // the granularity of the stall check
    {
      std::lock_guard lock(mutex);
      closed_.clear();  // events of the last batch were all handled
      for (auto& [id, endpoint] : endpoints_) {
        if (endpoint->waits_on_timer()) timeout_ms = 1;
      }
    }
    const int n = epoll_wait(epoll_fd_, events, 64, timeout_ms);
    std::lock_guard lock(mutex);
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &wake_tag) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof count);
      } else if (tag == &listen_tag) {
        accept_locked();
      } else {
        auto* lane = static_cast<Lane*>(tag);
        // A paused connection is not read, so its hang-up is taken here, not from a read.
        if (lane->fd >= 0 && lane->paused && (events[i].events & (EPOLLERR | EPOLLHUP))) lane_failed_locked(lane);
        if (lane->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) read_locked(lane);
        if (lane->fd >= 0 && (events[i].events & EPOLLOUT)) flush_locked(lane);
      }
    }
    service_locked();
  }
}

bool TcpProvider::service_locked() {
  const uint64_t now = clock_.now_ns();
  bool any = false;
  for (auto& [id, endpoint] : endpoints_) any = endpoint->service_locked(now) || any;
  return any;
}

void TcpProvider::accept_locked() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    net::set_nodelay(fd);
    add_lane_locked(fd, nullptr, false);
  }
}

Lane* TcpProvider::add_lane_locked(int fd, TcpEndpoint* endpoint, bool outgoing) {
  auto owned = std::make_unique<Lane>();
  Lane* lane = owned.get();
  lane->fd = fd;
  lane->endpoint = endpoint;
  lane->outgoing = outgoing;
  lanes_[lane] = std::move(owned);
  lane->events = EPOLLIN;
  epoll_event event{lane->events, {.ptr = lane}};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  return lane;
}

void TcpProvider::close_lane_locked(Lane* lane) {
  auto it = lanes_.find(lane);
  if (it == lanes_.end()) return;
  if (lane->endpoint != nullptr) lane->endpoint->forget_lane_locked(lane);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, lane->fd, nullptr);
  close(lane->fd);
  lane->fd = -1;
  lane->out.clear();  // releases the pins of unsent frames
  closed_.push_back(std::move(it->second));
  lanes_.erase(it);
}

void TcpProvider::watch_locked(Lane* lane) {
  uint32_t events = lane->paused ? 0u : uint32_t{EPOLLIN};
  if (!lane->out.empty()) events |= EPOLLOUT;
  if (events == lane->events) return;
  lane->events = events;
  epoll_event event{events, {.ptr = lane}};
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, lane->fd, &event);
}

void TcpProvider::lane_failed_locked(Lane* lane) {
  TcpEndpoint* endpoint = lane->endpoint;
  const bool outgoing = lane->outgoing;
  close_lane_locked(lane);
  if (endpoint == nullptr) return;
  // One connection of a pair lost is the pair lost: the order across them is gone.
  if (outgoing) {
    endpoint->peer_lost_locked();
  } else {
    endpoint->incoming_lost_locked();
  }
}

void TcpProvider::read_locked(Lane* lane) {
  TcpEndpoint* endpoint = lane->endpoint;
  read_lane_locked(lane);
  if (endpoint == nullptr || lane->outgoing) return;
  // A request done may give the turn to one that waits on another connection.
  for (bool again = true; again;) {
    again = false;
    for (Lane* in : std::vector<Lane*>(endpoint->in_lanes_)) {
      if (in->fd >= 0 && in->paused && in->in.ssn == endpoint->expected_ssn()) again = read_lane_locked(in) || again;
    }
  }
  endpoint->flush_ack_locked();
}

}  // namespace ferry::tcp
