// One connection's bytes: frames written from a queue with as few calls as the socket
// allows, frames read header first, then their bytes straight into registered memory
// (through a host copy for GPU memory).
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport/tcp/internal.h"

namespace ferry::tcp {
namespace {

constexpr int kMaxIov = 32;
// A connection yields to the others after this many bytes read in one go.
constexpr uint64_t kReadBudget = 4 << 20;

// iovecs for `length` bytes of `pieces` from `offset`.
int iovecs(const std::vector<Piece>& pieces, uint64_t offset, uint64_t length, iovec* iov, int max) {
  int n = 0;
  for (const Piece& p : pieces) {
    if (n == max || length == 0) break;
    if (offset >= p.length) {
      offset -= p.length;
      continue;
    }
    const uint64_t take = std::min(length, p.length - offset);
    iov[n++] = iovec{p.addr + offset, take};
    length -= take;
    offset = 0;
  }
  return n;
}

// Whether a recv's result ends the connection: closed by the peer, or an error.
bool ended(ssize_t r) { return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR); }

// Reads toward `size` bytes at `into`, `have` of them in already.
enum class Fill { kEnded, kMore, kFull };
Fill fill(int fd, void* into, size_t size, size_t& have) {
  const ssize_t r = recv(fd, static_cast<uint8_t*>(into) + have, size - have, MSG_DONTWAIT);
  if (ended(r)) return Fill::kEnded;
  if (r > 0) have += static_cast<size_t>(r);
  return have == size ? Fill::kFull : Fill::kMore;
}

}  // namespace

void TcpProvider::send_frame_locked(Lane* lane, OutFrame frame) {
  if (lane == nullptr || lane->fd < 0) return;
  lane->out.push_back(std::move(frame));
  if (lane->out.size() == 1) flush_locked(lane);
}

