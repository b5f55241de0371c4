// ferry.Communicator: the tensor-parallel collectives (transport/workloads/coll) over
// every rank of a cluster. One call starts the collective on the ranks given (all by
// default), each with its own array; its Future is done when every one of them is.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/future.h"
#include "python/ferry/_native/handles.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/testing/symmetric.h"

namespace ferry::python {
namespace {

using coll::DType;

// Every rank's communicator and the scratch they write into; the cluster owns it.
struct CollState {
  std::vector<Group> groups;
  std::unique_ptr<testing::SymmetricAllocation> scratch;
  std::vector<std::unique_ptr<coll::Communicator>> comms;
};

struct CommHandle {
  std::shared_ptr<Core> core;
  CollState* state = nullptr;
};

CommHandle make_comm(const std::shared_ptr<Core>& core, uint64_t scratch_bytes) {
  if (scratch_bytes < 4096) fail(ErrorCode::kInvalidArgument, "scratch_bytes must be at least 4096");
  CommHandle h{core, nullptr};
  locked(*core, [&] {
    auto state = std::make_shared<CollState>();
    state->groups = testing::make_groups(core->cluster("a Communicator"));
    try {
      state->scratch = std::make_unique<testing::SymmetricAllocation>(core->cluster("a Communicator"), scratch_bytes);
    } catch (const std::runtime_error& e) {
      fail(ErrorCode::kResourceExhausted, std::string("scratch: ") + e.what());
    }
    for (size_t r = 0; r < core->size(); ++r) {
      state->comms.push_back(std::make_unique<coll::Communicator>(state->groups[r], state->scratch->view(r)));
    }
    h.state = state.get();
    core->own(std::move(state));
    return 0;
  });
  return h;
}

// The element type of an array: float32 and float16 from numpy; bfloat16 by name (an
// ml_dtypes array) or by `dtype="bfloat16"` over 2-byte elements.
DType dtype_of(py::handle array, const std::optional<std::string>& requested) {
  std::string name = requested.value_or("");
  if (name.empty()) {
    if (!py::hasattr(array, "dtype")) fail(ErrorCode::kInvalidArgument, "an array without a dtype: pass dtype=");
    name = py::str(array.attr("dtype")).cast<std::string>();
  }
  if (name == "float32" || name == "float") return DType::kFloat32;
  if (name == "float16" || name == "half") return DType::kFloat16;
  if (name == "bfloat16") return DType::kBFloat16;
  fail(ErrorCode::kInvalidArgument, "collectives take float32, float16 or bfloat16 arrays, not " + name);
}

// One rank's buffer of a call: its memory and element count.
struct Operand {
  Memory mem;
  size_t count = 0;
};

Operand operand(py::handle array, DType dtype, bool writable, const char* what) {
  Operand o{memory_of(array, writable, what), 0};
  const size_t item = coll::element_bytes(dtype);
  if (o.mem.bytes % item != 0) fail(ErrorCode::kInvalidArgument, std::string(what) + ": its bytes are not whole elements");
  o.count = o.mem.bytes / item;
  return o;
}

std::vector<size_t> ranks_of(const CommHandle& h, py::handle ranks_obj, size_t arrays) {
  std::vector<size_t> ranks;
  if (ranks_obj.is_none()) {
    for (size_t r = 0; r < h.core->size(); ++r) ranks.push_back(r);
  } else {
    for (auto r : ranks_obj.cast<py::sequence>()) {
      const long long rank = r.cast<long long>();
      if (rank < 0 || static_cast<size_t>(rank) >= h.core->size()) fail(ErrorCode::kOutOfRange, "rank " + std::to_string(rank) + " is not in the communicator");
      for (size_t seen : ranks) {
        if (seen == static_cast<size_t>(rank)) fail(ErrorCode::kInvalidArgument, "rank " + std::to_string(rank) + " is given twice");
      }
      ranks.push_back(static_cast<size_t>(rank));
    }
  }
  if (ranks.size() != arrays) {
    fail(ErrorCode::kInvalidArgument, std::to_string(arrays) + " arrays for " + std::to_string(ranks.size()) + " ranks: one array per rank");
  }
  return ranks;
}

using Make = std::function<Task<TransferResult>(coll::Communicator&, size_t i)>;

// Starts make(comm of ranks[i], i) on every rank, with every buffer registered until
// all are done.
Future launch(CommHandle& h, const std::string& what, const std::vector<size_t>& ranks,
              const std::vector<std::vector<Operand>>& buffers, const Make& make, py::object keep) {
  auto all = locked(*h.core, [&] {
    std::vector<Hold> held;
    std::vector<std::shared_ptr<PyPending>> parts;
    for (size_t i = 0; i < ranks.size(); ++i) {
      for (const Operand& o : buffers[i]) {
        h.core->acquire(ranks[i], o.mem.addr, o.mem.bytes, o.mem.kind);
        held.push_back({ranks[i], reinterpret_cast<uint64_t>(o.mem.addr), o.mem.bytes});
      }
      parts.push_back(std::make_shared<TaskState<TransferResult>>(make(*h.state->comms[ranks[i]], i), none_or_raise));
    }
    return start_all(*h.core, std::move(parts), std::move(held));
  });
  return Future(h.core, all, what, std::move(keep));
}

coll::ReduceOp op_of(const std::string& op) {
  auto parsed = coll::reduce_op_from_string(op);
  if (!parsed) fail(ErrorCode::kInvalidArgument, "op must be 'sum' or 'max', not '" + op + "'");
  return *parsed;
}

coll::Algorithm algorithm_of(const std::string& name) {
  auto parsed = coll::algorithm_from_string(name);
  if (!parsed) fail(ErrorCode::kInvalidArgument, "algorithm must be auto, ring, one_shot or two_shot, not '" + name + "'");
  return *parsed;
}

// One call's buffers, one or two arrays per rank: `first`'s arrays all hold `count`
// elements, `second`'s (when given) `scale` times as many; one dtype throughout.
struct Buffers {
  DType dtype = DType::kFloat32;
  size_t count = 0;
  std::vector<Operand> first, second;

