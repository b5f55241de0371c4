#include "transport/workloads/moe/expert_parallel.h"

#include <algorithm>
#include <cstring>

#include "transport/workloads/moe/transfer_batch.h"

namespace ferry::moe {

Result<uint64_t> ExpertParallel::region_bytes(const MoeConfig& config, uint32_t ranks) {
  auto geometry = MoeGeometry::make(config, ranks);
  if (!geometry.ok()) return geometry.error();
  return geometry->region_bytes();
}

Result<std::unique_ptr<ExpertParallel>> ExpertParallel::create(Group& group, const MoeConfig& config,
                                                               const SymmetricRegion& region) {
  auto geometry = MoeGeometry::make(config, group.size());
  if (!geometry.ok()) return geometry.error();
  auto mover = RowMover::make(*geometry);
  if (!mover.ok()) return mover.error();
  if (region.local == nullptr || region.bytes < geometry->region_bytes() || region.remote.size() != group.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "moe: the receive region must hold " + std::to_string(geometry->region_bytes()) +
                          " bytes on each of the " + std::to_string(group.size()) + " ranks; it has " +
                          std::to_string(region.bytes) + " bytes and " + std::to_string(region.remote.size()) +
                          " ranks");
  }
  VoidResult in_place = (*mover)->check_input(region.local, region.bytes, "moe: the receive region");
  if (!in_place.ok()) return in_place.error();
  std::unique_ptr<ExpertParallel> ep(new ExpertParallel(group, *geometry, region, std::move(mover).value()));
  if (config.mode == MoeMode::kLowLatency) {
    VoidResult reserved = ep->reserve_worst_case();
    if (!reserved.ok()) return reserved.error();
  }
  return ep;
}

ExpertParallel::ExpertParallel(Group& group, const MoeGeometry& geometry, const SymmetricRegion& region,
                               std::unique_ptr<RowMover> mover)
    : group_(&group),
      geometry_(geometry),
      region_(region),
      mover_(std::move(mover)),
      plan_(geometry),
      batch_(geometry),
      dispatch_staging_(group.engine(), geometry.config().memory),
      combine_staging_(group.engine(), geometry.config().memory),
      dispatch_at_(geometry.ranks()),
      dispatch_bytes_(geometry.ranks()),
      dispatch_lands_(geometry.ranks(), geometry.dispatch_slot_offset(group.rank())),
      reply_from_(geometry.ranks()),
      reply_to_(geometry.ranks()),
      combine_at_(geometry.ranks()),
      combine_bytes_(geometry.ranks()),
      views_(geometry.ranks()),
      messages_(geometry.ranks()),
      runs_(geometry.ranks()) {}

VoidResult ExpertParallel::reserve_worst_case() {
  VoidResult dispatch = dispatch_staging_.reserve(geometry_.max_dispatch_staging_bytes(), /*exact=*/true);
  if (!dispatch.ok()) return dispatch;
  VoidResult combine = combine_staging_.reserve(geometry_.max_combine_staging_bytes(), /*exact=*/true);
  if (!combine.ok()) return combine;
  plan_.reserve_worst_case();
  VoidResult rows = batch_.reserve_worst_case();
  if (!rows.ok()) return rows;
  const uint64_t table = uint64_t{geometry_.max_tokens()} * std::max(geometry_.top_k(), geometry_.ranks());
  slots_.reserve(table);
  weights_.reserve(table);
  return mover_->reserve_worst_case();
}

MoeMemory ExpertParallel::memory() const {
  return MoeMemory{region_.bytes, dispatch_staging_.capacity(), combine_staging_.capacity(),
                   batch_.capacity_bytes()};
}

VoidResult ExpertParallel::begin(Phase expected, Phase next, const char* call) {
  if (phase_ == Phase::kFailed) {
    return make_error(ErrorCode::kFailedPrecondition,
                      std::string("moe ") + call + ": an earlier call failed; the group must be rebuilt");
  }
  if (phase_ != expected) {
    return make_error(ErrorCode::kFailedPrecondition,
                      std::string("moe ") + call + ": dispatch and combine must alternate, one call at a time");
  }
  phase_ = next;
  return {};
}

Error ExpertParallel::fail(const char* call, const Error& error) {
  phase_ = Phase::kFailed;
  return make_error(error.code,
                    std::string("moe ") + call + " on rank " + std::to_string(group_->rank()) + ": " + error.message);
}

Task<VoidResult> ExpertParallel::dispatch(std::span<const int32_t> topk_idx, std::span<const float> topk_weights,
                                          std::span<const uint16_t> hidden_bf16) {
  return dispatch(topk_idx, topk_weights,
                  std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(hidden_bf16.data()), hidden_bf16.size_bytes()));
}

