// The engine's lifecycle: opening its rails, one round of progress, its stats.
#include "transport/engine/engine_impl.h"

#include "transport/engine/control_channel.h"
#include "transport/engine/hello.h"

namespace ferry {

using engine_internal::kMaxRails;
using engine_internal::kMessageHeader;

Engine::Impl::~Impl() {
  // Endpoints go before the queues and domains they use.
  for (uint32_t p = 0; p < peers.size(); ++p) {
    for (PeerRail& pr : peers[p].rails) {
      pr.endpoint.reset();
      pr.recv_region.reset();
    }
  }
  registry.reset();
}

VoidResult Engine::Impl::open() {
  if (!rails.empty()) return make_error(ErrorCode::kFailedPrecondition, "engine already open");
  if (provider.device_count() == 0 || provider.device_count() > kMaxRails) {
    return make_error(ErrorCode::kUnavailable, std::string(provider.name()) + " has " +
                                                   std::to_string(provider.device_count()) +
                                                   " devices; an engine needs 1 to " + std::to_string(kMaxRails));
  }
  if (config.control_bytes <= kMessageHeader || config.recv_buffers == 0 || config.control_slots == 0 ||
      config.piece_bytes == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "control_bytes must exceed the message header; recv_buffers, control_slots "
                      "and piece_bytes must be positive");
  }
  if (config.control_slots > engine_internal::kMaxEarlyMessages) {
    // A receiver keeps messages at most this far ahead of the next one it expects.
    return make_error(ErrorCode::kInvalidArgument, "control_slots " + std::to_string(config.control_slots) +
                                                       " exceeds " +
                                                       std::to_string(engine_internal::kMaxEarlyMessages));
  }
  if (auto opened = rails.open(provider, config); !opened.ok()) return opened;
  registry = std::make_unique<MemoryRegistry>(rails.domains());
  batch.reserve(kPostBatch);
  batch_sges.reserve(kPostBatch * engine_internal::kMaxSgePerRequest);
  return {};
}

bool Engine::Impl::progress() {
  bool did = false;
  // 1. connection handshakes
  while (auto message = exchange.poll(name)) {
    on_exchange(message->from, message->bytes);
    did = true;
  }
  // 2. completions, and peers they left with no rail
  did |= poll_rails();
  did |= declare_dead_due();
  // 3. transfers whose failure was decided outside progress()
  if (!deferred_settles.empty()) {
    settle_deferred();
    did = true;
  }
  // 4. deadlines
  expire_deadlines();
  // 5. probes of the peers that work waits on
  did |= probe_peers();
  return did;
}

EngineStats Engine::Impl::stats() const {
  EngineStats s;
  for (const engine_internal::Rail& rail : rails) s.rails.push_back(rail.counters);
  for (uint32_t p = 0; p < peers.size(); ++p) {
    const Peer& peer = peers[p];
    TransferCounters& c = s.peers[peer.name];
    c.bytes += peer.counters.bytes;
    c.operations += peer.counters.operations;
    c.retries += peer.counters.retries;
    c.failovers += peer.counters.failovers;
    c.notifications += peer.counters.notifications;
    c.duplicates += peer.counters.duplicates;
  }
  s.transfers_done = transfers_done;
  s.transfers_failed = transfers_failed;
  return s;
}

}  // namespace ferry