  // Per rank, what the call registers.
  std::vector<std::vector<Operand>> by_rank() const {
    std::vector<std::vector<Operand>> out;
    for (size_t i = 0; i < first.size(); ++i) {
      out.push_back({first[i]});
      if (!second.empty()) out.back().push_back(second[i]);
    }
    return out;
  }
};

void add_operands(std::vector<Operand>& out, py::sequence arrays, const std::optional<std::string>& dtype_name,
                  DType dtype, bool writable, const char* what, size_t count) {
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (dtype_of(arrays[i], dtype_name) != dtype) fail(ErrorCode::kInvalidArgument, std::string(what) + ": every rank's array must have one dtype");
    out.push_back(operand(arrays[i], dtype, writable, what));
    if (out.back().count != count) {
      fail(ErrorCode::kInvalidArgument, std::string(what) + "[" + std::to_string(i) + "] has " + std::to_string(out.back().count) +
                                            " elements, " + std::to_string(count) + " expected");
    }
  }
}

struct Side {
  py::sequence arrays;
  bool writable;
  const char* name;
};

Buffers buffers_of(const std::optional<std::string>& dtype_name, Side first, std::optional<Side> second = std::nullopt,
                   size_t scale = 1) {
  if (first.arrays.size() == 0) fail(ErrorCode::kInvalidArgument, std::string(first.name) + ": no arrays");
  if (second && second->arrays.size() != first.arrays.size()) {
    fail(ErrorCode::kInvalidArgument, std::string("one ") + second->name + " array per " + first.name + " array");
  }
  Buffers b;
  b.dtype = dtype_of(first.arrays[0], dtype_name);
  b.count = operand(first.arrays[0], b.dtype, first.writable, first.name).count;
  if (b.count == 0) fail(ErrorCode::kInvalidArgument, std::string(first.name) + ": an empty array");
  add_operands(b.first, first.arrays, dtype_name, b.dtype, first.writable, first.name, b.count);
  if (second) add_operands(b.second, second->arrays, dtype_name, b.dtype, second->writable, second->name, b.count * scale);
  return b;
}

Future all_reduce(CommHandle& h, py::sequence arrays, const std::string& op, py::handle ranks_obj,
                  const std::string& algorithm, std::optional<std::string> dtype_name) {
  const auto ranks = ranks_of(h, ranks_obj, arrays.size());
  const Buffers b = buffers_of(dtype_name, {arrays, true, "arrays"});
  const auto reduce = op_of(op);
  const auto alg = algorithm_of(algorithm);
  return launch(h, "all_reduce", ranks, b.by_rank(), [&](coll::Communicator& c, size_t i) {
    return coll::all_reduce(c, b.first[i].mem.addr, b.count, b.dtype, reduce, alg);
  }, arrays);
}

Future all_gather(CommHandle& h, py::sequence sends, py::sequence recvs, py::handle ranks_obj, const std::string& algorithm,
                  std::optional<std::string> dtype_name) {
  const auto ranks = ranks_of(h, ranks_obj, sends.size());
  const Buffers b = buffers_of(dtype_name, {sends, false, "sends"}, Side{recvs, true, "recvs"}, h.core->size());
  const auto alg = algorithm_of(algorithm);
  return launch(h, "all_gather", ranks, b.by_rank(), [&](coll::Communicator& c, size_t i) {
    return coll::all_gather(c, b.first[i].mem.addr, b.second[i].mem.addr, b.count, b.dtype, alg);
  }, py::make_tuple(sends, recvs));
}

Future reduce_scatter(CommHandle& h, py::sequence sends, py::sequence recvs, const std::string& op, py::handle ranks_obj,
                      const std::string& algorithm, std::optional<std::string> dtype_name) {
  const auto ranks = ranks_of(h, ranks_obj, sends.size());
  // The recvs set the count: each send holds size() blocks of it.
  const Buffers b = buffers_of(dtype_name, {recvs, true, "recvs"}, Side{sends, false, "sends"}, h.core->size());
  const auto reduce = op_of(op);
  const auto alg = algorithm_of(algorithm);
  return launch(h, "reduce_scatter", ranks, b.by_rank(), [&](coll::Communicator& c, size_t i) {
    return coll::reduce_scatter(c, b.second[i].mem.addr, b.first[i].mem.addr, b.count, b.dtype, reduce, alg);
  }, py::make_tuple(sends, recvs));
}

Future broadcast(CommHandle& h, py::sequence arrays, long long root, py::handle ranks_obj, const std::string& algorithm,
                 std::optional<std::string> dtype_name) {
  const auto ranks = ranks_of(h, ranks_obj, arrays.size());
  if (root < 0 || static_cast<size_t>(root) >= h.core->size()) fail(ErrorCode::kOutOfRange, "root " + std::to_string(root) + " is not in the communicator");
  const Buffers b = buffers_of(dtype_name, {arrays, true, "arrays"});
  const auto alg = algorithm_of(algorithm);
  return launch(h, "broadcast", ranks, b.by_rank(), [&](coll::Communicator& c, size_t i) {
    return coll::broadcast(c, b.first[i].mem.addr, b.count, b.dtype, static_cast<uint32_t>(root), alg);
  }, arrays);
}

Future all_to_all(CommHandle& h, py::sequence sends, py::sequence recvs, py::handle ranks_obj, std::optional<std::string> dtype_name) {
  const auto ranks = ranks_of(h, ranks_obj, sends.size());
  const Buffers b = buffers_of(dtype_name, {sends, false, "sends"}, Side{recvs, true, "recvs"});
  if (b.count % h.core->size() != 0) fail(ErrorCode::kInvalidArgument, "sends: the element count must divide by the ranks");
  const size_t block = b.count / h.core->size();
  return launch(h, "all_to_all", ranks, b.by_rank(), [&](coll::Communicator& c, size_t i) {
    return coll::all_to_all(c, b.first[i].mem.addr, b.second[i].mem.addr, block, b.dtype);
  }, py::make_tuple(sends, recvs));
}

}  // namespace

