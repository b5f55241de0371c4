#include "transport/workloads/kv/kv_sender.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>

namespace ferry {

struct KvSender::Request {
  enum class Phase { kRunning, kStopping, kEnded };
  struct Link {
    uint32_t in_flight = 0;
    uint32_t delivered = 0;    // layers landed at this decode rank
    bool unconfirmed = false;  // a write ran past its deadline: pieces may still be out
  };

  KvSender* owner = nullptr;  // null once the sender is gone
  uint64_t id = 0;
  KvRequestTags tags;
  Phase phase = Phase::kRunning;
  std::vector<KvRoutePages> pages;  // by link
  std::vector<Link> links;
  std::vector<bool> handed_over;  // by layer
  KvSendReport report;
  std::shared_ptr<ResultLatch<KvSendReport>> ended = std::make_shared<ResultLatch<KvSendReport>>();
};

Result<std::unique_ptr<KvSender>> KvSender::create(Engine& engine, KvSenderConfig config) {
  auto routes = plan_kv_routes(config.prefill, config.decode);
  if (!routes.ok()) return routes.error();
  if (config.rank >= config.prefill.tp) {
    return make_error(ErrorCode::kOutOfRange, "prefill rank " + std::to_string(config.rank) + " of a TP " +
                                                  std::to_string(config.prefill.tp) + " group");
  }
  if (config.decode_ranks.size() != config.decode.tp) {
    return make_error(ErrorCode::kInvalidArgument, std::to_string(config.decode_ranks.size()) +
                                                       " decode ranks given for a TP " +
                                                       std::to_string(config.decode.tp) + " group");
  }
  if (config.pool == nullptr) return make_error(ErrorCode::kInvalidArgument, "no prefill pool");
  std::vector<KvRoute> mine;
  std::copy_if(routes->begin(), routes->end(), std::back_inserter(mine),
               [&](const KvRoute& r) { return r.prefill_rank == config.rank; });
  return std::unique_ptr<KvSender>(new KvSender(engine, std::move(config), std::move(mine)));
}

KvSender::KvSender(Engine& engine, KvSenderConfig config, std::vector<KvRoute> routes)
    : engine_(engine), config_(std::move(config)), routes_(std::move(routes)) {}

KvSender::~KvSender() {
  for (auto& [id, request] : requests_) {
    request->owner = nullptr;
    if (request->phase == Request::Phase::kEnded) continue;
    for (size_t link = 0; link < routes_.size(); ++link) engine_.release(peer(link), request->tags.control());
  }
}

VoidResult KvSender::begin(const KvRequest& request, KvTagSlot slot) {
  if (auto valid = validate_request(request, config_.prefill, config_.decode, slot); !valid.ok()) return valid;
  if (requests_.count(request.id)) {
    return make_error(ErrorCode::kFailedPrecondition, "request " + std::to_string(request.id) + " was already begun");
  }
  const KvRequestTags tags = request_tags(request, slot, config_.prefill.layers);
  for (const auto& [id, other] : requests_) {
    if (other->phase != Request::Phase::kEnded && other->tags.first == tags.first) {
      return make_error(ErrorCode::kResourceExhausted,
                        "requests " + std::to_string(id) + " and " + std::to_string(request.id) +
                            " share tag slot " + std::to_string(tags.slot()) + " and both are live");
    }
  }
  auto r = std::make_shared<Request>();
  r->owner = this;
  r->id = request.id;
  r->tags = tags;
  r->links.resize(routes_.size());
  r->handed_over.assign(config_.prefill.layers, false);
  r->report.request = request.id;
  for (const KvRoute& route : routes_) {
    r->pages.emplace_back(route, config_.prefill, config_.decode, request.prefill_blocks, request.decode_blocks);
  }
  for (size_t link = 0; link < routes_.size(); ++link) {
    // Forget what the slot's previous use may have left: a stop that came too late.
    engine_.release(peer(link), tags.control());
  }
  for (size_t link = 0; link < routes_.size(); ++link) {
    if (auto listening = listen_for_stop(r, link); !listening.ok()) {
      r->owner = nullptr;
      for (size_t armed = 0; armed < link; ++armed) engine_.release(peer(armed), tags.control());
      return listening;
    }
  }
  requests_.emplace(request.id, r);
  end_if_settled(r);  // a rank that serves no decode rank has nothing to send
  return {};
}

// A decode rank that gives up on the request tells us on the control tag.
VoidResult KvSender::listen_for_stop(const std::shared_ptr<Request>& request, size_t link) {
  auto armed = engine_.expect(peer(link), request->tags.control(), 1, [request, link](const TransferResult& result) {
    KvSender* self = request->owner;
    if (self == nullptr || request->phase != Request::Phase::kRunning) return;
    if (result.ok()) {
      self->stop(request,
                 make_error(ErrorCode::kFailedPrecondition, "request " + std::to_string(request->id) +
                                                                " was cancelled by decode rank '" + self->peer(link) + "'"),
                 true);
      self->end_if_settled(request);
    } else if (result.error().code == ErrorCode::kDeadlineExceeded) {
      // Nothing came within a deadline; nothing lost either (a stop would have ended the
      // wait): keep listening.
      (void)self->listen_for_stop(request, link);
    }
    // Otherwise the peer was removed (its writes fail on their own) or we released the tag.
  });
  if (!armed.ok()) return armed.error();
  return {};
}

VoidResult KvSender::layer_ready(uint64_t id, uint32_t layer) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return make_error(ErrorCode::kNotFound, "request " + std::to_string(id) + " was not begun");
  const std::shared_ptr<Request> r = it->second;  // may be forgotten while this runs
  if (layer >= config_.prefill.layers) {
    return make_error(ErrorCode::kOutOfRange, "layer " + std::to_string(layer) + " of a " +
                                                  std::to_string(config_.prefill.layers) + "-layer model");
  }
  if (r->handed_over[layer]) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "layer " + std::to_string(layer) + " of request " + std::to_string(id) + " was handed over already");
  }
  if (routes_.empty()) return {};  // this rank serves no decode rank
  if (r->phase != Request::Phase::kRunning) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "request " + std::to_string(id) + " has stopped: " + r->report.result.error().message);
  }
  r->handed_over[layer] = true;
  if (!r->report.started) {
    r->report.started = true;
    r->report.first_ready_ns = engine_.clock().now_ns();
  }
  for (size_t link = 0; link < routes_.size(); ++link) {
    const KvDecodeRank& target = config_.decode_ranks[routes_[link].decode_rank];
    const KvRoutePages& pages = r->pages[link];
    const uint64_t bytes = pages.bytes_per_layer();
    auto started = engine_.write_paged(
        target.peer, pages.layer(layer, config_.pool, target.region, target.pool_offset),
        Notify{r->tags.layer(layer), static_cast<uint16_t>(layer)},
        [r, link, bytes](const TransferResult& result) {
          if (r->owner != nullptr) r->owner->on_write_done(r, link, bytes, result);
        });
    if (!started.ok()) {
      stop(r,
           make_error(started.error().code, "request " + std::to_string(id) + ", layer " + std::to_string(layer) +
                                                " to decode rank '" + target.peer + "': " + started.error().message),
           false);
      end_if_settled(r);
      return started.error();
    }
    ++r->links[link].in_flight;
    ++r->report.writes;
  }
  return {};
}

