// The objects Python holds: each is a shared pointer to the cluster's Core plus what
// names the thing inside it, so that every call checks the cluster is still open.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "python/ferry/_native/buffers.h"
#include "python/ferry/_native/core.h"

namespace ferry::python {

namespace py = pybind11;

struct EngineHandle {
  std::shared_ptr<Core> core;
  size_t rank = 0;
  std::string name() const { return rank_name(rank); }
};

// Memory registered with one engine (Engine.register_memory).
struct RegisteredMemory {
  std::shared_ptr<Core> core;
  size_t rank = 0;
  uint64_t addr = 0;
  uint64_t bytes = 0;
  MemoryKind kind = MemoryKind::kHost;
  std::vector<uint8_t> descriptor;
  py::object owner;  // keeps the memory alive while registered
  bool registered = true;

  ~RegisteredMemory();
  void deregister();
};

// A peer's region, imported by one engine (Engine.import_region).
struct RemoteHandle {
  size_t rank = 0;  // the importing engine
  size_t peer = 0;  // the engine that registered it
  RemoteRegion region;
  uint64_t addr = 0;
  uint64_t bytes = 0;
  MemoryKind kind = MemoryKind::kHost;
  std::vector<uint8_t> descriptor;
};

// A transfer's remote side as Python named it: an imported RemoteRegion, or a descriptor
// (bytes, or the peer's Memory) still to import. Read with the GIL held.
struct Target {
  std::optional<RemoteHandle> imported;
  std::vector<uint8_t> descriptor;
};
Target target_of(const EngineHandle& engine, size_t peer, py::handle target);
// Lock held: the region for the engine, imported if need be.
RemoteHandle resolve(const EngineHandle& engine, size_t peer, const Target& target);

// GIL released, the cluster locked: runs f() and returns what it returns.
template <typename F>
auto locked(Core& core, F&& f) {
  py::gil_scoped_release unlocked;
  auto l = core.lock();
  return f();
}

// A peer given as a rank or as an engine name, other than `self`.
size_t peer_of(const Core& core, size_t self, py::handle peer);

}  // namespace ferry::python
