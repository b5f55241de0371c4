#include "transport/gpu/paged_copy.h"

#include <cuda_runtime.h>

#include <string>

namespace ferry::gpu {
namespace {

constexpr int kUnroll = 4;  // vectors each thread has in flight per step

// Where page `index` of all parts' pages (part by part) starts on each side.
struct PageEnds {
  const char* src;
  char* dst;
};

__device__ __forceinline__ PageEnds page_at(const PagedCopy& c, uint32_t index) {
  const uint32_t part = c.parts == 1 ? 0 : index / c.pages;
  const uint32_t page = index - part * c.pages;
  const uint64_t from = c.src_pages != nullptr ? c.src_pages[page] : page;
  const uint64_t to = c.dst_pages != nullptr ? c.dst_pages[page] : page;
  return PageEnds{static_cast<const char*>(c.src) + part * c.src_part_stride + from * c.src_page_stride,
                  static_cast<char*>(c.dst) + part * c.dst_part_stride + to * c.dst_page_stride};
}

// Thread blocks take page after page (a grid of one block per page takes one each).
// Loads of a step are all issued before the stores, so each thread keeps kUnroll vectors
// in flight: that is what reaches the copy engines' rate. (Streaming, evict-first loads
// and stores measured 3-6 % slower on an H100.)
template <typename Vector>
__global__ void load_store_kernel(PagedCopy c) {
  const uint64_t per_row = c.row_bytes / sizeof(Vector);
  const uint64_t total = per_row * c.rows;
  const uint64_t step = uint64_t{blockDim.x} * kUnroll;
  const uint32_t pages = c.pages * c.parts;
  for (uint32_t page = blockIdx.x; page < pages; page += gridDim.x) {
    const PageEnds ends = page_at(c, page);
    const char* src = ends.src;
    char* dst = ends.dst;
    for (uint64_t base = threadIdx.x; base < total; base += step) {
      Vector v[kUnroll];
      uint64_t dst_at[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const uint64_t i = base + uint64_t(u) * blockDim.x;
        if (i < total) {
          const uint64_t row = c.rows == 1 ? 0 : i / per_row;
          const uint64_t col = (i - row * per_row) * sizeof(Vector);
          v[u] = *reinterpret_cast<const Vector*>(src + row * c.src_row_stride + col);
          dst_at[u] = row * c.dst_row_stride + col;
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (base + uint64_t(u) * blockDim.x < total) *reinterpret_cast<Vector*>(dst + dst_at[u]) = v[u];
      }
    }
  }
}

// --- Bulk asynchronous copies (sm_90) ---------------------------------------------------
//
// The copy is cut into pieces of at most kPieceBytes (a piece never crosses a row). One
// thread per block loads a piece from global memory into a shared-memory stage (the load
// signals the stage's barrier with the bytes it wrote), then stores the stage back to
// global memory once the barrier says it is full. kStages - 1 loads are in flight while
// the oldest piece is stored; a stage is loaded again only after its store has read it.

constexpr uint32_t kPieceBytes = 16 << 10;
constexpr uint32_t kStages = 4;
constexpr uint32_t kBulkSharedBytes = kStages * kPieceBytes;  // + barriers, below

struct Piece {
  const char* src;
  char* dst;
  uint32_t bytes;
};

__device__ __forceinline__ Piece piece_at(const PagedCopy& c, uint64_t pieces_per_row, uint64_t index) {
  const uint64_t per_page = pieces_per_row * c.rows;
  const uint32_t page = static_cast<uint32_t>(index / per_page);
  const uint64_t in_page = index - uint64_t{page} * per_page;
  const uint64_t row = in_page / pieces_per_row;
  const uint64_t offset = (in_page - row * pieces_per_row) * kPieceBytes;
  const uint64_t left = c.row_bytes - offset;
  const PageEnds ends = page_at(c, page);
  return Piece{ends.src + row * c.src_row_stride + offset, ends.dst + row * c.dst_row_stride + offset,
               static_cast<uint32_t>(left < kPieceBytes ? left : kPieceBytes)};
}

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void bulk_load(uint32_t stage, const Piece& p, uint32_t barrier) {
#if __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(barrier), "r"(p.bytes) : "memory");
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(stage),
               "l"(p.src), "r"(p.bytes), "r"(barrier)
               : "memory");
#endif
}

__device__ __forceinline__ void wait_full(uint32_t barrier, uint32_t parity) {
#if __CUDA_ARCH__ >= 900
  uint32_t done = 0;
  while (!done) {
    asm volatile(
        "{ .reg .pred full;\n"
        "  mbarrier.try_wait.parity.shared::cta.b64 full, [%1], %2;\n"
        "  selp.u32 %0, 1, 0, full; }"
        : "=r"(done)
        : "r"(barrier), "r"(parity)
        : "memory");
  }
#endif
}

__device__ __forceinline__ void bulk_store(const Piece& p, uint32_t stage) {
#if __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;" ::"l"(p.dst), "r"(stage), "r"(p.bytes)
               : "memory");
  asm volatile("cp.async.bulk.commit_group;" ::: "memory");
#endif
}

__global__ void bulk_async_kernel(PagedCopy c, uint64_t pieces_per_row) {
#if __CUDA_ARCH__ >= 900
  extern __shared__ __align__(128) char shared[];
  auto* barriers = reinterpret_cast<uint64_t*>(shared + kBulkSharedBytes);
  if (threadIdx.x != 0) return;
  for (uint32_t s = 0; s < kStages; ++s) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(shared_address(&barriers[s])) : "memory");
  }
  // The barriers' initialisation is seen by the copy engine before it signals them.
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");

  const uint64_t total = pieces_per_row * c.rows * c.pages * c.parts;
  const uint64_t mine = total > blockIdx.x ? (total - blockIdx.x + gridDim.x - 1) / gridDim.x : 0;
  auto piece = [&](uint64_t k) { return piece_at(c, pieces_per_row, blockIdx.x + k * gridDim.x); };
  auto stage = [&](uint64_t k) { return shared_address(shared + (k % kStages) * kPieceBytes); };
  auto barrier = [&](uint64_t k) { return shared_address(&barriers[k % kStages]); };

  for (uint64_t k = 0; k + 1 < kStages && k < mine; ++k) bulk_load(stage(k), piece(k), barrier(k));
  for (uint64_t k = 0; k < mine; ++k) {
    wait_full(barrier(k), static_cast<uint32_t>((k / kStages) & 1));
    bulk_store(piece(k), stage(k));
    // Piece k + kStages - 1 goes to the stage piece k - 1 used: wait until that store
    // (all but the newest) has read it.
    const uint64_t next = k + kStages - 1;
    if (next < mine) {
      asm volatile("cp.async.bulk.wait_group.read 1;" ::: "memory");
      bulk_load(stage(next), piece(next), barrier(next));
    }
  }
  // Shared memory goes when the block ends; the stores must be done with it (and done).
  asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
