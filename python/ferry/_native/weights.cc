// ferry.WeightBroadcast: one root's buffer to every rank, in chunks down a chain or a
// k-ary tree, checksummed (transport/workloads/weights).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <vector>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/future.h"
#include "python/ferry/_native/handles.h"
#include "python/ferry/_native/symmetric.h"
#include "transport/workloads/weights/broadcast.h"

namespace ferry::python {
namespace {

struct WeightsHandle {
  std::shared_ptr<Core> core;
  std::vector<Group>* groups = nullptr;  // owned by the cluster
};

WeightsHandle make_weights(const std::shared_ptr<Core>& core) {
  WeightsHandle h{core, nullptr};
  locked(*core, [&] {
    auto groups = std::make_shared<std::vector<Group>>(all_ranks(*core));
    h.groups = groups.get();
    core->own(std::move(groups));
    return 0;
  });
  return h;
}

Future broadcast(WeightsHandle& h, py::sequence arrays, long long root, std::optional<uint64_t> nbytes, uint32_t fanout,
                 uint64_t chunk_bytes, uint32_t chunks_in_flight) {
  if (root < 0 || static_cast<size_t>(root) >= h.core->size()) fail(ErrorCode::kOutOfRange, "root " + std::to_string(root) + " is not a rank");
  std::vector<Memory> buffers;
  for (auto a : arrays) buffers.push_back(memory_of(a, true, "arrays"));
  if (buffers.empty() || buffers[0].bytes <= weights::kChecksumBytes) {
    fail(ErrorCode::kInvalidArgument, "arrays: each needs more than the 8 checksum bytes that follow the payload");
  }
  const uint64_t payload = nbytes.value_or(buffers[0].bytes - weights::kChecksumBytes);
  if (payload == 0 || payload > buffers[0].bytes - weights::kChecksumBytes) {
    fail(ErrorCode::kOutOfRange, "nbytes " + std::to_string(payload) + ": the payload and its 8 checksum bytes must fit the arrays");
  }
  const weights::BroadcastOptions options{fanout, chunk_bytes, chunks_in_flight, 0};
  auto all = locked(*h.core, [&] {
    std::vector<Hold> held;
    const std::vector<SymmetricRegion> regions = symmetric_regions(*h.core, buffers, held);
    std::vector<std::shared_ptr<PyPending>> parts;
    // Every rank calls in rank order: the calls allocate the tags.
    for (size_t r = 0; r < regions.size(); ++r) {
      parts.push_back(std::make_shared<TaskState<TransferResult>>(
          weights::broadcast((*h.groups)[r], static_cast<uint32_t>(root), regions[r], payload, options), none_or_raise));
    }
    // Peers write into every rank's buffer: all stay registered until every rank is done.
    return start_all(*h.core, std::move(parts), std::move(held));
  });
  return Future(h.core, all, "weight broadcast from rank" + std::to_string(root), arrays);
}

}  // namespace

void bind_weights(py::module_& m) {
  py::class_<WeightsHandle>(m, "WeightBroadcast", R"doc(
Weight loading: one root's buffer to every rank of the cluster, cut into chunks that
flow down a chain (``fanout=1``) or a k-ary tree, each rank forwarding a chunk as soon as
it has it. An XXH64 checksum follows the payload; every rank verifies it before the
call succeeds anywhere. ``broadcast(arrays, root)`` takes one array per rank, all of one
size: the payload is their first ``nbytes`` (all but the last 8 bytes by default) and
the 8 bytes after it hold the checksum on every rank.
)doc")
      .def(py::init(&make_weights), py::arg("cluster"))
      .def("broadcast", &broadcast, py::arg("arrays"), py::arg("root") = 0, py::arg("nbytes") = py::none(),
           py::arg("fanout") = 1, py::arg("chunk_bytes") = 256 << 10, py::arg("chunks_in_flight") = 4,
           "Every rank's first nbytes become root's; a Future done once every rank verified them.");
}

}  // namespace ferry::python
