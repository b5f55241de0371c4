#include "transport/proxy/proxy.h"

#include <deque>
#include <map>
#include <mutex>
#include <utility>

namespace ferry::proxy {

struct Proxy::Core : std::enable_shared_from_this<Proxy::Core> {
  struct ChannelState {
    Channel* channel = nullptr;
    Context context;
    uint64_t next = 0;           // next ticket to take
    uint64_t completed = 0;      // tickets [0, completed) are done
    std::deque<bool> done;       // tickets completed.. next-1: done yet?
  };

  Core(Engine& e, ProxyConfig c) : engine(e), config(std::move(c)) {}

  // Proxy thread only, from here ...
  Engine& engine;
  const ProxyConfig config;
  std::vector<ChannelState> channels;
  std::map<std::pair<uint32_t, uint32_t>, uint16_t> next_index;  // (peer, signal) -> index
  uint32_t in_flight = 0;
  // ... to here (before start(), the caller's thread).

  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> deadline_ns{0};  // now_ns() of ring.h
  std::atomic<uint64_t> taken{0}, done_ok{0}, failed{0};
  mutable std::mutex errors_mutex;
  std::vector<ProxyError> errors;

  void run();
  bool take_from(size_t index);
  void post(size_t index, uint64_t ticket, const Descriptor& d);
  void finish(size_t index, uint64_t ticket, const Descriptor& d, const TransferResult& result);
  void fail(size_t index, uint64_t ticket, const Descriptor& d, Status status, Error error);
  void mark_done(ChannelState& ch, uint64_t ticket);
  static void set_status(ChannelState& ch, Status status);
  void report_pending();
};

namespace {

// [offset, offset + bytes) inside [0, size), without overflow.
bool inside(uint64_t offset, uint64_t bytes, uint64_t size) { return offset <= size && bytes <= size - offset; }

}  // namespace

Proxy::Proxy(Engine& engine, ProxyConfig config) : core_(std::make_shared<Core>(engine, std::move(config))) {}

Proxy::~Proxy() { stop(); }

VoidResult Proxy::add_channel(Channel& channel) {
  if (running()) return make_error(ErrorCode::kFailedPrecondition, "proxy: add_channel after start()");
  const Context& c = channel.context();
  if (uint32_t{core_->config.signal_tag} + c.signals > 0x10000) {
    return make_error(ErrorCode::kOutOfRange, "proxy: " + std::to_string(c.signals) +
                                                  " signals do not fit in the notification tags from " +
                                                  std::to_string(core_->config.signal_tag));
  }
  Core::ChannelState state;
  state.channel = &channel;
  state.context = c;
  core_->channels.push_back(std::move(state));
  return {};
}

VoidResult Proxy::start() {
  if (running()) return make_error(ErrorCode::kFailedPrecondition, "proxy: already started");
  if (core_->config.max_in_flight == 0 || core_->config.batch == 0) {
    return make_error(ErrorCode::kInvalidArgument, "proxy: max_in_flight and batch must be at least 1");
  }
  core_->stopping = false;
  thread_ = std::thread([core = core_] { core->run(); });
  return {};
}

void Proxy::stop(std::chrono::nanoseconds bound) {
  if (!running()) return;
  core_->deadline_ns = now_ns() + static_cast<uint64_t>(bound.count());
  core_->stopping = true;
  thread_.join();
  core_->report_pending();
}

std::vector<ProxyError> Proxy::errors() const {
  std::lock_guard lock(core_->errors_mutex);
  return core_->errors;
}

ProxyStats Proxy::stats() const { return {core_->taken.load(), core_->done_ok.load(), core_->failed.load()}; }

void Proxy::Core::run() {
  int idle = 0;
  for (;;) {
    bool busy = false;
    if (!stopping) {
      for (size_t i = 0; i < channels.size(); ++i) busy |= take_from(i);
    } else if (in_flight == 0 || now_ns() >= deadline_ns) {
      return;
    }
    busy |= engine.progress();
    // Idle: let the producers and the fabric's threads run; busy: poll again at once.
    if (busy) {
      idle = 0;
    } else if (++idle > 64) {
      std::this_thread::yield();
    }
  }
}

bool Proxy::Core::take_from(size_t index) {
  ChannelState& ch = channels[index];
  Descriptor d;
  uint32_t n = 0;
  while (n < config.batch && in_flight < config.max_in_flight && take(ch.context, ch.next, d)) {
    const uint64_t ticket = ch.next++;
    ch.done.push_back(false);
    ++n;
    taken.fetch_add(1, std::memory_order_relaxed);
    post(index, ticket, d);
  }
  return n > 0;
}

void Proxy::Core::post(size_t index, uint64_t ticket, const Descriptor& d) {
  if (d.op != Op::kPut && d.op != Op::kPutSignal && d.op != Op::kSignal) {
    return fail(index, ticket, d, Status::kBadDescriptor,
                make_error(ErrorCode::kInvalidArgument, "unknown op " + std::to_string(uint32_t(d.op))));
  }
  if (d.peer >= config.peers.size() || config.peers[d.peer].name.empty()) {
    return fail(index, ticket, d, Status::kUnknownPeer,
                make_error(ErrorCode::kNotFound, "no peer of rank " + std::to_string(d.peer)));
  }
  const PeerWindow& peer = config.peers[d.peer];
  const bool signals = d.op != Op::kPut;
  if (signals && d.signal >= channels[index].context.signals) {
    return fail(index, ticket, d, Status::kBadDescriptor,
                make_error(ErrorCode::kOutOfRange, "signal " + std::to_string(d.signal) + " of " +
                                                       std::to_string(channels[index].context.signals)));
  }
  std::optional<Notify> notify;
  if (signals) {
    uint16_t& next = next_index[{d.peer, d.signal}];
    notify = Notify{static_cast<uint16_t>(config.signal_tag + d.signal), next++};
  }
  std::weak_ptr<Core> self = weak_from_this();
  auto done = [self, index, ticket, d](const TransferResult& r) {
    if (auto core = self.lock()) core->finish(index, ticket, d, r);
  };
  Result<TransferId> posted = make_error(ErrorCode::kInternal, "not posted");
  if (d.op == Op::kSignal) {
    posted = engine.notify(peer.name, *notify, std::move(done));
  } else {
    if (d.bytes == 0) {
      return fail(index, ticket, d, Status::kBadDescriptor, make_error(ErrorCode::kInvalidArgument, "a put of 0 bytes"));
    }
    if (!inside(d.local_offset, d.bytes, config.local_bytes) || !inside(d.remote_offset, d.bytes, peer.bytes)) {
      return fail(index, ticket, d, Status::kOutOfWindow,
                  make_error(ErrorCode::kOutOfRange,
                             std::to_string(d.bytes) + " bytes from local offset " + std::to_string(d.local_offset) +
                                 " (window " + std::to_string(config.local_bytes) + ") to remote offset " +
                                 std::to_string(d.remote_offset) + " (window " + std::to_string(peer.bytes) + ")"));
    }
    const void* src = static_cast<const uint8_t*>(config.local_window) + d.local_offset;
    posted = engine.write(peer.name, src, d.bytes, peer.region, d.remote_offset, notify, std::move(done));
  }
  if (!posted.ok()) return fail(index, ticket, d, Status::kTransferFailed, posted.error());
  ++in_flight;
}

void Proxy::Core::finish(size_t index, uint64_t ticket, const Descriptor& d, const TransferResult& result) {
  --in_flight;
  if (!result.ok()) return fail(index, ticket, d, Status::kTransferFailed, result.error());
  ChannelState& ch = channels[index];
  if (d.op != Op::kPut) {
    // The proxy is the counter's only writer: read, add, publish with release.
    uint64_t* counter = &ch.context.counters[d.signal];
    store_release(counter, load_acquire(counter) + d.value);
  }
  done_ok.fetch_add(1, std::memory_order_relaxed);
  mark_done(ch, ticket);
}

void Proxy::Core::fail(size_t index, uint64_t ticket, const Descriptor& d, Status status, Error error) {
  ChannelState& ch = channels[index];
  set_status(ch, status);
  failed.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(errors_mutex);
    errors.push_back(ProxyError{index, ticket, d, status, std::move(error)});
  }
  mark_done(ch, ticket);
}

