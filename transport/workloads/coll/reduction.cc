#include "transport/workloads/coll/reduction.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ferry::coll {
namespace {

constexpr size_t kBlock = 512;  // elements accumulated at once, on the stack

inline float combine(float acc, float value, ReduceOp op) {
  if (op == ReduceOp::kSum) return acc + value;
  return (value > acc || std::isnan(value)) ? value : acc;  // max: a NaN wins, as in NCCL
}

void load_block(float* out, const void* src, size_t first, size_t n, DType dtype) {
  if (dtype == DType::kFloat32) {
    std::memcpy(out, static_cast<const float*>(src) + first, n * sizeof(float));
    return;
  }
  for (size_t i = 0; i < n; ++i) out[i] = load_as_float(src, first + i, dtype);
}

}  // namespace

const char* to_string(ReduceOp op) { return op == ReduceOp::kSum ? "sum" : "max"; }

std::optional<ReduceOp> reduce_op_from_string(std::string_view name) {
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) {
    if (name == to_string(op)) return op;
  }
  return std::nullopt;
}

void reduce(void* dst, std::span<const void* const> sources, size_t count, DType dtype, ReduceOp op) {
  float acc[kBlock];
  float in[kBlock];
  for (size_t first = 0; first < count; first += kBlock) {
    const size_t n = std::min(kBlock, count - first);
    load_block(acc, sources[0], first, n, dtype);
    for (size_t s = 1; s < sources.size(); ++s) {
      load_block(in, sources[s], first, n, dtype);
      for (size_t i = 0; i < n; ++i) acc[i] = combine(acc[i], in[i], op);
    }
    for (size_t i = 0; i < n; ++i) store_from_float(dst, first + i, dtype, acc[i]);
  }
}

}  // namespace ferry::coll