void KvSender::on_write_done(const std::shared_ptr<Request>& r, size_t link, uint64_t bytes,
                             const TransferResult& result) {
  Request::Link& state = r->links[link];
  --state.in_flight;
  if (result.ok()) {
    ++state.delivered;
    r->report.bytes += bytes;
    r->report.last_landed_ns = engine_.clock().now_ns();
  } else {
    // A deadline ends the wait, not the pieces: some may still be queued or on the wire.
    if (result.error().code == ErrorCode::kDeadlineExceeded) state.unconfirmed = true;
    stop(r,
         make_error(result.error().code, "request " + std::to_string(r->id) + " to decode rank '" + peer(link) +
                                             "': " + result.error().message),
         false);
  }
  end_if_settled(r);
}

VoidResult KvSender::cancel(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return make_error(ErrorCode::kNotFound, "request " + std::to_string(id) + " was not begun");
  const std::shared_ptr<Request> r = it->second;
  stop(r, make_error(ErrorCode::kFailedPrecondition, "request " + std::to_string(id) + " was cancelled"), true);
  end_if_settled(r);
  return {};
}

void KvSender::stop(const std::shared_ptr<Request>& r, TransferResult why, bool cancelled) {
  if (r->phase != Request::Phase::kRunning) return;
  r->phase = Request::Phase::kStopping;
  r->report.result = std::move(why);
  r->report.cancelled = cancelled;
}

// Ends the request once nothing of it is in flight: completed when every layer landed
// at every decode rank (even if a stop came too late to prevent any of it), or, after a
// stop, once the writes already started have settled.
void KvSender::end_if_settled(const std::shared_ptr<Request>& r) {
  if (r->phase == Request::Phase::kEnded) return;
  bool completed = true;
  for (const Request::Link& link : r->links) {
    if (link.in_flight > 0) return;
    completed &= link.delivered == config_.prefill.layers;
  }
  if (r->phase == Request::Phase::kRunning && !completed) return;
  r->phase = Request::Phase::kEnded;
  if (completed) {
    r->report.result = TransferResult{};
    r->report.cancelled = false;
  }
  for (size_t link = 0; link < routes_.size(); ++link) {
    if (!completed && !r->links[link].unconfirmed) {
      // Every write to it completed or failed: none can land any more. Say so, so that
      // it may reuse the blocks.
      (void)engine_.notify(peer(link), Notify{r->tags.control(), 0}, nullptr);
    }
    engine_.release(peer(link), r->tags.control());  // stop listening for a stop
  }
  r->ended->set(r->report);
}

Task<KvSendReport> KvSender::finished(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) {
    KvSendReport unknown;
    unknown.request = id;
    unknown.result = make_error(ErrorCode::kNotFound, "request " + std::to_string(id) + " was not begun");
    co_return unknown;
  }
  const std::shared_ptr<ResultLatch<KvSendReport>> ended = it->second->ended;
  KvSendReport report = co_await ended->wait();
  if (auto again = requests_.find(id); again != requests_.end() && again->second->ended == ended) {
    requests_.erase(again);
  }
  co_return report;
}

size_t KvSender::writes_in_flight() const {
  size_t n = 0;
  for (const auto& [id, request] : requests_) {
    for (const Request::Link& link : request->links) n += link.in_flight;
  }
  return n;
}

}  // namespace ferry
