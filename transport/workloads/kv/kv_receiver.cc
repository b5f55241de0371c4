#include "transport/workloads/kv/kv_receiver.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>

namespace ferry {

struct KvReceiver::Request {
  enum class Source { kSending, kSettled, kGivenUp };
  struct SourceState {
    Source state = Source::kSending;
    uint32_t next_layer = 0;     // the layer its follower waits for
    uint64_t waiting_since = 0;  // when that wait began
  };

  KvReceiver* owner = nullptr;  // null once the receiver is gone
  uint64_t id = 0;
  KvRequestTags tags;
  std::vector<SourceState> sources;
  std::vector<uint32_t> arrivals;  // by layer: sources whose part landed
  std::vector<std::shared_ptr<ResultLatch<TransferResult>>> layers;
  bool stopping = false;
  uint64_t stopped_at = 0;
  TransferResult why;  // of the stop
  bool over = false;
  KvReceiveReport report;
  std::shared_ptr<ResultLatch<KvReceiveReport>> ended = std::make_shared<ResultLatch<KvReceiveReport>>();
};

namespace {

const TransferResult kSuccess;  // default-constructed: a success

}  // namespace

Result<std::unique_ptr<KvReceiver>> KvReceiver::create(Engine& engine, KvReceiverConfig config) {
  auto routes = plan_kv_routes(config.prefill, config.decode);
  if (!routes.ok()) return routes.error();
  if (config.rank >= config.decode.tp) {
    return make_error(ErrorCode::kOutOfRange, "decode rank " + std::to_string(config.rank) + " of a TP " +
                                                  std::to_string(config.decode.tp) + " group");
  }
  if (config.prefill_ranks.size() != config.prefill.tp) {
    return make_error(ErrorCode::kInvalidArgument, std::to_string(config.prefill_ranks.size()) +
                                                       " prefill ranks given for a TP " +
                                                       std::to_string(config.prefill.tp) + " group");
  }
  std::vector<KvRoute> sources;
  std::copy_if(routes->begin(), routes->end(), std::back_inserter(sources),
               [&](const KvRoute& r) { return r.decode_rank == config.rank; });
  return std::unique_ptr<KvReceiver>(new KvReceiver(engine, std::move(config), std::move(sources)));
}

KvReceiver::KvReceiver(Engine& engine, KvReceiverConfig config, std::vector<KvRoute> sources)
    : engine_(engine), config_(std::move(config)), sources_(std::move(sources)) {}

KvReceiver::~KvReceiver() {
  for (auto& [id, request] : requests_) {
    request->owner = nullptr;
    for (size_t s = 0; s < sources_.size() && !request->over; ++s) {
      if (request->sources[s].state != Request::Source::kSending) continue;
      engine_.release(peer(s), request->tags.layer(request->sources[s].next_layer));
      engine_.release(peer(s), request->tags.control());
    }
  }
}

std::shared_ptr<KvReceiver::Request> KvReceiver::find(uint64_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : it->second;
}

VoidResult KvReceiver::begin(const KvRequest& request, KvTagSlot slot) {
  if (auto valid = validate_request(request, config_.prefill, config_.decode, slot); !valid.ok()) return valid;
  if (requests_.count(request.id)) {
    return make_error(ErrorCode::kFailedPrecondition, "request " + std::to_string(request.id) + " was already begun");
  }
  const KvRequestTags tags = request_tags(request, slot, config_.prefill.layers);
  for (const auto& [id, other] : requests_) {
    if (!other->over && other->tags.first == tags.first) {
      return make_error(ErrorCode::kResourceExhausted,
                        "requests " + std::to_string(id) + " and " + std::to_string(request.id) +
                            " share tag slot " + std::to_string(tags.slot()) + " and both are live");
    }
  }
  auto r = std::make_shared<Request>();
  r->owner = this;
  r->id = request.id;
  r->tags = tags;
  r->sources.resize(sources_.size());
  r->arrivals.assign(config_.prefill.layers, 0);
  for (uint32_t l = 0; l < config_.prefill.layers; ++l) {
    r->layers.push_back(std::make_shared<ResultLatch<TransferResult>>());
  }
  r->report.request = request.id;
  // Forget what the slot's previous use may have left (a late or resent notification).
  for (size_t s = 0; s < sources_.size(); ++s) {
    for (uint32_t l = 0; l < config_.prefill.layers; ++l) engine_.release(peer(s), tags.layer(l));
    engine_.release(peer(s), tags.control());
  }
  for (size_t s = 0; s < sources_.size(); ++s) {
    VoidResult armed = follow_layer(r, s);
    if (armed.ok()) armed = listen_for_stop(r, s);
    if (!armed.ok()) {
      r->owner = nullptr;
      for (size_t t = 0; t <= s; ++t) {
        engine_.release(peer(t), tags.layer(0));
        engine_.release(peer(t), tags.control());
      }
      return armed;
    }
  }
  requests_.emplace(request.id, std::move(r));
  return {};
}

// Waits for the next layer of one source. One wait per tag and peer at a time: the
// engine forgets a tag when its wait ends, so the next layer has a tag of its own.
VoidResult KvReceiver::follow_layer(const std::shared_ptr<Request>& r, size_t source) {
  Request::SourceState& state = r->sources[source];
  state.waiting_since = engine_.clock().now_ns();
  auto armed = engine_.expect(peer(source), r->tags.layer(state.next_layer), 1,
                              [r, source](const TransferResult& result) {
                                if (r->owner != nullptr) r->owner->on_layer(r, source, result);
                              });
  if (!armed.ok()) return armed.error();
  return {};
}

// A source that stops early says so on the control tag, once its writes settled.
VoidResult KvReceiver::listen_for_stop(const std::shared_ptr<Request>& r, size_t source) {
  auto armed = engine_.expect(peer(source), r->tags.control(), 1, [r, source](const TransferResult& result) {
    if (r->owner != nullptr) r->owner->on_stop(r, source, result);
  });
  if (!armed.ok()) return armed.error();
  return {};
}

void KvReceiver::on_layer(const std::shared_ptr<Request>& r, size_t source, const TransferResult& result) {
  Request::SourceState& state = r->sources[source];
  if (r->over || state.state != Request::Source::kSending) return;
  const auto layer_name = [&] {
    return "request " + std::to_string(r->id) + ", layer " + std::to_string(state.next_layer) +
           " from prefill rank '" + peer(source) + "'";
  };
  if (result.ok()) {
    const uint32_t layer = state.next_layer++;
    const bool complete = ++r->arrivals[layer] == sources_.size();
    if (complete) {
      const uint64_t now = engine_.clock().now_ns();
      if (!r->report.landed) r->report.first_landed_ns = now;
      r->report.landed = true;
      r->report.last_landed_ns = now;
    }
    if (state.next_layer == config_.prefill.layers) {
      settle(r, source, true);  // every layer of it landed: nothing of it is left to land
    } else if (auto armed = follow_layer(r, source); !armed.ok()) {
      stop(r, make_error(armed.error().code, layer_name() + ": " + armed.error().message));
      settle(r, source, false);
    }
    if (complete) r->layers[layer]->set(kSuccess);
    end_if_settled(r);
    return;
  }
  if (result.error().code == ErrorCode::kDeadlineExceeded) {
    if (!r->stopping) {
      stop(r, make_error(ErrorCode::kDeadlineExceeded, layer_name() + " did not come within the transfer deadline"));
    } else if (state.waiting_since >= r->stopped_at) {
      // A whole deadline since the stop, and it neither finished nor said it stopped:
      // its writes cannot be shown to have settled.
      settle(r, source, false);
      end_if_settled(r);
      return;
    }
    if (!follow_layer(r, source).ok()) settle(r, source, false);
    end_if_settled(r);
    return;
  }
  // kUnavailable: the engine tore the connection to it down (peer removed, reconnected
  // or declared dead), so nothing more of it can land. Anything else leaves it unknown.
  stop(r, make_error(result.error().code, layer_name() + ": " + result.error().message));
  settle(r, source, result.error().code == ErrorCode::kUnavailable);
  end_if_settled(r);
}

void KvReceiver::on_stop(const std::shared_ptr<Request>& r, size_t source, const TransferResult& result) {
  if (r->over || r->sources[source].state != Request::Source::kSending) return;
  if (result.ok()) {
    settle(r, source, true);  // it vouches that none of its writes can land any more
    stop(r, make_error(ErrorCode::kUnavailable, "request " + std::to_string(r->id) + ": prefill rank '" +
                                                    peer(source) + "' stopped before sending every layer"));
    end_if_settled(r);
  } else if (result.error().code == ErrorCode::kDeadlineExceeded) {
    (void)listen_for_stop(r, source);  // nothing lost: a stop would have ended the wait
  }
  // A torn-down connection reaches the layer follower too, which handles it.
}

VoidResult KvReceiver::cancel(uint64_t id) {
  const std::shared_ptr<Request> r = find(id);
  if (r == nullptr) return make_error(ErrorCode::kNotFound, "request " + std::to_string(id) + " was not begun");
  if (r->over) return make_error(ErrorCode::kFailedPrecondition, "request " + std::to_string(id) + " has ended");
  stop(r, make_error(ErrorCode::kFailedPrecondition, "request " + std::to_string(id) + " was cancelled"));
  end_if_settled(r);
  return {};
}

void KvReceiver::stop(const std::shared_ptr<Request>& r, TransferResult why) {
  if (r->stopping || r->over) return;
  r->stopping = true;
  r->stopped_at = engine_.clock().now_ns();
  r->why = std::move(why);
  for (size_t s = 0; s < sources_.size(); ++s) {
    if (r->sources[s].state == Request::Source::kSending) {
      (void)engine_.notify(peer(s), Notify{r->tags.control(), 0}, nullptr);  // "stop sending"
    }
  }
  for (const auto& layer : r->layers) layer->set(r->why);  // those not landed never will
}

void KvReceiver::settle(const std::shared_ptr<Request>& r, size_t source, bool confirmed) {
  Request::SourceState& state = r->sources[source];
  if (state.state != Request::Source::kSending) return;
  state.state = confirmed ? Request::Source::kSettled : Request::Source::kGivenUp;
  if (state.next_layer < config_.prefill.layers) engine_.release(peer(source), r->tags.layer(state.next_layer));
  engine_.release(peer(source), r->tags.control());
}

void KvReceiver::end_if_settled(const std::shared_ptr<Request>& r) {
  if (r->over) return;
  bool reusable = true;
  for (const Request::SourceState& s : r->sources) {
    if (s.state == Request::Source::kSending) return;
    reusable &= s.state == Request::Source::kSettled;
  }
  r->over = true;
  r->report.result = r->stopping ? r->why : kSuccess;
  r->report.cancelled = r->stopping;
  r->report.blocks_reusable = reusable;
  r->ended->set(r->report);
}

Task<TransferResult> KvReceiver::layer(uint64_t id, uint32_t layer) {
  const std::shared_ptr<Request> r = find(id);
  if (r == nullptr) co_return make_error(ErrorCode::kNotFound, "request " + std::to_string(id) + " was not begun");
  if (layer >= r->layers.size()) {
    co_return make_error(ErrorCode::kOutOfRange, "layer " + std::to_string(layer) + " of a " +
                                                     std::to_string(r->layers.size()) + "-layer model");
  }
  const std::shared_ptr<ResultLatch<TransferResult>> latch = r->layers[layer];
  co_return co_await latch->wait();
}

Task<TransferResult> KvReceiver::all(uint64_t id) {
  const std::shared_ptr<Request> r = find(id);
  if (r == nullptr) co_return make_error(ErrorCode::kNotFound, "request " + std::to_string(id) + " was not begun");
  const std::shared_ptr<ResultLatch<KvReceiveReport>> ended = r->ended;
  co_return (co_await ended->wait()).result;
}

Task<KvReceiveReport> KvReceiver::finished(uint64_t id) {
  const std::shared_ptr<Request> r = find(id);
  if (r == nullptr) {
    KvReceiveReport unknown;
    unknown.request = id;
    unknown.result = make_error(ErrorCode::kNotFound, "request " + std::to_string(id) + " was not begun");
    co_return unknown;
  }
  const std::shared_ptr<ResultLatch<KvReceiveReport>> ended = r->ended;
  KvReceiveReport report = co_await ended->wait();
  if (auto it = requests_.find(id); it != requests_.end() && it->second->ended == ended) requests_.erase(it);
  co_return report;
}

}  // namespace ferry
