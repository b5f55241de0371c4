// ferry.Cluster: engines over one fabric of fabrics::make_cluster, in this process.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <variant>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/handles.h"

namespace ferry::python {

namespace {

std::shared_ptr<Core> make_core(const std::string& provider, uint32_t nodes, py::object nic_gbps, uint64_t seed,
                                double loss, const std::string& kind, double transfer_timeout) {
  fabrics::ClusterOptions options;
  options.provider = provider;
  options.nodes = nodes;
  options.seed = seed;
  options.loss = loss;
  if (kind == "rc") {
    options.kind = EndpointKind::kRc;
  } else if (kind == "srd") {
    options.kind = EndpointKind::kSrd;
  } else {
    fail(ErrorCode::kInvalidArgument, "kind must be 'rc' or 'srd', not '" + kind + "'");
  }
  if (py::isinstance<py::float_>(nic_gbps) || py::isinstance<py::int_>(nic_gbps)) {
    options.nic_gbps = {nic_gbps.cast<double>()};
  } else {
    options.nic_gbps = nic_gbps.cast<std::vector<double>>();
  }
  if (!(transfer_timeout > 0) || !std::isfinite(transfer_timeout)) {
    fail(ErrorCode::kInvalidArgument, "transfer_timeout must be a positive number of seconds");
  }
  EngineConfig config;
  config.transfer_timeout_ns = static_cast<uint64_t>(transfer_timeout * 1e9);
  py::gil_scoped_release unlocked;  // building a fabric may take a while (sim)
  return std::make_shared<Core>(options, config);
}

}  // namespace

void bind_cluster(py::module_& m) {
  py::class_<Core, std::shared_ptr<Core>>(m, "Cluster", R"doc(
Engines over one fabric, all in this process: one engine per node, named ``rank0``,
``rank1``, ... and all peers of each other.

``provider``: ``"emu"`` (the verbs emulator in virtual time, deterministic by ``seed``),
``"sim"`` (the ns-3 packet simulation in virtual time; one alive per process),
``"emu-fast"`` (the emulator on real time and threads), ``"ipc"`` or ``"verbs"``.
``nic_gbps``: one rate, or one per NIC of every node. ``kind``: ``"rc"`` or ``"srd"``.
``transfer_timeout``: seconds (of the fabric's clock) after which any transfer fails.

Over virtual time nothing moves by itself: every wait (``Future.wait``, ``await``)
drives the whole cluster until its operation is done. Use it as a context manager, or
call ``close()``: a simulation holds the process's one ns-3 instance until then.
)doc")
      .def(py::init(&make_core), py::arg("provider") = "emu", py::arg("nodes") = 2, py::arg("nic_gbps") = 100.0,
           py::arg("seed") = 1, py::arg("loss") = 0.0, py::arg("kind") = "rc", py::arg("transfer_timeout") = 5.0)
      .def_property_readonly("provider", &Core::provider, "The provider's name.")
      .def_property_readonly("closed", &Core::closed, "Whether close() ran.")
      .def("__len__", &Core::size)
      .def(
          "engine",
          [](const std::shared_ptr<Core>& core, size_t rank) {
            if (rank >= core->size()) fail(ErrorCode::kOutOfRange, "rank " + std::to_string(rank) + " of a cluster of " + std::to_string(core->size()));
            return EngineHandle{core, rank};
          },
          py::arg("rank"), "The engine of node `rank`.")
      .def_property_readonly(
          "engines",
          [](const std::shared_ptr<Core>& core) {
            std::vector<EngineHandle> engines;
            for (size_t r = 0; r < core->size(); ++r) engines.push_back({core, r});
            return engines;
          },
          "Every engine, by rank.")
      .def_property_readonly(
          "now_ns",
          [](Core& core) {
            py::gil_scoped_release unlocked;
            auto l = core.lock();
            return core.cluster().fabric().now_ns();
          },
          "The fabric's clock, in nanoseconds (virtual time on emu and sim).")
      .def(
          "close",
          [](Core& core) {
            py::gil_scoped_release unlocked;
            core.close();
          },
          "Ends every operation in flight (their futures raise) and frees the engines and the fabric.")
      .def("__enter__", [](const std::shared_ptr<Core>& core) { return core; })
      .def("__exit__", [](Core& core, py::args) {
        py::gil_scoped_release unlocked;
        core.close();
      })
      .def("__repr__", [](Core& core) {
        return "<ferry.Cluster provider=" + core.provider() + " nodes=" + std::to_string(core.size()) +
               (core.closed() ? " closed>" : ">");
      });
  m.def("providers", &fabrics::provider_names, "The provider names Cluster knows.");
}

}  // namespace ferry::python
