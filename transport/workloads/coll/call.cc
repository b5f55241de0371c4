#include "transport/workloads/coll/call.h"

#include "transport/workloads/coll/local_steps.h"

namespace ferry::coll {

std::string rank_label(uint32_t rank) { return "rank " + std::to_string(rank); }

Call::Call(Communicator& comm, Collective collective, Algorithm algorithm)
    : comm_(&comm),
      collective_(collective),
      algorithm_(algorithm),
      tag_(comm.group().next_tag(TagSpace::kCollectives)),
      expected_(comm.size(), 0),
      indices_(comm.size(), 0) {
  for (uint32_t r = 0; r < comm.size(); ++r) outboxes_.emplace_back(rank_label(r));
}

Call::~Call() {
  for (Inbox& inbox : inboxes_) inbox.close();
}

TransferResult Call::prepare(const std::vector<std::pair<const void*, uint64_t>>& send_buffers) {
  if (comm_->broken()) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "the communicator failed in an earlier call: " + comm_->failure().error().message);
  }
  for (const auto& [buffer, bytes] : send_buffers) {
    if (bytes == 0 || comm_->size() == 1) continue;
    auto registered = comm_->engine().register_memory(const_cast<void*>(buffer), bytes, kAccessLocalWrite);
    if (!registered.ok()) {
      return make_error(registered.error().code, "registering a buffer: " + registered.error().message);
    }
    if ((*registered)->kind() != comm_->memory()) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("a buffer in ") + to_string((*registered)->kind()) +
                            " memory, the communicator's scratch in " + to_string(comm_->memory()) +
                            " memory: a call's buffers live where its scratch does");
    }
  }
  return {};
}

void Call::expect_from(uint32_t peer, uint64_t messages) { expected_[peer] += messages; }

void Call::expect_from_every_peer(uint64_t messages) {
  for (uint32_t p = 0; p < size(); ++p) {
    if (p != rank()) expect_from(p, messages);
  }
}

void Call::start() {
  for (uint32_t r = 0; r < size(); ++r) {
    inboxes_.emplace_back(comm_->engine(), comm_->group().name(r), rank_label(r), tag_, expected_[r]);
    if (r != rank()) inboxes_.back().open();
  }
}

CompletionPtr Call::write(uint32_t peer, const void* src, uint64_t bytes, uint64_t scratch_offset) {
  if (bytes == 0) return signal(peer);
  const RemoteRegion region = comm_->scratch().remote[peer];
  return queue(peer, [src, bytes, region, scratch_offset](Engine& engine, const std::string& name, Notify notify,
                                                          TransferDone done) {
    return engine.write(name, src, bytes, region, scratch_offset, notify, std::move(done));
  });
}

CompletionPtr Call::signal(uint32_t peer) {
  return queue(peer, [](Engine& engine, const std::string& name, Notify notify, TransferDone done) {
    return engine.notify(name, notify, std::move(done));
  });
}

CompletionPtr Call::queue(uint32_t peer, Message message) {
  const Notify notify{tag_, static_cast<uint16_t>(indices_[peer]++)};  // wraps after 65,536 messages
  auto sent = outboxes_[peer].send([&engine = comm_->engine(), name = comm_->group().name(peer), notify,
                                    message = std::move(message)](TransferDone done) {
    return message(engine, name, notify, std::move(done));
  });
  sends_.push_back(sent);
  return sent;
}

Task<TransferResult> Call::arrivals_from_all() {
  for (uint32_t r = 0; r < size(); ++r) {
    if (r == rank()) continue;
    TransferResult arrived = co_await arrival(r);
    if (!arrived.ok()) co_return arrived;
  }
  co_return TransferResult{};
}

Task<TransferResult> completed(TransferResult result) { co_return result; }

Task<TransferResult> all_settled(std::vector<CompletionPtr> sends) {
  TransferResult first;
  for (const CompletionPtr& sent : sends) {
    if (!sent) continue;
    TransferResult r = co_await awaited(sent);
    if (first.ok() && !r.ok()) first = r;
  }
  co_return first;
}

void Call::copy(void* dst, const void* src, uint64_t bytes) {
  if (auto done = local_copy(comm_->memory(), dst, src, bytes); !done.ok() && local_failure_.ok()) {
    local_failure_ = make_error(done.error().code, "a local copy: " + done.error().message);
  }
}

void Call::reduce(void* dst, std::span<const void* const> sources, size_t count, DType dtype, ReduceOp op) {
  if (auto done = local_reduce(comm_->memory(), dst, sources, count, dtype, op); !done.ok() && local_failure_.ok()) {
    local_failure_ = make_error(done.error().code, "a local reduction: " + done.error().message);
  }
}

Task<TransferResult> Call::finish(TransferResult result) {
  TransferResult settled = co_await all_settled(std::move(sends_));
  sends_.clear();
  if (result.ok() && !settled.ok()) result = settled;
  if (result.ok() && !local_failure_.ok()) result = local_failure_;
  for (Inbox& inbox : inboxes_) {
    if (result.ok() && !inbox.drained()) {
      result = make_error(ErrorCode::kInternal, "a peer's messages were left untaken (a protocol bug)");
    }
    inbox.close();
  }
  if (!result.ok() && !comm_->broken()) {
    result = make_error(result.error().code,
                        std::string(to_string(collective_)) + " (" + to_string(algorithm_) + ", " +
                            std::to_string(size()) + " ranks) failed at " + rank_label(rank()) + ": " +
                            result.error().message);
    comm_->mark_broken(result);
  }
  co_return result;
}

Task<TransferResult> run_collective(Communicator& comm, Collective collective, Algorithm requested,
                                    uint64_t bytes, std::vector<std::pair<const void*, uint64_t>> send_buffers,
                                    CollectiveBody body) {
  const Algorithm algorithm = comm.resolve(collective, requested, bytes);
  if (!supports(collective, algorithm)) {
    co_return make_error(ErrorCode::kInvalidArgument,
                         std::string(to_string(collective)) + " has no " + to_string(algorithm) + " algorithm");
  }
  Call call(comm, collective, algorithm);
  TransferResult result = call.prepare(send_buffers);
  if (result.ok()) result = co_await body(call, algorithm);
  co_return co_await call.finish(std::move(result));
}

}  // namespace ferry::coll
