// RowMover: how ExpertParallel touches the memory its bytes live in (MoeConfig::memory).
// The layout (which row goes where, every header field) is computed once, on the host,
// by the shared code; a mover only carries it out:
//   host memory  memcpy and moe::weighted_sum, at once (HostRowMover, below);
//   GPU memory   headers built on the host and copied in or out, rows moved by a paged
//                copy kernel, combine by the weighted combine kernel (GpuRowMover,
//                gpu/gpu_row_mover.h).
// Headers and copies take effect by finish(); the engine may read the memory after it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "transport/result.h"
#include "transport/workloads/moe/geometry.h"

namespace ferry::moe {

// Row i is copied from src + src_row(i) × row_bytes to dst + dst_row(i) × row_bytes,
// where src_row(i) is src_rows[i], or i when src_rows is empty (likewise dst).
struct RowCopy {
  uint8_t* dst = nullptr;
  const uint8_t* src = nullptr;
  std::span<const uint32_t> dst_rows;
  std::span<const uint32_t> src_rows;
  uint32_t rows = 0;
  uint64_t row_bytes = 0;
};

// `count` rows of bf16 outputs, one after another: one combine reply.
struct RowRun {
  const uint8_t* rows = nullptr;
  uint32_t count = 0;
};

class RowMover {
 public:
  // The mover for geometry.config().memory; with GPU memory, an error saying why no GPU
  // can be used.
  static Result<std::unique_ptr<RowMover>> make(const MoeGeometry& geometry);
  virtual ~RowMover() = default;

  // Sizes every scratch buffer for the worst case (low-latency mode).
  virtual VoidResult reserve_worst_case() = 0;

  // A caller's buffer must be in the exchange's memory; `what` names it in the error.
  virtual VoidResult check_input(const void* data, uint64_t bytes, const char* what) const = 0;

  // Where the host writes `bytes` bytes that belong at `dst`: dst itself in host memory,
  // else host scratch that finish() copies there. Valid until the next call.
  virtual uint8_t* header(uint8_t* dst, uint64_t bytes) = 0;
  // `bytes` bytes at `src`, readable by the host: src itself in host memory, else a
  // copy, valid until finish().
  virtual Result<const uint8_t*> read(const uint8_t* src, uint64_t bytes) = 0;
  // Queues a copy (the index spans need only live through the call).
  virtual void copy(const RowCopy& copy) = 0;
  // Every header and copy since the last finish() is in place.
  virtual VoidResult finish() = 0;

  // out[t] = bf16(Σ_j weights[t][j] × row(slots[t][j])) in fp32, j ascending, as
  // moe::weighted_sum: rows are numbered through the runs one after another, and a slot
  // of -1 has none. weights and slots are host memory, [tokens, width]. Combine runs it
  // twice: on the expert rank per origin (width top_k: the partial sums), on the origin
  // over the replies (width ranks, unit weights).
  virtual VoidResult weighted_combine(std::span<const RowRun> runs, std::span<const int32_t> slots,
                                      std::span<const float> weights, uint32_t width,
                                      std::span<uint16_t> out) = 0;
};

class HostRowMover final : public RowMover {
 public:
  explicit HostRowMover(const MoeGeometry& geometry);
  VoidResult reserve_worst_case() override;
  VoidResult check_input(const void*, uint64_t, const char*) const override { return {}; }
  uint8_t* header(uint8_t* dst, uint64_t) override { return dst; }
  Result<const uint8_t*> read(const uint8_t* src, uint64_t) override { return src; }
  void copy(const RowCopy& copy) override;
  VoidResult finish() override { return {}; }
  VoidResult weighted_combine(std::span<const RowRun> runs, std::span<const int32_t> slots,
                              std::span<const float> weights, uint32_t width, std::span<uint16_t> out) override;

 private:
  MoeGeometry geometry_;
  std::vector<const uint8_t*> rows_;       // every run's rows, numbered as the slots number them
  std::vector<const uint8_t*> slot_rows_;  // one token's rows
  std::vector<float> accumulator_;         // [hidden]
};

}  // namespace ferry::moe