#endif
}

// --- Launch -----------------------------------------------------------------------------

// The widest access every address, stride and size is a multiple of.
int vector_bytes(const PagedCopy& c) {
  uint64_t bits = reinterpret_cast<uintptr_t>(c.dst) | reinterpret_cast<uintptr_t>(c.src) | c.row_bytes;
  if (c.pages > 1) bits |= c.dst_page_stride | c.src_page_stride;
  if (c.rows > 1) bits |= c.dst_row_stride | c.src_row_stride;
  if (c.parts > 1) bits |= c.dst_part_stride | c.src_part_stride;
  for (int width : {16, 8, 4, 2}) {
    if (bits % width == 0) return width;
  }
  return 1;
}

struct Device {
  int multiprocessors = 132;
  int major = 9;
};

const Device& device() {
  static const Device d = [] {
    Device found;
    int id = 0, count = 0, major = 0;
    if (cudaGetDevice(&id) != cudaSuccess) return found;
    if (cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, id) == cudaSuccess && count > 0) {
      found.multiprocessors = count;
    }
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, id) == cudaSuccess) found.major = major;
    return found;
  }();
  return d;
}

uint32_t grid_of(uint64_t work, uint32_t blocks_per_multiprocessor) {
  const uint64_t resident = uint64_t(device().multiprocessors) * blocks_per_multiprocessor;
  return static_cast<uint32_t>(work < resident ? work : resident);
}

VoidResult launched(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return make_error(ErrorCode::kUnavailable, std::string(what) + " launch: " + cudaGetErrorString(e));
  return {};
}

VoidResult launch_bulk_async(const PagedCopy& c, cudaStream_t s, uint32_t blocks_per_multiprocessor) {
  const size_t shared = kBulkSharedBytes + kStages * sizeof(uint64_t);
  static const cudaError_t configured =
      cudaFuncSetAttribute(bulk_async_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
  if (configured != cudaSuccess) {
    return make_error(ErrorCode::kUnavailable, std::string("paged copy: ") + cudaGetErrorString(configured));
  }
  const uint64_t pieces_per_row = (c.row_bytes + kPieceBytes - 1) / kPieceBytes;
  const uint32_t grid = grid_of(pieces_per_row * c.rows * c.pages * c.parts, blocks_per_multiprocessor == 0 ? 3 : blocks_per_multiprocessor);
  bulk_async_kernel<<<grid, 32, shared, s>>>(c, pieces_per_row);
  return launched("paged copy (bulk)");
}

}  // namespace

VoidResult launch_paged_copy(const PagedCopy& c, void* stream, const PagedCopyShape& shape) {
  if (c.pages == 0 || c.rows == 0 || c.row_bytes == 0 || c.parts == 0) return {};
  if (c.dst == nullptr || c.src == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "paged copy: null source or destination");
  }
  if (uint64_t{c.pages} * c.parts > 0x7fffffffu) {
    return make_error(ErrorCode::kOutOfRange, "paged copy: more than 2^31 pages (all parts)");
  }
  const uint64_t page_bytes = c.row_bytes * c.rows;
  const uint32_t threads = shape.threads != 0 ? shape.threads : page_bytes < (32 << 10) ? 256 : 512;
  if (threads != 128 && threads != 256 && threads != 512 && threads != 1024) {
    return make_error(ErrorCode::kInvalidArgument,
                      "paged copy: " + std::to_string(threads) + " threads per block (128, 256, 512 or 1024; 0 picks by page size)");
  }
  auto s = static_cast<cudaStream_t>(stream);
  const int width = vector_bytes(c);
  if (shape.method == PagedCopyShape::Method::kBulkAsync && width == 16 && device().major >= 9) {
    return launch_bulk_async(c, s, shape.blocks_per_multiprocessor);
  }
  const uint32_t pages = c.pages * c.parts;
  const uint32_t grid = shape.blocks_per_multiprocessor == 0 ? pages : grid_of(pages, shape.blocks_per_multiprocessor);
  switch (width) {
    case 16: load_store_kernel<uint4><<<grid, threads, 0, s>>>(c); break;
    case 8: load_store_kernel<uint2><<<grid, threads, 0, s>>>(c); break;
    case 4: load_store_kernel<uint32_t><<<grid, threads, 0, s>>>(c); break;
    case 2: load_store_kernel<uint16_t><<<grid, threads, 0, s>>>(c); break;
    default: load_store_kernel<uint8_t><<<grid, threads, 0, s>>>(c); break;
  }
  return launched("paged copy");
}

}  // namespace ferry::gpu
