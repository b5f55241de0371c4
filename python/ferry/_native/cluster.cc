// ferry.Cluster: engines over one fabric of fabrics::make_cluster, in this process; or,
// given a directory, this process's one node of a cluster across processes.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <variant>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/handles.h"
#include "scenarios/scenario_parser.h"

namespace ferry::python {

namespace {

EndpointKind kind_of(const std::string& kind) {
  if (kind == "rc") return EndpointKind::kRc;
  if (kind == "srd") return EndpointKind::kSrd;
  fail(ErrorCode::kInvalidArgument, "kind must be 'rc' or 'srd', not '" + kind + "'");
}

uint64_t ms_of(double seconds, const char* what) {
  if (!(seconds > 0) || !std::isfinite(seconds) || seconds > 1e9) {
    fail(ErrorCode::kInvalidArgument, std::string(what) + " must be a positive number of seconds");
  }
  return std::max<uint64_t>(1, static_cast<uint64_t>(seconds * 1e3));
}

std::shared_ptr<Core> make_core(const std::string& provider, uint32_t nodes, py::object nic_gbps, uint64_t seed,
                                double loss, const std::string& kind, double transfer_timeout, std::optional<long long> node,
                                std::optional<std::string> directory, const std::string& cluster, const std::string& host,
                                const std::string& device) {
  EngineConfig config;
  config.transfer_timeout_ns = ms_of(transfer_timeout, "transfer_timeout") * 1'000'000;
  if (node || directory) {
    // One node of a cluster across processes: the others find it through the directory.
    if (!node) fail(ErrorCode::kInvalidArgument, "directory= needs node=: the rank this process runs");
    if (!directory) fail(ErrorCode::kInvalidArgument, "node= needs directory=: where the processes find each other (file:///PATH or etcd://HOST:PORT)");
    if (*node < 0 || *node >= static_cast<long long>(nodes)) {
      fail(ErrorCode::kOutOfRange, "node " + std::to_string(*node) + " of a cluster of " + std::to_string(nodes) + " nodes");
    }
    ProcessNodeOptions options;
    options.provider = provider;
    options.node = static_cast<uint32_t>(*node);
    options.nodes = nodes;
    options.directory = *directory;
    options.cluster = cluster;
    options.host = host;
    options.device = device;
    if (kind_of(kind) == EndpointKind::kSrd) config.endpoint_kind = EndpointKind::kSrd;
    py::gil_scoped_release unlocked;  // the directory and the provider may take a while
    // A peer that stays out of the directory fails the first transfer to it by its deadline.
    return std::make_shared<Core>(options, config, config.transfer_timeout_ns / 1'000'000);
  }
  fabrics::ClusterOptions options;
  options.provider = provider;
  options.nodes = nodes;
  options.seed = seed;
  options.loss = loss;
  options.kind = kind_of(kind);
  if (py::isinstance<py::float_>(nic_gbps) || py::isinstance<py::int_>(nic_gbps)) {
    options.nic_gbps = {nic_gbps.cast<double>()};
  } else {
    options.nic_gbps = nic_gbps.cast<std::vector<double>>();
  }
  py::gil_scoped_release unlocked;  // building a fabric may take a while (sim)
  return std::make_shared<Core>(options, config);
}

// A cluster from a scenario file's cluster and fabric sections: one engine per GPU of
// the scenario's cluster (nodes x gpus_per_node, named rank0, rank1, ...), each with its
// node's NICs as rails at their rates; the provider, seed, loss and endpoint kind from
// the fabric section. Workloads and faults are the replay's (`ferry replay`), not used here.
std::shared_ptr<Core> core_from_scenario(const std::string& path, double scale, double transfer_timeout,
                                         std::optional<long long> node, std::optional<std::string> directory,
                                         const std::string& cluster, const std::string& host) {
  if (!(scale > 0) || !std::isfinite(scale)) fail(ErrorCode::kInvalidArgument, "scale must be a positive number");
  scenarios::ParseOptions parse_options;
  parse_options.scale = scale;
  const scenarios::ScenarioParse parsed = scenarios::load_scenario(path, parse_options);
  if (!parsed.ok()) {
    std::string errors;
    for (const scenarios::Diagnostic& e : parsed.errors) errors += (errors.empty() ? "" : "\n") + e.to_string();
    fail(ErrorCode::kInvalidArgument, errors);
  }
  const scenarios::Scenario& s = *parsed.scenario;
  const uint64_t ranks = uint64_t{s.cluster.nodes} * s.cluster.gpus_per_node;
  if (ranks > 4096) {
    fail(ErrorCode::kOutOfRange, path + ": " + std::to_string(ranks) + " GPUs; a Python cluster takes at most 4096 engines");
  }
  std::string provider;
  std::string kind = "rc";
  uint64_t seed = 1;
  double loss = 0;
  std::string device;
  std::visit(
      [&](const auto& f) {
        using F = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<F, scenarios::EmuFabric>) {
          provider = f.mode == scenarios::EmuMode::kDeterministic ? "emu" : "emu-fast";
          seed = f.seed;
          loss = f.loss;
        } else if constexpr (std::is_same_v<F, scenarios::SimFabric>) {
          provider = "sim";
          kind = f.transport == scenarios::SimTransport::kSrd ? "srd" : "rc";
          seed = f.seed;
          loss = f.loss;
        } else if constexpr (std::is_same_v<F, scenarios::VerbsFabric>) {
          provider = "verbs";
          if (!f.devices.empty()) device = f.devices.front();
        } else {
          provider = "tcp";
        }
      },
      s.fabric.params);
  return make_core(provider, static_cast<uint32_t>(ranks), py::cast(s.cluster.nic_gbps), seed, loss, kind,
                   transfer_timeout, node, std::move(directory), cluster, host, device);
}

// Polls `look` (run with the cluster locked: it may use the directory) until it gives a
// value, at most `timeout` seconds, letting go of the lock and the GIL in between.
template <typename Look>
auto poll_directory(Core& core, double timeout, const std::string& what, Look&& look) {
  using namespace std::chrono;
  const auto deadline = steady_clock::now() + milliseconds(ms_of(timeout, "timeout"));
  py::gil_scoped_release unlocked;
  for (;;) {
    {
      auto l = core.lock();
      if (auto found = look(core.node())) return *found;
      if (steady_clock::now() >= deadline) {
        fail(ErrorCode::kDeadlineExceeded, core.node().describe() + ": " + what + " within " + std::to_string(timeout) + " s");
      }
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
}

// Lock held: rank's engine, checked (out of range, in another process).
EngineHandle engine_of(const std::shared_ptr<Core>& core, size_t rank) {
  locked(*core, [&] { return &core->engine(rank); });
  return EngineHandle{core, rank};
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

Across processes: ``Cluster("tcp", nodes=M, node=N, directory=URL)`` builds only node
N's engine (``rank<N>``) in this process; ranks 0 .. M-1 other than N are its peers,
each started by its own process with the same ``nodes``, ``directory`` and
``cluster``. ``directory``: ``"file:///PATH"`` (a folder the processes of one host
share) or ``"etcd://HOST:PORT[,HOST:PORT...]"``; each engine publishes its address
there and finds its peers' on first use. ``provider``: ``"tcp"`` (sockets on ``host``,
the address peers reach this process at) or ``"verbs"`` (this host's RDMA devices whose
name contains ``device``). The clock is real time; ``publish``/``lookup`` hand bytes
(region descriptors) between processes through the directory.
)doc")
      .def(py::init(&make_core), py::arg("provider") = "emu", py::arg("nodes") = 2, py::arg("nic_gbps") = 100.0,
           py::arg("seed") = 1, py::arg("loss") = 0.0, py::arg("kind") = "rc", py::arg("transfer_timeout") = 5.0,
           py::kw_only(), py::arg("node") = py::none(), py::arg("directory") = py::none(), py::arg("cluster") = "ferry",
           py::arg("host") = "127.0.0.1", py::arg("device") = "")
      .def_static("from_scenario", &core_from_scenario, py::arg("path"), py::kw_only(), py::arg("scale") = 1.0,
                  py::arg("transfer_timeout") = 5.0, py::arg("node") = py::none(), py::arg("directory") = py::none(),
                  py::arg("cluster") = "ferry", py::arg("host") = "127.0.0.1",
                  R"doc(
A cluster from a scenario file (docs/scenarios.md): one engine per GPU of its cluster
section (``nodes x gpus_per_node``, named ``rank0``, ``rank1``, ...), each with its
node's NICs as rails at their rates, on the fabric section's provider (emu's mode, sim's
transport, seed and loss; verbs' first device name). A malformed file raises
``InvalidArgument`` with every problem at ``file:line:column``. ``node`` and
``directory`` make it one rank of a cluster across processes, as for ``Cluster(...)``.
The workloads and faults of the file are ``ferry replay``'s, not used here.
)doc")
      .def_property_readonly("provider", &Core::provider, "The provider's name.")
      .def_property_readonly("closed", &Core::closed, "Whether close() ran.")
      .def("__len__", &Core::size)
      .def("engine", &engine_of, py::arg("rank"),
           "The engine of node `rank` (across processes: this process's node only).")
      .def_property_readonly(
          "engines",
          [](const std::shared_ptr<Core>& core) {
            std::vector<EngineHandle> engines;
            for (size_t r = 0; r < core->size(); ++r) {
              if (core->local(r)) engines.push_back({core, r});
            }
            return engines;
          },
          "Every engine in this process, by rank.")
      .def_property_readonly("node", &Core::node_rank,
                             "This process's rank in a cluster across processes; None when every rank is here.")
      .def_property_readonly(
          "directory", [](Core& core) { return locked(core, [&] { return core.node().describe(); }); },
          "The directory of a cluster across processes, in words.")
      .def(
          "publish",
          [](Core& core, const std::string& key, py::bytes value) {
            std::string bytes = value;
            locked(core, [&] { check(core.node().publish(key, bytes)); return 0; });
          },
          py::arg("key"), py::arg("value"), R"doc(
Publishes ``value`` (bytes, e.g. a Memory's descriptor) under ``key`` in the directory,
for the other processes' ``lookup``; it lives as long as this cluster. A key another
live process published is refused (``FailedPrecondition``).)doc")
      .def(
          "lookup",
          [](Core& core, const std::string& key, double timeout) {
            const std::string bytes = poll_directory(core, timeout, "nobody published '" + key + "'",
                                                     [&](ProcessNode& node) { return take(node.lookup(key)); });
            return py::bytes(bytes);
          },
          py::arg("key"), py::arg("timeout") = 10.0,
          "The bytes another process published under ``key``, waiting for them at most ``timeout`` seconds "
          "(``DeadlineExceeded`` names the key).")
      .def(
          "wait_for_peer",
          [](const std::shared_ptr<Core>& core, py::handle peer, double timeout) {
            const size_t self = locked(*core, [&] { return core->node().rank(); });
            const size_t rank = peer_of(*core, self, peer);
            poll_directory(*core, timeout, rank_name(rank) + " did not appear",
                           [&](ProcessNode& node) { return take(node.peer_up(rank)) ? std::optional<bool>(true) : std::nullopt; });
          },
          py::arg("peer"), py::arg("timeout") = 10.0,
          "Waits until the peer's process is up (its engine is in the directory), at most ``timeout`` seconds.")
      .def_property_readonly(
          "now_ns", [](Core& core) { return locked(core, [&] { return core.now_ns(); }); },
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
               (core.node_rank() ? " node=" + std::to_string(*core.node_rank()) : "") + (core.closed() ? " closed>" : ">");
      });
  m.def("providers", &fabrics::provider_names, "The provider names Cluster knows.");
}

}  // namespace ferry::python
