// ferry.Memory (a registration) and ferry.RemoteRegion (a peer's, imported).
#include <pybind11/pybind11.h>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/handles.h"
#include "transport/engine/memory_registry.h"

namespace ferry::python {

RegisteredMemory::~RegisteredMemory() {
  if (!registered) return;
  // Collected while registered: deregister if nothing uses it; if transfers still do,
  // keep the memory alive for good rather than let the engine touch freed memory.
  bool released = false;
  {
    py::gil_scoped_release unlocked;
    auto l = core->lock_any();
    released = core->closed() || core->release({rank, addr, bytes}).ok();
  }
  if (!released) owner.release();
}

void RegisteredMemory::deregister() {
  if (!registered) fail(ErrorCode::kFailedPrecondition, "the memory is already deregistered");
  {
    py::gil_scoped_release unlocked;
    auto l = core->lock();
    check(core->release({rank, addr, bytes}));
  }
  registered = false;
  owner = py::none();
}

size_t peer_of(const Core& core, size_t self, py::handle peer) {
  size_t rank = 0;
  if (py::isinstance<py::int_>(peer)) {
    const long long r = peer.cast<long long>();
    if (r < 0 || static_cast<size_t>(r) >= core.size()) {
      fail(ErrorCode::kNotFound, "no peer of rank " + std::to_string(r) + " in a cluster of " + std::to_string(core.size()));
    }
    rank = static_cast<size_t>(r);
  } else if (py::isinstance<py::str>(peer)) {
    rank = rank_of(core, peer.cast<std::string>());
  } else {
    fail(ErrorCode::kInvalidArgument, "a peer is a rank (int) or an engine name (str)");
  }
  if (rank == self) fail(ErrorCode::kInvalidArgument, "an engine is not its own peer (" + rank_name(rank) + ")");
  return rank;
}

Target target_of(const EngineHandle& engine, size_t peer, py::handle target) {
  Target t;
  if (py::isinstance<RemoteHandle>(target)) {
    const auto& h = target.cast<const RemoteHandle&>();
    if (h.rank != engine.rank || h.peer != peer) {
      fail(ErrorCode::kInvalidArgument, "the RemoteRegion was imported by " + rank_name(h.rank) + " from " + rank_name(h.peer) +
                                            ", not by " + engine.name() + " from " + rank_name(peer));
    }
    t.imported = h;
  } else if (py::isinstance<py::bytes>(target)) {
    const std::string s = target.cast<std::string>();
    t.descriptor.assign(s.begin(), s.end());
  } else if (py::isinstance<RegisteredMemory>(target)) {
    const auto& mem = target.cast<const RegisteredMemory&>();
    if (mem.rank != peer) fail(ErrorCode::kInvalidArgument, "the Memory is registered with " + rank_name(mem.rank) + ", not with the peer " + rank_name(peer));
    if (!mem.registered) fail(ErrorCode::kFailedPrecondition, "the peer's Memory is deregistered");
    t.descriptor = mem.descriptor;
  } else {
    fail(ErrorCode::kInvalidArgument, "a remote region is a RemoteRegion, a descriptor (bytes) or the peer's Memory");
  }
  return t;
}

RemoteHandle resolve(const EngineHandle& engine, size_t peer, const Target& target) {
  if (target.imported) return *target.imported;
  RegionDescriptor d = take(RegionDescriptor::parse(target.descriptor));
  RemoteHandle h;
  h.rank = engine.rank;
  h.peer = peer;
  h.region = engine.core->import(engine.rank, peer, target.descriptor);
  h.addr = d.addr;
  h.bytes = d.length;
  h.kind = d.kind;
  h.descriptor = target.descriptor;
  return h;
}

namespace {
const char* kind_name(MemoryKind kind) { return kind == MemoryKind::kDevice ? "device" : "host"; }
}  // namespace


void bind_memory(py::module_& m) {
  py::class_<RegisteredMemory, std::shared_ptr<RegisteredMemory>>(m, "Memory", R"doc(
Memory registered with one engine (``Engine.register_memory``), on every rail.

``descriptor`` is the bytes a peer imports to write into it or read from it; send it to
the peer any way you like. The Memory keeps the object it came from alive until
``deregister()``, which is refused while transfers use it. A context manager.
)doc")
      .def_property_readonly("descriptor", [](const RegisteredMemory& r) {
        return py::bytes(reinterpret_cast<const char*>(r.descriptor.data()), r.descriptor.size());
      }, "The region descriptor, for peers (bytes).")
      .def_readonly("address", &RegisteredMemory::addr, "Start address.")
      .def_readonly("nbytes", &RegisteredMemory::bytes, "Length in bytes.")
      .def_readonly("rank", &RegisteredMemory::rank, "The engine it is registered with.")
      .def_property_readonly("kind", [](const RegisteredMemory& r) { return kind_name(r.kind); }, "'host' or 'device'.")
      .def_readonly("registered", &RegisteredMemory::registered, "False after deregister().")
      .def_readonly("obj", &RegisteredMemory::owner, "The object whose memory this is (or its DLPack capsule).")
      .def("deregister", &RegisteredMemory::deregister, "Deregisters (refused while transfers use it).")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](RegisteredMemory& r, py::args) {
        if (r.registered) r.deregister();
      })
      .def("__repr__", [](const RegisteredMemory& r) {
        return "<ferry.Memory " + rank_name(r.rank) + " " + std::to_string(r.bytes) + " bytes " + kind_name(r.kind) +
               (r.registered ? ">" : " deregistered>");
      });

  py::class_<RemoteHandle>(m, "RemoteRegion", R"doc(
A peer's registered memory as one engine sees it (``Engine.import_region``): the target
of writes and the source of reads. Offsets in transfers count from its start.
)doc")
      .def_property_readonly("peer", [](const RemoteHandle& h) { return rank_name(h.peer); }, "The engine that registered it.")
      .def_property_readonly("importer", [](const RemoteHandle& h) { return rank_name(h.rank); }, "The engine that imported it.")
      .def_readonly("nbytes", &RemoteHandle::bytes, "Length in bytes.")
      .def_readonly("address", &RemoteHandle::addr, "Start address in the peer's memory.")
      .def_property_readonly("kind", [](const RemoteHandle& h) { return kind_name(h.kind); }, "'host' or 'device'.")
      .def("__repr__", [](const RemoteHandle& h) {
        return "<ferry.RemoteRegion of " + rank_name(h.peer) + " in " + rank_name(h.rank) + " " + std::to_string(h.bytes) + " bytes>";
      });
}

}  // namespace ferry::python
