// ferry.ExpertParallel: MoE dispatch and combine over every rank of a cluster
// (transport/workloads/moe). One call takes one array per rank and starts every rank's
// part; between dispatch and combine, received(rank) is what that rank's experts got.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/future.h"
#include "python/ferry/_native/handles.h"
#include "python/ferry/_native/symmetric.h"
#include "transport/workloads/moe/expert_parallel.h"

namespace ferry::python {
namespace {

struct MoeState {
  std::vector<Group> groups;
  std::vector<std::vector<uint8_t>> regions;  // each rank's receive region, registered for good
  std::vector<std::unique_ptr<moe::ExpertParallel>> ranks;
};

struct MoeHandle {
  std::shared_ptr<Core> core;
  moe::MoeConfig config;
  MoeState* state = nullptr;
};

MoeHandle make_moe(const std::shared_ptr<Core>& core, uint32_t experts, uint32_t top_k, uint32_t hidden,
                   uint32_t max_tokens, uint32_t element_bytes, const std::string& mode) {
  if (mode != "normal" && mode != "low_latency") fail(ErrorCode::kInvalidArgument, "mode is 'normal' or 'low_latency', not '" + mode + "'");
  const moe::MoeConfig config{.experts = experts,
                              .top_k = top_k,
                              .hidden = hidden,
                              .element_bytes = element_bytes,
                              .max_tokens = max_tokens,
                              .mode = mode == "normal" ? moe::MoeMode::kNormal : moe::MoeMode::kLowLatency};
  MoeHandle h{core, config, nullptr};
  locked(*core, [&] {
    const uint64_t bytes = take(moe::ExpertParallel::region_bytes(config, static_cast<uint32_t>(core->size())));
    auto state = std::make_shared<MoeState>();
    state->groups = all_ranks(*core);
    std::vector<Memory> buffers;
    for (size_t r = 0; r < core->size(); ++r) {
      state->regions.emplace_back(bytes, 0);
      buffers.push_back(Memory{state->regions.back().data(), bytes, false, MemoryKind::kHost, py::object()});
    }
    std::vector<Hold> kept;  // for the cluster's life
    const std::vector<SymmetricRegion> regions = symmetric_regions(*core, buffers, kept);
    for (size_t r = 0; r < core->size(); ++r) {
      state->ranks.push_back(take(moe::ExpertParallel::create(state->groups[r], config, regions[r])));
    }
    h.state = state.get();
    core->own(std::move(state));
    return 0;
  });
  return h;
}

// A C-contiguous numpy array of T, as a span.
template <typename T>
std::span<T> typed(py::handle obj, const std::string& what, const char* dtype, bool writable) {
  if (!py::isinstance<py::array_t<T>>(obj)) fail(ErrorCode::kInvalidArgument, what + ": expected a numpy array of " + dtype);
  const Memory m = memory_of(obj, writable, what.c_str());
  return {static_cast<T*>(m.addr), m.bytes / sizeof(T)};
}

void check_ranks(const MoeHandle& h, size_t arrays, const char* what) {
  if (arrays != h.core->size()) {
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": " + std::to_string(arrays) + " arrays for " + std::to_string(h.core->size()) + " ranks");
  }
}

std::string at(const char* what, size_t r) { return std::string(what) + "[" + std::to_string(r) + "]"; }

Future dispatch(MoeHandle& h, py::sequence topk_idx, py::sequence weights, py::sequence hidden) {
  check_ranks(h, topk_idx.size(), "topk_idx");
  check_ranks(h, weights.size(), "topk_weights");
  check_ranks(h, hidden.size(), "hidden");
  std::vector<std::span<const int32_t>> idx;
  std::vector<std::span<const float>> w;
  std::vector<std::span<const uint8_t>> rows;
  for (size_t r = 0; r < topk_idx.size(); ++r) {
    idx.push_back(typed<int32_t>(topk_idx[r], at("topk_idx", r), "int32", false));
    w.push_back(typed<float>(weights[r], at("topk_weights", r), "float32", false));
    const Memory m = memory_of(hidden[r], false, at("hidden", r).c_str());
    rows.push_back({static_cast<const uint8_t*>(m.addr), m.bytes});
    const uint64_t tokens = idx.back().size() / h.config.top_k;
    if (idx.back().size() % h.config.top_k != 0 || w.back().size() != idx.back().size() ||
        m.bytes != tokens * h.config.hidden * h.config.element_bytes) {
      fail(ErrorCode::kInvalidArgument, "rank " + std::to_string(r) + ": topk_idx and topk_weights must be [tokens, top_k] and hidden [tokens, hidden] of " +
                                            std::to_string(h.config.element_bytes) + "-byte elements");
    }
  }
  auto all = locked(*h.core, [&] {
    std::vector<std::shared_ptr<PyPending>> parts;
    for (size_t r = 0; r < idx.size(); ++r) {
      parts.push_back(std::make_shared<TaskState<VoidResult>>(h.state->ranks[r]->dispatch(idx[r], w[r], rows[r]), none_or_raise));
    }
    return start_all(*h.core, std::move(parts), {});
  });
  return Future(h.core, all, "moe dispatch", py::make_tuple(topk_idx, weights, hidden));
}

Future combine(MoeHandle& h, py::sequence outputs, py::sequence combined) {
  check_ranks(h, outputs.size(), "expert_outputs");
  check_ranks(h, combined.size(), "combined");
  std::vector<std::span<const uint16_t>> out;
  std::vector<std::span<uint16_t>> into;
  for (size_t r = 0; r < outputs.size(); ++r) {
    out.push_back(typed<uint16_t>(outputs[r], at("expert_outputs", r), "uint16 (bf16 bits)", false));
    into.push_back(typed<uint16_t>(combined[r], at("combined", r), "uint16 (bf16 bits)", true));
  }
  auto all = locked(*h.core, [&] {
    std::vector<std::shared_ptr<PyPending>> parts;
    for (size_t r = 0; r < out.size(); ++r) {
      parts.push_back(std::make_shared<TaskState<VoidResult>>(h.state->ranks[r]->combine(out[r], into[r]), none_or_raise));
    }
    return start_all(*h.core, std::move(parts), {});
  });
  return Future(h.core, all, "moe combine", py::make_tuple(outputs, combined));
}

py::dict received(MoeHandle& h, size_t rank) {
  if (rank >= h.core->size()) fail(ErrorCode::kOutOfRange, "rank " + std::to_string(rank) + " is not in the cluster");
  std::vector<uint8_t> rows;
  std::vector<uint32_t> counts, origins;
  std::vector<float> weights;
  locked(*h.core, [&] {
    const moe::ExpertBatch& batch = h.state->ranks[rank]->received();
    rows.assign(batch.all_tokens().begin(), batch.all_tokens().end());
    for (uint32_t e = 0; e < batch.local_experts(); ++e) counts.push_back(batch.count(e));
    for (const moe::TokenOrigin& o : batch.all_origins()) origins.insert(origins.end(), {o.rank, o.token, o.k_slot});
    weights.assign(batch.all_weights().begin(), batch.all_weights().end());
    return 0;
  });
  const py::ssize_t n = static_cast<py::ssize_t>(origins.size() / 3);
  py::array_t<uint8_t> rows_array({n, static_cast<py::ssize_t>(n == 0 ? 0 : rows.size() / static_cast<size_t>(n))});
  std::copy(rows.begin(), rows.end(), rows_array.mutable_data());
  py::array_t<uint32_t> origin_array({n, py::ssize_t{3}});
  std::copy(origins.begin(), origins.end(), origin_array.mutable_data());
  py::dict d;
  d["rows"] = rows_array;
  d["counts"] = counts;
  d["origins"] = origin_array;
  d["weights"] = py::array_t<float>(n, weights.data());
  return d;
}

}  // namespace

