// The public Engine: checks what can be checked without state, then hands over to
// Engine::Impl (engine_impl.h), which holds the state and the work.
#include "transport/engine/engine.h"

#include "transport/gpu/runtime.h"

#include "transport/engine/engine_impl.h"

namespace ferry {
namespace {

VoidResult check_peer_name(const std::string& peer, const std::string& self) {
  if (peer.empty() || peer == self) {
    return make_error(ErrorCode::kInvalidArgument, "a peer needs a name other than this engine's");
  }
  return {};
}

Error not_open() { return make_error(ErrorCode::kFailedPrecondition, "engine not open"); }

}  // namespace

Engine::Engine(std::string name, Provider& provider, Exchange& exchange, EngineConfig config)
    : name_(std::move(name)),
      provider_(provider),
      exchange_(exchange),
      config_(std::move(config)),
      impl_(std::make_unique<Impl>(name_, provider_, exchange_, config_, message_handler_)) {}

Engine::~Engine() = default;

VoidResult Engine::open() { return impl_->open(); }

size_t Engine::rail_count() const { return impl_->rails.size(); }

Result<const Registration*> Engine::register_memory(void* addr, size_t length, uint32_t access,
                                                    std::optional<MemoryKind> kind) {
  if (!impl_->registry) return not_open();
  // Ask the CUDA runtime only when the caller did not say.
  return impl_->registry->register_memory(addr, length, access, kind ? *kind : gpu::query_pointer(addr).kind);
}

VoidResult Engine::deregister_memory(void* addr) {
  if (!impl_->registry) return not_open();
  return impl_->registry->deregister(addr);
}

Result<RemoteRegion> Engine::import_region(const std::string& peer, std::span<const uint8_t> bytes) {
  return impl_->import_region(peer, bytes);
}

VoidResult Engine::add_peer(const std::string& peer) {
  if (auto valid = check_peer_name(peer, name_); !valid.ok()) return valid;
  impl_->add_peer(peer);
  return {};
}

VoidResult Engine::remove_peer(const std::string& peer) {
  auto index = impl_->find_peer(peer);
  if (!index.ok()) return index.error();
  impl_->reset_peer(*index, "peer '" + peer + "' was removed");
  return {};
}

bool Engine::peer_connected(const std::string& peer) const { return impl_->peer_connected(peer); }

Result<TransferId> Engine::write(const std::string& peer, const void* src, uint64_t bytes, RemoteRegion dst,
                                 uint64_t dst_offset, std::optional<Notify> notify, TransferDone done) {
  return impl_->write(peer, src, bytes, dst, dst_offset, notify, std::move(done));
}

Result<TransferId> Engine::write_paged(const std::string& peer, const PagedTransfer& pages,
                                       std::optional<Notify> notify, TransferDone done) {
  return impl_->write_paged(peer, pages, notify, std::move(done));
}

Result<TransferId> Engine::write_gather(const std::string& peer, std::span<const WriteSource> sources,
                                        RemoteRegion dst, uint64_t dst_offset, std::optional<Notify> notify,
                                        TransferDone done) {
  return impl_->write_gather(peer, sources, dst, dst_offset, notify, std::move(done));
}

Result<TransferId> Engine::scatter(const void* src, uint64_t bytes, std::span<const ScatterTarget> targets,
                                   std::optional<Notify> notify, TransferDone done) {
  if (targets.empty()) return make_error(ErrorCode::kInvalidArgument, "scatter to no targets");
  if (bytes == 0) return make_error(ErrorCode::kInvalidArgument, "a scatter of 0 bytes");
  return impl_->scatter(src, bytes, targets, notify, std::move(done));
}

Result<TransferId> Engine::notify(const std::string& peer, Notify notify, TransferDone done) {
  return impl_->notify(peer, notify, std::move(done));
}

Result<TransferId> Engine::barrier(std::span<const std::string> group, uint16_t tag, TransferDone done) {
  return impl_->barrier(group, tag, std::move(done));
}

Result<TransferId> Engine::send_message(const std::string& peer, std::span<const uint8_t> bytes,
                                        TransferDone done) {
  return impl_->send_message(peer, bytes, std::move(done));
}

Result<TransferId> Engine::expect(const std::string& peer, uint16_t tag, uint32_t count, TransferDone done) {
  if (auto valid = check_peer_name(peer, name_); !valid.ok()) return valid.error();
  if (count == 0 || count > Immediate::kMaxPieces) {
    return make_error(ErrorCode::kOutOfRange, "count " + std::to_string(count) + " is not in [1, 65536]");
  }
  return impl_->expect(peer, tag, count, std::move(done));
}

Result<TransferId> Engine::expect_index(const std::string& peer, Notify notification, TransferDone done) {
  if (auto valid = check_peer_name(peer, name_); !valid.ok()) return valid.error();
  return impl_->expect(peer, notification.tag, 1, std::move(done), notification.index);
}

void Engine::release(const std::string& peer, uint16_t tag) { impl_->release(peer, tag); }

bool Engine::progress() { return impl_->progress(); }

size_t Engine::transfers_in_flight() const { return impl_->pool.live(); }

EngineStats Engine::stats() const { return impl_->stats(); }

}  // namespace ferry