Task<VoidResult> ExpertParallel::dispatch(std::span<const int32_t> topk_idx, std::span<const float> topk_weights,
                                          std::span<const uint8_t> hidden) {
  // A refused call takes no tag; an accepted one takes exactly one, whatever happens
  // next, so that the ranks' tag counters stay equal.
  VoidResult ready = begin(Phase::kReady, Phase::kDispatching, "dispatch");
  if (!ready.ok()) co_return ready;
  const uint16_t tag = group_->next_tag(TagSpace::kMoe);
  ++sequence_;
  dispatch_stats_ = MoeCallStats{};
  dispatch_stats_.start_ns = now();

  VoidResult staged = stage_dispatch(topk_idx, topk_weights, hidden);
  if (!staged.ok()) co_return fail("dispatch", staged.error());
  const TransferResult moved = co_await exchange(tag, dispatch_staging_, dispatch_at_, dispatch_bytes_, dispatch_lands_);
  if (!moved.ok()) co_return fail("dispatch", moved.error());
  VoidResult unpacked = unpack_dispatch();
  if (!unpacked.ok()) co_return fail("dispatch", unpacked.error());

  dispatch_stats_.end_ns = now();
  phase_ = Phase::kDispatched;
  co_return VoidResult{};
}

Task<VoidResult> ExpertParallel::combine(std::span<const uint16_t> expert_outputs, std::span<uint16_t> combined) {
  VoidResult ready = begin(Phase::kDispatched, Phase::kCombining, "combine");
  if (!ready.ok()) co_return ready;
  const uint16_t tag = group_->next_tag(TagSpace::kMoe);
  combine_stats_ = MoeCallStats{};
  combine_stats_.start_ns = now();

  const uint64_t hidden = geometry_.hidden();
  const uint64_t tokens = plan_.tokens();
  if (expert_outputs.size() != batch_.rows() * hidden || combined.size() != tokens * hidden) {
    co_return fail("combine", make_error(ErrorCode::kInvalidArgument,
                                         "expects " + std::to_string(batch_.rows()) + " expert rows and " +
                                             std::to_string(tokens) + " tokens of output; got " +
                                             std::to_string(expert_outputs.size()) + " and " +
                                             std::to_string(combined.size()) + " elements"));
  }
  VoidResult in_place = mover_->check_input(expert_outputs.data(), expert_outputs.size_bytes(), "expert_outputs");
  if (in_place.ok()) in_place = mover_->check_input(combined.data(), combined.size_bytes(), "combined");
  if (!in_place.ok()) co_return fail("combine", in_place.error());
  VoidResult staged = stage_combine(expert_outputs);
  if (!staged.ok()) co_return fail("combine", staged.error());
  const TransferResult moved = co_await exchange(tag, combine_staging_, combine_at_, combine_bytes_, reply_to_);
  if (!moved.ok()) co_return fail("combine", moved.error());
  VoidResult reduced = reduce_combine(combined);
  if (!reduced.ok()) co_return fail("combine", reduced.error());

  combine_stats_.end_ns = now();
  phase_ = Phase::kReady;
  co_return VoidResult{};
}

Task<TransferResult> ExpertParallel::exchange(uint16_t tag, const RegisteredBuffer& staging,
                                              std::span<const uint64_t> staged_at, std::span<const uint64_t> bytes,
                                              std::span<const uint64_t> lands_at) {
  Engine& engine = group_->engine();
  const uint32_t self = group_->rank();
  const Notify notify{tag, static_cast<uint16_t>(self)};
  // Labels say which transfer failed: 2r for the write to rank r, 2r + 1 for the wait.
  TransferBatch batch;
  for (uint32_t r = 0; r < geometry_.ranks(); ++r) {
    if (r == self) continue;
    batch.start(2 * r, [&](TransferDone done) {
      return engine.write(group_->name(r), staging.data() + staged_at[r], bytes[r], region_.remote[r], lands_at[r],
                          notify, std::move(done));
    });
    batch.start(2 * r + 1, [&](TransferDone done) { return engine.expect(group_->name(r), tag, 1, std::move(done)); });
  }
  TransferResult result = co_await batch;
  if (!result.ok()) {
    const uint64_t r = batch.failed_label() / 2;
    result = make_error(result.error().code,
                        (batch.failed_label() % 2 == 0 ? "sending to rank " : "waiting for rank ") +
                            std::to_string(r) + ": " + result.error().message);
  }
  co_return result;
}

