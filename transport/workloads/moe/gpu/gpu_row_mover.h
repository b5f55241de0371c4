// GpuRowMover: the RowMover of an exchange in GPU memory. Headers are built on the host
// and copied in and out (one copy each); rows move with the paged copy kernel, one row
// per page, every copy's index arrays uploaded together once per finish(); combine runs
// the weighted combine kernel, over the rows in place when they are one run, else
// gathered into one array first. Every
// launch goes on the default stream, and finish() waits for the device, so that the
// engine never reads staging a kernel is still writing.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "transport/gpu/paged_copy.h"
#include "transport/workloads/moe/memory_block.h"
#include "transport/workloads/moe/row_mover.h"

namespace ferry::moe {

class GpuRowMover final : public RowMover {
 public:
  // Fails, saying why, when no GPU can be used.
  static Result<std::unique_ptr<GpuRowMover>> make(const MoeGeometry& geometry);

  VoidResult reserve_worst_case() override;
  VoidResult check_input(const void* data, uint64_t bytes, const char* what) const override;
  uint8_t* header(uint8_t* dst, uint64_t bytes) override;
  Result<const uint8_t*> read(const uint8_t* src, uint64_t bytes) override;
  void copy(const RowCopy& copy) override;
  VoidResult finish() override;
  VoidResult weighted_combine(std::span<const RowRun> runs, std::span<const int32_t> slots,
                              std::span<const float> weights, uint32_t width, std::span<uint16_t> out) override;

 private:
  static constexpr uint64_t kNoIndex = ~uint64_t{0};
  struct PendingCopy {
    ferry::gpu::PagedCopy copy;
    uint64_t dst_index = kNoIndex;  // where its index arrays start in indices_
    uint64_t src_index = kNoIndex;
  };
  struct PendingHeader {
    uint8_t* dst = nullptr;
    uint64_t offset = 0;  // in headers_
    uint64_t bytes = 0;
  };

  explicit GpuRowMover(const MoeGeometry& geometry) : geometry_(geometry) {}
  // Uploads the index arrays, launches the copies and copies the headers in; clears them.
  VoidResult launch_pending();

  MoeGeometry geometry_;
  std::vector<uint32_t> indices_;  // every pending copy's index arrays, on the host
  MemoryBlock device_indices_;     // ... and on the GPU
  std::vector<PendingCopy> copies_;
  std::vector<uint8_t> headers_;
  std::vector<PendingHeader> pending_headers_;
  std::vector<std::vector<uint8_t>> reads_;  // one per read() since finish()
  size_t reads_used_ = 0;
  MemoryBlock gathered_;  // combine: the replies' rows in one array
  MemoryBlock slots_;     // combine: [tokens, width] int32 rows of gathered_
  MemoryBlock weights_;   // combine: [tokens, width] fp32
};

}  // namespace ferry::moe
