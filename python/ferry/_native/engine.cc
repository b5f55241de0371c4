// ferry.Engine: one node's transfer engine (transport/engine/engine.h) as Python sees it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/future.h"
#include "python/ferry/_native/handles.h"
#include "transport/workloads/group.h"

namespace ferry::python {
namespace {

// Python's tags are the engine's user tag space (group.h), so that they never meet the
// workloads' notifications on a shared engine.
uint16_t user_tag(long long tag) {
  if (tag < 0 || tag >= kTagsPerSpace) {
    fail(ErrorCode::kInvalidArgument, "tag " + std::to_string(tag) + " is outside 0 .. " + std::to_string(kTagsPerSpace - 1));
  }
  return static_cast<uint16_t>(static_cast<uint16_t>(TagSpace::kUser) | tag);
}

uint16_t notify_index(long long index) {
  if (index < 0 || index > 0xffff) fail(ErrorCode::kInvalidArgument, "notification index " + std::to_string(index) + " is outside 0 .. 65535");
  return static_cast<uint16_t>(index);
}

std::optional<Notify> notify_of(py::handle notify) {
  if (notify.is_none()) return std::nullopt;
  std::pair<long long, long long> pair;
  try {
    pair = notify.cast<std::pair<long long, long long>>();
  } catch (const py::cast_error&) {
    fail(ErrorCode::kInvalidArgument, "notify is a (tag, index) pair of integers");
  }
  return Notify{user_tag(pair.first), notify_index(pair.second)};
}

// The bytes a transfer moves: `nbytes`, or the whole buffer.
uint64_t length_of(const Memory& mem, std::optional<uint64_t> nbytes, const char* what) {
  if (!nbytes) return mem.bytes;
  if (*nbytes > mem.bytes) {
    fail(ErrorCode::kOutOfRange, std::string(what) + ": nbytes " + std::to_string(*nbytes) + " is more than its " + std::to_string(mem.bytes) + " bytes");
  }
  return *nbytes;
}

void check_target(const RemoteHandle& remote, uint64_t offset, uint64_t bytes) {
  if (offset > remote.bytes || bytes > remote.bytes - offset) {
    fail(ErrorCode::kOutOfRange, "bytes [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) + ") are outside the " +
                                     std::to_string(remote.bytes) + "-byte remote region");
  }
}

// A source: a Memory, or any object with memory (which must lie in a registration).
Memory source_of(py::handle src) {
  if (py::isinstance<RegisteredMemory>(src)) {
    auto& r = src.cast<RegisteredMemory&>();
    if (!r.registered) fail(ErrorCode::kFailedPrecondition, "src: the Memory is deregistered");
    return Memory{reinterpret_cast<void*>(r.addr), r.bytes, false, r.kind, r.owner};
  }
  return memory_of(src, false, "src");
}

// Block indices: a 1-D integer array (or sequence), each < `limit` so that the block
// lies inside its memory; as the engine's uint32 pages.
std::vector<uint32_t> blocks_of(py::handle obj, uint64_t limit, const char* what) {
  py::array any = py::array::ensure(obj);
  if (!any) fail(ErrorCode::kInvalidArgument, std::string(what) + ": expected an integer array");
  const char kind = any.dtype().kind();
  if ((kind != 'i' && kind != 'u') || any.ndim() != 1) {
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": expected a 1-D integer array, got dtype " +
                                          py::str(any.dtype()).cast<std::string>() + " with " + std::to_string(any.ndim()) + " dimensions");
  }
  auto values = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(any);
  const int64_t* v = values.data();
  const size_t n = static_cast<size_t>(values.size());
  std::vector<uint32_t> blocks(n);
  {
    py::gil_scoped_release unlocked;
    for (size_t i = 0; i < n; ++i) {
      if (v[i] < 0 || static_cast<uint64_t>(v[i]) >= limit) {
        fail(ErrorCode::kOutOfRange, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(v[i]) +
                                         " is out of range: " + std::to_string(limit) + " blocks fit");
      }
      blocks[i] = static_cast<uint32_t>(v[i]);
    }
  }
  return blocks;
}