VoidResult ExpertParallel::stage_dispatch(std::span<const int32_t> topk_idx, std::span<const float> topk_weights,
                                          std::span<const uint8_t> hidden) {
  VoidResult planned = plan_.build(topk_idx);
  if (!planned.ok()) return planned;
  const uint32_t k = geometry_.top_k();
  if (topk_weights.size() != topk_idx.size()) {
    return make_error(ErrorCode::kInvalidArgument, "topk_weights holds " + std::to_string(topk_weights.size()) +
                                                       " weights, not " + std::to_string(plan_.tokens()) +
                                                       " tokens of " + std::to_string(k));
  }
  const uint64_t token_bytes = geometry_.token_bytes();
  if (hidden.size() != plan_.tokens() * token_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "hidden holds " + std::to_string(hidden.size()) + " bytes, not " +
                          std::to_string(plan_.tokens()) + " tokens of " + std::to_string(token_bytes));
  }
  VoidResult in_place = mover_->check_input(hidden.data(), hidden.size(), "hidden");
  if (!in_place.ok()) return in_place;
  const uint32_t self = group_->rank();
  const uint32_t local_experts = geometry_.experts_per_rank();

  // Exact sizes: each destination's message holds what is routed to it, nothing more;
  // and each destination's combine reply gets its exact place in our combine area.
  uint64_t staged = 0;
  uint64_t replies = 0;
  for (uint32_t r = 0; r < geometry_.ranks(); ++r) {
    const uint32_t tokens = static_cast<uint32_t>(plan_.tokens_to(r).size());
    const uint32_t rows = static_cast<uint32_t>(plan_.routes_to(r).size());
    dispatch_at_[r] = staged;
    dispatch_bytes_[r] = dispatch_message_bytes(local_experts, tokens, rows, token_bytes);
    staged += dispatch_bytes_[r];
    reply_from_[r] = replies;
    // One partial sum per token back, however many of its experts r holds.
    if (r != self) replies += combine_message_bytes(tokens, geometry_.output_row_bytes());
    if (r != self) {
      ++dispatch_stats_.messages;
      dispatch_stats_.payload_bytes += tokens * token_bytes;
      dispatch_stats_.wire_bytes += dispatch_bytes_[r];
    }
  }
  VoidResult room = dispatch_staging_.reserve(staged);
  if (!room.ok()) return room;

  for (uint32_t r = 0; r < geometry_.ranks(); ++r) {
    const auto tokens = plan_.tokens_to(r);
    const auto routes = plan_.routes_to(r);
    const auto counts = plan_.counts_to(r);
    DispatchHeader header;
    header.sequence = sequence_;
    header.source = self;
    header.tokens = static_cast<uint32_t>(tokens.size());
    header.rows = static_cast<uint32_t>(routes.size());
    header.local_experts = local_experts;
    header.combine_offset = reply_from_[r];
    // The preamble is written on the host; the vectors move in the exchange's memory.
    uint8_t* message = dispatch_staging_.data() + dispatch_at_[r];
    const uint64_t preamble = dispatch_preamble_bytes(local_experts, header.tokens, header.rows);
    DispatchWriter writer(mover_->header(message, preamble), header, token_bytes);
    for (uint32_t e = 0; e < local_experts; ++e) writer.count(e, counts[e]);
    for (uint32_t i = 0; i < tokens.size(); ++i) writer.token_index(i, tokens[i]);
    for (uint32_t i = 0; i < routes.size(); ++i) {
      writer.route(i, routes[i]);
      writer.weight(i, topk_weights[uint64_t{tokens[routes[i].token]} * k + routes[i].k_slot]);
    }
    mover_->copy(RowCopy{message + preamble, hidden.data(), {}, tokens, header.tokens, token_bytes});
  }
  return mover_->finish();
}

Result<const uint8_t*> ExpertParallel::read_preamble(const uint8_t* message, uint64_t capacity) {
  auto header = mover_->read(message, std::min<uint64_t>(sizeof(DispatchHeader), capacity));
  if (!header.ok() || capacity < sizeof(DispatchHeader)) return header;  // the parser names a short slot
  DispatchHeader h;
  std::memcpy(&h, *header, sizeof(h));
  return mover_->read(message, std::min(capacity, dispatch_preamble_bytes(h.local_experts, h.tokens, h.rows)));
}