// The first error stays (the proxy is the word's only writer).
void Proxy::Core::set_status(ChannelState& ch, Status status) {
  uint32_t& word = ch.context.words->status;
  if (load_acquire(&word) == 0) std::atomic_ref<uint32_t>(word).store(static_cast<uint32_t>(status), std::memory_order_release);
}

void Proxy::Core::mark_done(ChannelState& ch, uint64_t ticket) {
  ch.done[ticket - ch.completed] = true;
  const uint64_t before = ch.completed;
  while (!ch.done.empty() && ch.done.front()) {
    ch.done.pop_front();
    ++ch.completed;
  }
  if (ch.completed != before) store_release(&ch.context.words->completed, ch.completed);
}

void Proxy::Core::report_pending() {
  for (size_t i = 0; i < channels.size(); ++i) {
    ChannelState& ch = channels[i];
    const uint64_t unfinished = ch.next - ch.completed;
    const bool waiting = published(ch.context, ch.next);
    if (unfinished == 0 && !waiting) continue;
    set_status(ch, Status::kStopped);
    std::lock_guard lock(errors_mutex);
    errors.push_back(ProxyError{i, ch.next, Descriptor{}, Status::kStopped,
                                make_error(ErrorCode::kDeadlineExceeded,
                                           "proxy stopped with " + std::to_string(unfinished) +
                                               " descriptors not done" + (waiting ? " and more published" : ""))});
  }
}

}  // namespace ferry::proxy