std::string transfer_name(const char* op, const EngineHandle& e, size_t peer) {
  return std::string(op) + " " + e.name() + " -> " + rank_name(peer);
}

// Lock held: the transfer `start` begins, kept until done.
template <typename Start>
std::shared_ptr<TransferState> begin_transfer(Core& core, Start&& start) {
  auto state = std::make_shared<TransferState>();
  take(start(state->callback(state)));
  core.keep(state);
  return state;
}

Future write(EngineHandle& e, py::handle peer_obj, py::handle src, py::handle remote_obj, uint64_t offset,
             std::optional<uint64_t> nbytes, std::optional<Notify> notify, const char* op) {
  const size_t peer = peer_of(*e.core, e.rank, peer_obj);
  const Memory mem = source_of(src);
  const uint64_t bytes = length_of(mem, nbytes, "src");
  const Target target = target_of(e, peer, remote_obj);
  auto state = locked(*e.core, [&] {
    const RemoteHandle remote = resolve(e, peer, target);
    check_target(remote, offset, bytes);
    return begin_transfer(*e.core, [&](TransferDone done) {
      return e.core->engine(e.rank).write(rank_name(peer), mem.addr, bytes, remote.region, offset, notify, std::move(done));
    });
  });
  return Future(e.core, state, transfer_name(op, e, peer), mem.owner);
}

// The engine has no one-sided read: in one process the peer's engine writes the range
// into this engine's memory, which comes to the same bytes and completion.
Future read(EngineHandle& e, py::handle peer_obj, py::handle dst, py::handle remote_obj, uint64_t offset,
            std::optional<uint64_t> nbytes) {
  const size_t peer = peer_of(*e.core, e.rank, peer_obj);
  if (!e.core->local(peer)) {
    fail(ErrorCode::kUnsupported, "read: the engine has no one-sided read, and " + rank_name(peer) +
                                      " runs in another process: let it write instead");
  }
  const Memory mem = memory_of(dst, true, "dst");
  const uint64_t bytes = length_of(mem, nbytes, "dst");
  const Target target = target_of(e, peer, remote_obj);
  auto state = locked(*e.core, [&] {
    const RemoteHandle remote = resolve(e, peer, target);
    check_target(remote, offset, bytes);
    const uint64_t addr = reinterpret_cast<uint64_t>(mem.addr);
    if (!e.core->holds(e.rank, addr, bytes)) fail(ErrorCode::kFailedPrecondition, "dst: the memory is not registered with " + e.name());
    // The peer's view of dst: the registration's keys, dst's own range.
    const Registration* reg = take(e.core->engine(e.rank).register_memory(mem.addr, bytes));
    RegionDescriptor d = reg->descriptor();
    d.addr = addr;
    d.length = bytes;
    const RemoteRegion into = e.core->import(peer, e.rank, d.serialize());
    return begin_transfer(*e.core, [&](TransferDone done) {
      return e.core->engine(peer).write(e.name(), reinterpret_cast<const void*>(remote.addr + offset), bytes, into, 0,
                                        std::nullopt, std::move(done));
    });
  });
  return Future(e.core, state, transfer_name("read", e, peer), mem.owner);
}