void TcpProvider::flush_locked(Lane* lane) {
  while (!lane->out.empty()) {
    // As many queued frames as fit in one call: headers and bytes back to back.
    iovec iov[kMaxIov];
    int n = 0;
    for (size_t i = 0; i < lane->out.size() && n < kMaxIov - 1; ++i) {
      OutFrame& f = lane->out[i];
      uint64_t data_from = 0;
      if (f.written < sizeof(Frame)) {
        iov[n++] = iovec{reinterpret_cast<uint8_t*>(&f.header) + f.written, sizeof(Frame) - f.written};
      } else {
        data_from = f.written - sizeof(Frame);
      }
      n += iovecs(f.data, data_from, f.header.chunk_len - data_from, iov + n, kMaxIov - n);
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    const ssize_t w = sendmsg(lane->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      lane_failed_locked(lane);
      return;
    }
    if (lane->endpoint != nullptr && lane->outgoing) lane->endpoint->last_activity_ns_ = clock_.now_ns();
    // Frames written whole go, with their pins.
    auto left = static_cast<uint64_t>(w);
    while (left > 0) {
      OutFrame& f = lane->out.front();
      const uint64_t rest = sizeof(Frame) + f.header.chunk_len - f.written;
      const uint64_t take = std::min(left, rest);
      f.written += take;
      left -= take;
      if (take == rest) lane->out.pop_front();
    }
  }
  watch_locked(lane);
}

bool TcpProvider::read_hello_locked(Lane* lane) {
  const Fill got = fill(lane->fd, &lane->hello, sizeof(Hello), lane->hello_have);
  if (got == Fill::kEnded) {
    close_lane_locked(lane);
    return false;
  }
  if (got == Fill::kMore) return false;
  const Hello& h = lane->hello;
  HelloReply reply;
  TcpEndpoint* endpoint = nullptr;
  if (!well_formed(h)) {
    reply.status = static_cast<uint32_t>(HelloStatus::kMalformed);
  } else if (h.target_nonce != nonce_) {
    reply.status = static_cast<uint32_t>(HelloStatus::kWrongProvider);
  } else if (auto it = endpoints_.find(h.target_endpoint); it == endpoints_.end()) {
    reply.status = static_cast<uint32_t>(HelloStatus::kNoSuchEndpoint);
  } else {
    endpoint = it->second;
  }
  // Eight bytes on a fresh connection: the socket takes them.
  const bool sent = send(lane->fd, &reply, sizeof reply, MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof reply;
  if (endpoint == nullptr || !sent) {
    close_lane_locked(lane);
    return false;
  }
  lane->endpoint = endpoint;
  endpoint->attach_incoming_locked(lane, h);
  return true;
}

bool TcpProvider::read_lane_locked(Lane* lane) {
  if (lane->fd < 0) return false;
  if (lane->endpoint == nullptr) return read_hello_locked(lane);
  TcpEndpoint* endpoint = lane->endpoint;
  bool any = false;
  uint64_t budget = kReadBudget;
  while (lane->fd >= 0 && budget > 0) {
    // The header.
    if (lane->in_have < sizeof(Frame)) {
      const size_t before = lane->in_have;
      const Fill got = fill(lane->fd, &lane->in, sizeof(Frame), lane->in_have);
      if (got == Fill::kEnded) {
        lane_failed_locked(lane);
        return true;
      }
      if (lane->in_have == before) return any;
      any = true;
      if (lane->outgoing) endpoint->last_activity_ns_ = clock_.now_ns();
      continue;
    }
    const Frame& f = lane->in;
    if (!lane->in_accepted) {
      const std::vector<Piece>* sink = nullptr;
      if (!(lane->outgoing ? check_response(f) : check_request(f)).ok()) {
        lane_failed_locked(lane);  // not a frame of ours: the stream is lost
        return true;
      }
      if (lane->outgoing) {
        if (f.type == static_cast<uint8_t>(FrameType::kReadData)) {
          sink = endpoint->read_sink_locked(f);
        } else {
          lane->in_have = 0;
          endpoint->on_response_locked(f);
          any = true;
          continue;
        }
      } else {
        if (f.ssn < endpoint->expected_ssn()) {
          lane_failed_locked(lane);
          return true;
        }
        if (f.ssn > endpoint->expected_ssn()) {
          // Its turn comes once the requests before it, on other connections, are done.
          if (!lane->paused) {
            lane->paused = true;
            watch_locked(lane);
          }
          return any;
        }
        if (lane->paused) {
          lane->paused = false;
          watch_locked(lane);
        }
        sink = endpoint->on_request_locked(f);
      }
      lane->in_accepted = true;
      lane->in_done = 0;
      lane->discard = sink == nullptr;
      lane->sink = sink == nullptr ? std::vector<Piece>{} : slice(*sink, f.offset, f.chunk_len);
      if (!lane->discard && bytes_of(lane->sink) != f.chunk_len) {
        // A later chunk reaching past what its request's first chunk named (and was
        // checked for): never staged or read, so that a peer sizes no buffer of ours.
        lane_failed_locked(lane);
        return true;
      }
      if (any_device(lane->sink)) lane->staging.resize(f.chunk_len);
      any = true;
    }
    // The bytes.
    bool copied = true;
    if (lane->in_done < f.chunk_len) {
      const uint64_t left = f.chunk_len - lane->in_done;
      iovec iov[kMaxIov];
      int n;
      const bool staged = any_device(lane->sink);
      if (lane->discard) {
        iov[0] = iovec{discard_.data(), std::min<uint64_t>(left, discard_.size())};
        n = 1;
      } else if (staged) {
        iov[0] = iovec{lane->staging.data() + lane->in_done, left};
        n = 1;
      } else {
        n = iovecs(lane->sink, lane->in_done, left, iov, kMaxIov);
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(n);
      const ssize_t r = recvmsg(lane->fd, &msg, MSG_DONTWAIT);
      if (ended(r)) {
        lane_failed_locked(lane);
        return true;
      }
      if (r < 0) return any;
      any = true;
      lane->in_done += static_cast<uint64_t>(r);
      budget -= std::min<uint64_t>(budget, static_cast<uint64_t>(r));
      if (lane->outgoing) endpoint->last_activity_ns_ = clock_.now_ns();
      if (lane->in_done < f.chunk_len) continue;
      if (staged) copied = scatter(lane->sink, lane->staging.data());
    }
    // The chunk is in.
    const Frame done = lane->in;
    lane->in_have = 0;
    lane->in_accepted = false;
    lane->sink.clear();
    if (lane->outgoing) {
      endpoint->on_read_data_locked(done, copied);
    } else {
      endpoint->on_request_chunk_locked(done, copied);
    }
  }
  return any;
}

}  // namespace ferry::tcp
