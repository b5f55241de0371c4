#include "transport/workloads/moe/gpu/gpu_row_mover.h"

#include <algorithm>
#include <string>

#include "transport/gpu/runtime.h"
#include "transport/workloads/moe/gpu/gpu_moe.h"

namespace ferry::moe {
namespace {

// Grows GPU scratch to `bytes`, by at least half again so that growing calls allocate
// rarely.
VoidResult grow(MemoryBlock& block, uint64_t bytes) {
  if (bytes <= block.size()) return {};
  const uint64_t size = std::max(bytes, block.size() + block.size() / 2);
  block = MemoryBlock();  // freed first: the old contents are not needed
  auto grown = MemoryBlock::allocate(size, MemoryKind::kDevice);
  if (!grown.ok()) return grown.error();
  block = std::move(grown).value();
  return {};
}

}  // namespace

Result<std::unique_ptr<GpuRowMover>> GpuRowMover::make(const MoeGeometry& geometry) {
  if (auto here = ferry::gpu::available(); !here.ok()) {
    return make_error(here.error().code, "moe: the exchange is in GPU memory (MoeConfig::memory), but " +
                                             here.error().message);
  }
  return std::unique_ptr<GpuRowMover>(new GpuRowMover(geometry));
}

VoidResult GpuRowMover::reserve_worst_case() {
  const MoeGeometry& g = geometry_;
  const uint64_t ranks = g.ranks();
  // Dispatch packs each token once per rank it reaches; unpacking indexes every received
  // row twice (its vector, its row); combine staging once.
  const uint64_t indices = std::max(uint64_t{g.max_tokens()} * g.max_ranks_per_token(), 2 * g.max_received_rows());
  indices_.reserve(indices);
  if (auto r = grow(device_indices_, indices * sizeof(uint32_t)); !r.ok()) return r;
  const uint64_t preamble = dispatch_preamble_bytes(g.experts_per_rank(), g.max_tokens(),
                                                    static_cast<uint32_t>(g.max_rows_from_source()));
  headers_.reserve(ranks * preamble);
  copies_.reserve(ranks);
  pending_headers_.reserve(ranks);
  reads_.resize(2 * ranks);  // dispatch: each source's header, then its preamble
  for (auto& read : reads_) read.reserve(preamble);
  // Combine: per origin [tokens, top_k] tables over the expert outputs in place; on the
  // origin [tokens, ranks] over the replies gathered, one row per (token, rank reached).
  const uint64_t slots = uint64_t{g.max_tokens()} * std::max(g.top_k(), g.ranks());
  if (auto r = grow(gathered_, uint64_t{g.max_tokens()} * g.max_ranks_per_token() * g.output_row_bytes()); !r.ok()) {
    return r;
  }
  if (auto r = grow(slots_, slots * sizeof(int32_t)); !r.ok()) return r;
  return grow(weights_, slots * sizeof(float));
}

VoidResult GpuRowMover::check_input(const void* data, uint64_t bytes, const char* what) const {
  if (bytes == 0) return {};
  // A host pointer would reach a kernel, which fails the whole CUDA context.
  if (ferry::gpu::query_pointer(data).kind != MemoryKind::kDevice) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + " is host memory, but the exchange is in GPU memory (MoeConfig::memory)");
  }
  VoidResult range = ferry::gpu::check_memory_kind(data, bytes, MemoryKind::kDevice);
  if (range.ok()) return range;
  return make_error(range.error().code, std::string(what) + ": " + range.error().message);
}

uint8_t* GpuRowMover::header(uint8_t* dst, uint64_t bytes) {
  const uint64_t offset = headers_.size();
  headers_.resize(offset + bytes);
  pending_headers_.push_back(PendingHeader{dst, offset, bytes});
  return headers_.data() + offset;
}

Result<const uint8_t*> GpuRowMover::read(const uint8_t* src, uint64_t bytes) {
  if (reads_used_ == reads_.size()) reads_.emplace_back();
  std::vector<uint8_t>& out = reads_[reads_used_++];
  out.resize(bytes);
  if (auto copied = ferry::gpu::copy(out.data(), src, bytes); !copied.ok()) return copied.error();
  return static_cast<const uint8_t*>(out.data());
}