Future write_paged(EngineHandle& e, py::handle peer_obj, py::handle src, py::handle src_blocks, py::handle dst_blocks,
                   uint64_t block_bytes, py::handle remote_obj, uint64_t dst_offset, uint64_t src_stride,
                   uint64_t dst_stride, py::handle notify_obj) {
  const size_t peer = peer_of(*e.core, e.rank, peer_obj);
  const Memory mem = source_of(src);
  if (block_bytes == 0) fail(ErrorCode::kInvalidArgument, "block_bytes must be positive");
  if (src_stride == 0) src_stride = block_bytes;
  if (dst_stride == 0) dst_stride = block_bytes;
  if (src_stride < block_bytes || dst_stride < block_bytes) fail(ErrorCode::kInvalidArgument, "a stride is smaller than block_bytes");
  const std::optional<Notify> notify = notify_of(notify_obj);
  const Target target = target_of(e, peer, remote_obj);
  // Blocks that fit whole: (bytes - block) / stride + 1 of them.
  auto fitting = [&](uint64_t bytes, uint64_t stride) { return bytes < block_bytes ? 0 : (bytes - block_bytes) / stride + 1; };
  const std::vector<uint32_t> src_pages = blocks_of(src_blocks, fitting(mem.bytes, src_stride), "src_blocks");
  const uint64_t remote_bytes = locked(*e.core, [&] { return resolve(e, peer, target).bytes; });
  if (dst_offset > remote_bytes) fail(ErrorCode::kOutOfRange, "dst_offset is beyond the remote region");
  const std::vector<uint32_t> dst_pages = blocks_of(dst_blocks, fitting(remote_bytes - dst_offset, dst_stride), "dst_blocks");
  if (src_pages.size() != dst_pages.size() || src_pages.empty()) {
    fail(ErrorCode::kInvalidArgument, "src_blocks and dst_blocks must be non-empty and of one length (" +
                                          std::to_string(src_pages.size()) + " and " + std::to_string(dst_pages.size()) + ")");
  }
  auto state = locked(*e.core, [&] {
    const RemoteHandle remote = resolve(e, peer, target);
    PagedTransfer pages{src_pages, dst_pages, block_bytes, mem.addr, src_stride, remote.region, dst_offset, dst_stride};
    return begin_transfer(*e.core, [&](TransferDone done) {
      return e.core->engine(e.rank).write_paged(rank_name(peer), pages, notify, std::move(done));
    });
  });
  return Future(e.core, state, transfer_name("write_paged", e, peer) + " (" + std::to_string(src_pages.size()) + " blocks)", mem.owner);
}

Future notify(EngineHandle& e, py::handle peer_obj, long long tag, long long index) {
  const size_t peer = peer_of(*e.core, e.rank, peer_obj);
  const Notify n{user_tag(tag), notify_index(index)};
  auto state = locked(*e.core, [&] {
    return begin_transfer(*e.core, [&](TransferDone done) { return e.core->engine(e.rank).notify(rank_name(peer), n, std::move(done)); });
  });
  return Future(e.core, state, transfer_name("notify", e, peer), py::none());
}

Future expect(EngineHandle& e, py::handle peer_obj, long long tag, long long count) {
  const size_t peer = peer_of(*e.core, e.rank, peer_obj);
  const uint16_t t = user_tag(tag);
  if (count <= 0 || count > 0x10000) fail(ErrorCode::kInvalidArgument, "count must be in 1 .. 65536");
  auto state = locked(*e.core, [&] {
    return begin_transfer(*e.core, [&](TransferDone done) {
      return e.core->engine(e.rank).expect(rank_name(peer), t, static_cast<uint32_t>(count), std::move(done));
    });
  });
  return Future(e.core, state, "expect " + e.name() + " <- " + rank_name(peer) + " tag " + std::to_string(tag), py::none());
}

std::shared_ptr<RegisteredMemory> register_memory(EngineHandle& e, py::handle obj) {
  const Memory mem = memory_of(obj, true, "register_memory");
  if (mem.bytes == 0) fail(ErrorCode::kInvalidArgument, "register_memory: the buffer is empty");
  auto r = std::make_shared<RegisteredMemory>();
  r->core = e.core;
  r->rank = e.rank;
  r->addr = reinterpret_cast<uint64_t>(mem.addr);
  r->bytes = mem.bytes;
  locked(*e.core, [&] {
    const Registration* reg = e.core->acquire(e.rank, mem.addr, mem.bytes, mem.kind);
    // A range inside an earlier registration shares its keys; its descriptor still
    // names only this range, so that peers' offsets count from its start.
    RegionDescriptor d = reg->descriptor();
    d.addr = r->addr;
    d.length = r->bytes;
    r->kind = reg->kind();
    r->descriptor = d.serialize();
    return 0;
  });
  r->owner = mem.owner;
  return r;
}