VoidResult ExpertParallel::unpack_dispatch() {
  const uint32_t self = group_->rank();
  DispatchExpectation expect;
  expect.sequence = sequence_;
  expect.local_experts = geometry_.experts_per_rank();
  expect.top_k = geometry_.top_k();
  expect.max_tokens = geometry_.max_tokens();
  expect.token_bytes = geometry_.token_bytes();
  expect.combine_area_bytes = geometry_.combine_area_bytes();
  expect.output_row_bytes = geometry_.output_row_bytes();
  for (uint32_t s = 0; s < geometry_.ranks(); ++s) {
    // Our own share never crossed the network: it is read where it was staged.
    const uint8_t* message = s == self ? dispatch_staging_.data() + dispatch_at_[s]
                                       : region_.local + geometry_.dispatch_slot_offset(s);
    expect.source = s;
    expect.capacity = s == self ? dispatch_bytes_[s] : geometry_.dispatch_slot_bytes();
    auto preamble = read_preamble(message, expect.capacity);
    if (!preamble.ok()) return preamble.error();
    auto view = DispatchView::parse(*preamble, expect);
    if (!view.ok()) return view.error();
    views_[s] = *view;
    messages_[s] = message;
    reply_to_[s] = geometry_.combine_area_offset() + view->header().combine_offset;
  }
  VoidResult unpacked = batch_.unpack(views_, messages_, *mover_);
  if (!unpacked.ok()) return unpacked;
  return mover_->finish();
}

VoidResult ExpertParallel::stage_combine(std::span<const uint16_t> expert_outputs) {
  const uint32_t self = group_->rank();
  const uint32_t k = geometry_.top_k();
  const uint64_t hidden = geometry_.hidden();
  const uint64_t row_bytes = geometry_.output_row_bytes();
  uint64_t staged = 0;
  for (uint32_t s = 0; s < geometry_.ranks(); ++s) {
    const uint32_t rows = batch_.tokens_from(s);
    combine_at_[s] = staged;
    combine_bytes_[s] = combine_message_bytes(rows, row_bytes);
    staged += combine_bytes_[s];
    if (s != self) {
      ++combine_stats_.messages;
      combine_stats_.payload_bytes += rows * row_bytes;
      combine_stats_.wire_bytes += combine_bytes_[s];
    }
  }
  VoidResult room = combine_staging_.reserve(staged);
  if (!room.ok()) return room;

  // Each origin's reply holds one partial sum per token it sent, in its packing order:
  // the token's rows here weighted by the weights that came with them.
  const RowRun outputs{reinterpret_cast<const uint8_t*>(expert_outputs.data()), batch_.rows()};
  for (uint32_t s = 0; s < geometry_.ranks(); ++s) {
    const uint32_t tokens = batch_.tokens_from(s);
    uint8_t* message = combine_staging_.data() + combine_at_[s];
    const CombineHeader header{kCombineMagic, sequence_, self, tokens};
    write_combine_header(mover_->header(message, kCombinePreambleBytes), header);
    if (tokens == 0) continue;
    slots_.resize(uint64_t{tokens} * k);
    weights_.resize(slots_.size());
    batch_.partial_slots(s, slots_, weights_);
    auto* partials = reinterpret_cast<uint16_t*>(message + kCombinePreambleBytes);
    VoidResult summed = mover_->weighted_combine(std::span(&outputs, 1), slots_, weights_, k,
                                                 std::span(partials, tokens * hidden));
    if (!summed.ok()) return summed;
  }
  return mover_->finish();
}

VoidResult ExpertParallel::reduce_combine(std::span<uint16_t> combined) {
  const uint32_t self = group_->rank();
  const uint32_t ranks = geometry_.ranks();
  // Every reply's rows numbered one after another; [token, rank] names the row of the
  // rank's partial sum for the token, or -1. Unit weights: the partials are weighted.
  slots_.assign(uint64_t{plan_.tokens()} * ranks, -1);
  weights_.assign(slots_.size(), 1.0f);
  int32_t first = 0;
  for (uint32_t r = 0; r < ranks; ++r) {
    const uint8_t* reply = r == self ? combine_staging_.data() + combine_at_[r]
                                     : region_.local + geometry_.combine_area_offset() + reply_from_[r];
    const auto tokens = plan_.tokens_to(r);
    auto header = mover_->read(reply, kCombinePreambleBytes);
    if (!header.ok()) return header.error();
    auto checked = parse_combine(*header, sequence_, r, static_cast<uint32_t>(tokens.size()));
    if (!checked.ok()) return checked.error();
    runs_[r] = RowRun{reply + kCombinePreambleBytes, static_cast<uint32_t>(tokens.size())};
    for (uint32_t i = 0; i < tokens.size(); ++i) {
      slots_[uint64_t{tokens[i]} * ranks + r] = first + static_cast<int32_t>(i);
    }
    first += static_cast<int32_t>(tokens.size());
  }
  return mover_->weighted_combine(runs_, slots_, weights_, ranks, combined);
}

}  // namespace ferry::moe