void GpuRowMover::copy(const RowCopy& c) {
  if (c.rows == 0) return;
  PendingCopy pending;
  pending.copy.dst = c.dst;
  pending.copy.src = c.src;
  pending.copy.pages = c.rows;
  pending.copy.dst_page_stride = pending.copy.src_page_stride = pending.copy.row_bytes = c.row_bytes;
  if (!c.dst_rows.empty()) {
    pending.dst_index = indices_.size();
    indices_.insert(indices_.end(), c.dst_rows.begin(), c.dst_rows.end());
  }
  if (!c.src_rows.empty()) {
    pending.src_index = indices_.size();
    indices_.insert(indices_.end(), c.src_rows.begin(), c.src_rows.end());
  }
  copies_.push_back(pending);
}

VoidResult GpuRowMover::launch_pending() {
  const uint64_t index_bytes = indices_.size() * sizeof(uint32_t);
  VoidResult result = grow(device_indices_, index_bytes);
  if (result.ok()) result = ferry::gpu::copy(device_indices_.data(), indices_.data(), index_bytes);
  const auto* device_indices = reinterpret_cast<const uint32_t*>(device_indices_.data());
  for (PendingCopy& p : copies_) {
    if (!result.ok()) break;
    if (p.dst_index != kNoIndex) p.copy.dst_pages = device_indices + p.dst_index;
    if (p.src_index != kNoIndex) p.copy.src_pages = device_indices + p.src_index;
    result = ferry::gpu::launch_paged_copy(p.copy);
  }
  for (const PendingHeader& h : pending_headers_) {
    if (!result.ok()) break;
    result = ferry::gpu::copy(h.dst, headers_.data() + h.offset, h.bytes);
  }
  indices_.clear();
  copies_.clear();
  headers_.clear();
  pending_headers_.clear();
  return result;
}

VoidResult GpuRowMover::finish() {
  VoidResult launched = launch_pending();
  VoidResult done = ferry::gpu::synchronize();  // also after a failed launch: nothing may still run
  reads_used_ = 0;
  return launched.ok() ? done : launched;
}

VoidResult GpuRowMover::weighted_combine(std::span<const RowRun> runs, std::span<const int32_t> slots,
                                         std::span<const float> weights, uint32_t width,
                                         std::span<uint16_t> out) {
  const uint64_t row_bytes = geometry_.output_row_bytes();
  if (auto r = grow(slots_, slots.size_bytes()); !r.ok()) return r;
  if (auto r = grow(weights_, weights.size_bytes()); !r.ok()) return r;
  // One run (the expert outputs) is read in place. The replies sit between their
  // headers: one array first, as the kernel indexes rows.
  const uint8_t* rows = runs.size() == 1 ? runs[0].rows : nullptr;
  if (runs.size() != 1) {
    uint64_t count = 0;
    for (const RowRun& run : runs) count += run.count;
    if (auto r = grow(gathered_, count * row_bytes); !r.ok()) return r;
    rows = gathered_.data();
    count = 0;
    for (const RowRun& run : runs) {
      copy(RowCopy{gathered_.data() + count * row_bytes, run.rows, {}, {}, run.count, row_bytes});
      count += run.count;
    }
  }
  VoidResult result = ferry::gpu::copy(slots_.data(), slots.data(), slots.size_bytes());
  if (result.ok()) result = ferry::gpu::copy(weights_.data(), weights.data(), weights.size_bytes());
  VoidResult launched = launch_pending();
  if (result.ok()) result = launched;
  if (result.ok()) {
    result = moe::gpu::launch_weighted_combine(reinterpret_cast<const uint16_t*>(rows),
                                               reinterpret_cast<const int32_t*>(slots_.data()),
                                               reinterpret_cast<const float*>(weights_.data()),
                                               static_cast<uint32_t>(out.size() / geometry_.hidden()), width,
                                               geometry_.hidden(), out.data());
  }
  VoidResult done = ferry::gpu::synchronize();
  reads_used_ = 0;
  return result.ok() ? done : result;
}

}  // namespace ferry::moe