RemoteHandle import_region(EngineHandle& e, py::handle peer_obj, py::handle descriptor) {
  const size_t peer = peer_of(*e.core, e.rank, peer_obj);
  if (!py::isinstance<py::bytes>(descriptor)) fail(ErrorCode::kInvalidArgument, "a descriptor is bytes (Memory.descriptor)");
  const Target target = target_of(e, peer, descriptor);
  return locked(*e.core, [&] { return resolve(e, peer, target); });
}

py::dict counters(const TransferCounters& c) {
  py::dict d;
  d["bytes"] = c.bytes;
  d["operations"] = c.operations;
  d["retries"] = c.retries;
  d["failovers"] = c.failovers;
  return d;
}

py::dict stats(EngineHandle& e) {
  const EngineStats s = locked(*e.core, [&] { return e.core->engine(e.rank).stats(); });
  py::dict d;
  py::list rails;
  for (const auto& r : s.rails) rails.append(counters(r));
  py::dict peers;
  for (const auto& [name, c] : s.peers) peers[py::str(name)] = counters(c);
  d["rails"] = rails;
  d["peers"] = peers;
  d["transfers_done"] = s.transfers_done;
  d["transfers_failed"] = s.transfers_failed;
  return d;
}

// The writes Engine.write() makes, posted from C++ in one loop: the baseline that the
// Python call's overhead is measured against, in the same process on the same engine
// (python/benchmarks/python_bench.py). Returns nanoseconds per post; then drives the
// cluster, untimed, until every write completed (each must succeed).
double bench_post_writes(EngineHandle& e, py::handle peer_obj, py::handle src, py::handle remote_obj, uint64_t count) {
  const size_t peer = peer_of(*e.core, e.rank, peer_obj);
  const Memory mem = source_of(src);
  const Target target = target_of(e, peer, remote_obj);
  auto completed = std::make_shared<uint64_t>(0);
  auto failed = std::make_shared<uint64_t>(0);
  const double ns_per_post = locked(*e.core, [&] {
    const RemoteHandle remote = resolve(e, peer, target);
    check_target(remote, 0, mem.bytes);
    const std::string peer_name = rank_name(peer);
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < count; ++i) {
      take(e.core->engine(e.rank).write(peer_name, mem.addr, mem.bytes, remote.region, 0, std::nullopt,
                                        [completed, failed](const TransferResult& r) {
                                          ++*completed;
                                          if (!r.ok()) ++*failed;
                                        }));
    }
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
           static_cast<double>(count);
  });
  {
    py::gil_scoped_release unlocked;
    e.core->drive([&] { return *completed >= count; }, std::chrono::seconds(30));
  }
  if (*completed < count || *failed > 0) {
    fail(ErrorCode::kInternal, "bench: " + std::to_string(*completed) + " of " + std::to_string(count) +
                                   " writes completed, " + std::to_string(*failed) + " failed");
  }
  return ns_per_post;
}

}  // namespace