void bind_moe(py::module_& m) {
  py::class_<MoeHandle>(m, "ExpertParallel", R"doc(
MoE expert parallelism over every rank of the cluster: ``experts`` spread evenly (expert
e on rank e // (experts / ranks)), ``top_k`` per token, ``hidden`` elements of
``element_bytes`` per token, at most ``max_tokens`` per rank and call. Calls alternate
dispatch, combine, dispatch, ..., each with one array per rank.

``dispatch(topk_idx, topk_weights, hidden)``: int32 ``[tokens, top_k]`` (-1: no
expert), float32 ``[tokens, top_k]`` weights and ``[tokens, hidden]`` rows. Then
``received(rank)``: ``rows`` (uint8 ``[n, hidden * element_bytes]``, grouped by local
expert), ``counts`` per local expert, ``origins`` (``[n, 3]``: rank, token, k slot) and
``weights`` (float32 ``[n]``). ``combine(expert_outputs, combined)``: bf16 outputs
(uint16 bits) in received()'s row order and the uint16 ``[tokens, hidden]`` result:
each expert rank sums its experts' outputs per token, weighted, in fp32, and the
token's rank sums those partial sums in rank order (docs/moe.md).
)doc")
      .def(py::init(&make_moe), py::arg("cluster"), py::kw_only(), py::arg("experts"), py::arg("top_k"), py::arg("hidden"),
           py::arg("max_tokens"), py::arg("element_bytes") = 2, py::arg("mode") = "normal")
      .def("dispatch", &dispatch, py::arg("topk_idx"), py::arg("topk_weights"), py::arg("hidden"),
           "Sends every token, with its routing weights, to the ranks of its experts.")
      .def("received", &received, py::arg("rank"), "What rank's experts received in the last dispatch (copies).")
      .def("combine", &combine, py::arg("expert_outputs"), py::arg("combined"),
           "Sums expert outputs per token and rank, weighted, and those sums on the token's rank.");
}

}  // namespace ferry::python