void bind_collectives(py::module_& m) {
  py::class_<CommHandle>(m, "Communicator", R"doc(
Tensor-parallel collectives over every rank of a cluster, with ``scratch_bytes`` of
scratch per rank that peers write into. Each call takes one array per rank (``ranks``:
which ranks, all by default, so a rank can also start its own part alone) and returns
a Future done when every one of them finished. Every rank makes the same calls in the
same order with the same counts; one collective at a time. Arrays are float32,
float16, or bfloat16 (``dtype="bfloat16"`` over 2-byte elements); reductions run in
fp32 on the CPU. Arrays are registered for the call and released after it.
)doc")
      .def(py::init(&make_comm), py::arg("cluster"), py::arg("scratch_bytes") = 8 << 20)
      .def("all_reduce", &all_reduce, py::arg("arrays"), py::arg("op") = "sum", py::arg("ranks") = py::none(),
           py::arg("algorithm") = "auto", py::arg("dtype") = py::none(), "arrays[i] = op over every rank's array, in place.")
      .def("all_gather", &all_gather, py::arg("sends"), py::arg("recvs"), py::arg("ranks") = py::none(),
           py::arg("algorithm") = "auto", py::arg("dtype") = py::none(),
           "recvs[i] (size * count elements) gets every rank's send, in rank order.")
      .def("reduce_scatter", &reduce_scatter, py::arg("sends"), py::arg("recvs"), py::arg("op") = "sum",
           py::arg("ranks") = py::none(), py::arg("algorithm") = "auto", py::arg("dtype") = py::none(),
           "recvs[i] (count elements) gets op over block `rank` of every rank's send (size * count).")
      .def("broadcast", &broadcast, py::arg("arrays"), py::arg("root") = 0, py::arg("ranks") = py::none(),
           py::arg("algorithm") = "auto", py::arg("dtype") = py::none(), "Every rank's array becomes root's.")
      .def("all_to_all", &all_to_all, py::arg("sends"), py::arg("recvs"), py::arg("ranks") = py::none(),
           py::arg("dtype") = py::none(), "Block j of rank i's send lands as block i of rank j's recv.")
      .def_property_readonly("size", [](const CommHandle& h) { return h.core->size(); }, "The ranks.");
}

}  // namespace ferry::python