void bind_engine(py::module_& m) {
  m.def("_bench_post_writes", &bench_post_writes, py::arg("engine"), py::arg("peer"), py::arg("src"), py::arg("remote"),
        py::arg("count"), "Benchmark baseline: `count` writes posted from C++; nanoseconds per post.");
  py::class_<EngineHandle>(m, "Engine", R"doc(
One node's transfer engine: registers memory, writes into peers' registered memory
(contiguous or by blocks), notifies and waits for notifications. Every transfer returns
a ``Future`` at once. Peers are ranks (int) or engine names (``"rank1"``).

Notification tags are 0 .. 8191 (the engine's user tag space, apart from the
workloads'), indices 0 .. 65535; a notification is counted once per (tag, index).
)doc")
      .def_property_readonly("name", &EngineHandle::name, "The engine's name, rank<r>.")
      .def_readonly("rank", &EngineHandle::rank, "Its rank in the cluster.")
      .def("register_memory", &register_memory, py::arg("obj"), R"doc(
Registers the memory of ``obj`` without copying: a writable, C-contiguous buffer (numpy
array, bytearray), an object with ``__cuda_array_interface__`` (device memory) or
``__dlpack__``. Returns a ``Memory``; its ``descriptor`` is what peers import.)doc")
      .def("import_region", &import_region, py::arg("peer"), py::arg("descriptor"),
           "Imports a peer's region from its descriptor (bytes): the target of write() and the source of read().")
      .def(
          "write",
          [](EngineHandle& e, py::handle peer, py::handle src, py::handle remote, uint64_t offset,
             std::optional<uint64_t> nbytes, py::handle notify) {
            return write(e, peer, src, remote, offset, nbytes, notify_of(notify), "write");
          },
          py::arg("peer"), py::arg("src"), py::arg("remote"), py::arg("offset") = 0, py::arg("nbytes") = py::none(),
          py::arg("notify") = py::none(), R"doc(
Writes ``src`` (a registered Memory, or an array lying in registered memory; its first
``nbytes``, all of it by default) to ``remote`` at ``offset``. ``remote``: a
RemoteRegion, a descriptor, or the peer's Memory. ``notify``: an optional ``(tag,
index)`` the peer's ``expect`` counts once the data is in place.)doc")
      .def(
          "write_with_imm",
          [](EngineHandle& e, py::handle peer, py::handle src, py::handle remote, long long tag, long long index,
             uint64_t offset, std::optional<uint64_t> nbytes) {
            return write(e, peer, src, remote, offset, nbytes, Notify{user_tag(tag), notify_index(index)}, "write_with_imm");
          },
          py::arg("peer"), py::arg("src"), py::arg("remote"), py::arg("tag"), py::arg("index") = 0, py::arg("offset") = 0,
          py::arg("nbytes") = py::none(), "write() whose immediate notifies the peer with (tag, index).")
      .def("read", &read, py::arg("peer"), py::arg("dst"), py::arg("remote"), py::arg("offset") = 0,
           py::arg("nbytes") = py::none(), R"doc(
Reads ``nbytes`` (all of ``dst`` by default) of ``remote`` from ``offset`` into ``dst``,
which must lie in memory registered with this engine. The peer's engine moves the
bytes: the engine has no one-sided read, so this needs the peer in this process.)doc")
      .def("write_paged", &write_paged, py::arg("peer"), py::arg("src"), py::arg("src_blocks"), py::arg("dst_blocks"),
           py::arg("block_bytes"), py::arg("remote"), py::arg("dst_offset") = 0, py::arg("src_stride") = 0,
           py::arg("dst_stride") = 0, py::arg("notify") = py::none(), R"doc(
Writes blocks by index: block ``src_blocks[i]`` of ``src`` to block ``dst_blocks[i]`` of
``remote``, ``block_bytes`` each. Block b starts at ``b * src_stride`` in ``src`` and at
``dst_offset + b * dst_stride`` in ``remote``; strides default to ``block_bytes``. The block tables are 1-D integer arrays of one
length, thousands of blocks in one call; every index is checked against its side's
memory first (``OutOfRange``). Contiguous runs merge into single writes.)doc")
      .def("notify", &notify, py::arg("peer"), py::arg("tag"), py::arg("index") = 0,
           "Sends only a notification (tag, index).")
      .def("expect", &expect, py::arg("peer"), py::arg("tag"), py::arg("count"), R"doc(
A Future done once ``count`` distinct notifications with ``tag`` came from ``peer``,
counted from whenever they landed (before this call too). It fails after the cluster's
transfer_timeout; the tag is free again once it ends.)doc")
      .def(
          "release",
          [](EngineHandle& e, py::handle peer_obj, long long tag) {
            const size_t peer = peer_of(*e.core, e.rank, peer_obj);
            const uint16_t t = user_tag(tag);
            locked(*e.core, [&] {
              e.core->engine(e.rank).release(rank_name(peer), t);
              return 0;
            });
          },
          py::arg("peer"), py::arg("tag"), "Forgets the notifications counted for a tag; a pending expect on it fails.")
      .def("stats", &stats, "Bytes, operations, retries and failovers, per rail and per peer; transfers done and failed.")
      .def("__repr__", [](const EngineHandle& e) { return "<ferry.Engine " + e.name() + ">"; });
}

}  // namespace ferry::python
