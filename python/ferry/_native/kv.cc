// ferry.KvLayout, ferry.KvSender and ferry.KvReceiver: prefill -> decode KV-cache
// migration (transport/workloads/kv), one sender per prefill rank and one receiver per
// decode rank. The data moves by paged writes straight into the decode ranks' pools;
// the receiver learns per layer what landed.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/future.h"
#include "python/ferry/_native/handles.h"
#include "transport/workloads/kv/kv_receiver.h"
#include "transport/workloads/kv/kv_sender.h"

namespace ferry::python {
namespace {

// Owned by the cluster; Python holds the cluster and a pointer.
template <typename T>
struct KvHandle {
  std::shared_ptr<Core> core;
  size_t rank = 0;
  T* side = nullptr;
};
using SenderHandle = KvHandle<KvSender>;
using ReceiverHandle = KvHandle<KvReceiver>;

KvBlockTable table_of(py::handle obj, const char* what) {
  py::array any = py::array::ensure(obj);
  if (!any || (any.dtype().kind() != 'i' && any.dtype().kind() != 'u') || any.ndim() != 1) {
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": expected a 1-D integer array of block indices");
  }
  auto values = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(any);
  KvBlockTable table;
  table.reserve(static_cast<size_t>(values.size()));
  for (py::ssize_t i = 0; i < values.size(); ++i) {
    const int64_t v = values.data()[i];
    if (v < 0 || v > UINT32_MAX) fail(ErrorCode::kOutOfRange, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(v) + " is not a block index");
    table.push_back(static_cast<uint32_t>(v));
  }
  return table;
}

KvRequest request_of(uint64_t id, py::handle prefill_blocks, py::handle decode_blocks) {
  return KvRequest{id, table_of(prefill_blocks, "prefill_blocks"), table_of(decode_blocks, "decode_blocks")};
}

py::object send_report(const KvSendReport& r) {
  py::dict d;
  d["request"] = r.request;
  d["ok"] = r.result.ok();
  d["error"] = r.result.ok() ? py::object(py::none()) : py::object(py::str(r.result.error().to_string()));
  d["cancelled"] = r.cancelled;
  d["started"] = r.started;
  d["bytes"] = r.bytes;
  d["writes"] = r.writes;
  d["migration_ns"] = r.migration_ns();
  return d;
}

py::object receive_report(const KvReceiveReport& r) {
  py::dict d;
  d["request"] = r.request;
  d["ok"] = r.result.ok();
  d["error"] = r.result.ok() ? py::object(py::none()) : py::object(py::str(r.result.error().to_string()));
  d["cancelled"] = r.cancelled;
  d["blocks_reusable"] = r.blocks_reusable;
  d["landed"] = r.landed;
  d["first_landed_ns"] = r.first_landed_ns;
  d["last_landed_ns"] = r.last_landed_ns;
  return d;
}

// Lock held: starts `task`, kept until done, as a Future.
template <typename T>
std::shared_ptr<TaskState<T>> start(Core& core, Task<T> task, typename TaskState<T>::Convert convert) {
  auto state = std::make_shared<TaskState<T>>(std::move(task), std::move(convert));
  core.keep(state);
  state->start();
  return state;
}

SenderHandle make_sender(EngineHandle& e, const PagedKvLayout& prefill, uint32_t rank, const RegisteredMemory& pool,
                         const PagedKvLayout& decode, py::sequence decode_ranks) {
  if (pool.rank != e.rank || !pool.registered) fail(ErrorCode::kInvalidArgument, "pool: not a registered Memory of " + e.name());
  check(prefill.validate());
  if (pool.bytes < prefill.pool_bytes()) {
    fail(ErrorCode::kInvalidArgument, "pool: " + std::to_string(pool.bytes) + " bytes, the prefill layout needs " + std::to_string(prefill.pool_bytes()));
  }
  // Each decode rank: (peer, its pool as a RemoteRegion, descriptor or Memory[, offset]).
  std::vector<std::pair<size_t, Target>> targets;
  std::vector<uint64_t> offsets;
  for (auto item : decode_ranks) {
    if (!py::isinstance<py::tuple>(item) || py::len(item) < 2 || py::len(item) > 3 ||
        (py::len(item) == 3 && !py::isinstance<py::int_>(item.cast<py::tuple>()[2]))) {
      fail(ErrorCode::kInvalidArgument, "decode_ranks: each is a tuple (peer, pool region[, pool offset])");
    }
    auto t = item.cast<py::tuple>();
    const size_t peer = peer_of(*e.core, e.rank, t[0]);
    targets.emplace_back(peer, target_of(e, peer, t[1]));
    offsets.push_back(t.size() == 3 ? t[2].cast<uint64_t>() : 0);
  }
  SenderHandle h{e.core, e.rank, nullptr};
  locked(*e.core, [&] {
    KvSenderConfig config{prefill, rank, reinterpret_cast<const uint8_t*>(pool.addr), decode, {}};
    for (size_t i = 0; i < targets.size(); ++i) {
      const RemoteHandle remote = resolve(e, targets[i].first, targets[i].second);
      config.decode_ranks.push_back({rank_name(targets[i].first), remote.region, offsets[i]});
    }
    std::shared_ptr<KvSender> sender = take(KvSender::create(e.core->engine(e.rank), std::move(config)));
    h.side = sender.get();
    e.core->own(std::move(sender));
    return 0;
  });
  return h;
}

ReceiverHandle make_receiver(EngineHandle& e, const PagedKvLayout& prefill, const PagedKvLayout& decode, uint32_t rank,
                             py::sequence prefill_ranks) {
  std::vector<std::string> names;
  for (auto p : prefill_ranks) names.push_back(rank_name(peer_of(*e.core, e.rank, p)));
  ReceiverHandle h{e.core, e.rank, nullptr};
  locked(*e.core, [&] {
    std::shared_ptr<KvReceiver> receiver = take(KvReceiver::create(e.core->engine(e.rank), KvReceiverConfig{prefill, decode, rank, names}));
    h.side = receiver.get();
    e.core->own(std::move(receiver));
    return 0;
  });
  return h;
}

std::string request_name(const char* what, uint64_t request) { return std::string(what) + " of request " + std::to_string(request); }

}  // namespace

void bind_kv(py::module_& m) {
  py::class_<PagedKvLayout>(m, "KvLayout", R"doc(
The shape of one tensor-parallel rank's paged KV cache, vLLM's layout with the layers one
after another in one pool: ``pool[layer][K|V][block][token][local head][dim]``.
``tp`` ranks share the ``kv_heads``; ``num_blocks`` is one rank's pool.
)doc")
      .def(py::init([](uint32_t layers, uint32_t block_tokens, uint32_t kv_heads, uint32_t head_dim, uint32_t dtype_bytes,
                       uint32_t num_blocks, uint32_t tp) {
             PagedKvLayout l{layers, block_tokens, kv_heads, head_dim, dtype_bytes, num_blocks, tp};
             check(l.validate());
             return l;
           }),
           py::kw_only(), py::arg("layers"), py::arg("block_tokens"), py::arg("kv_heads"), py::arg("head_dim"),
           py::arg("dtype_bytes"), py::arg("num_blocks"), py::arg("tp") = 1)
      .def_readonly("layers", &PagedKvLayout::layers)
      .def_readonly("block_tokens", &PagedKvLayout::block_tokens)
      .def_readonly("kv_heads", &PagedKvLayout::kv_heads)
      .def_readonly("head_dim", &PagedKvLayout::head_dim)
      .def_readonly("dtype_bytes", &PagedKvLayout::dtype_bytes)
      .def_readonly("num_blocks", &PagedKvLayout::num_blocks)
      .def_readonly("tp", &PagedKvLayout::tp)
      .def_property_readonly("heads_per_rank", &PagedKvLayout::heads_per_rank)
      .def_property_readonly("block_bytes", &PagedKvLayout::block_bytes, "Bytes of one block of K (or V) of one layer.")
      .def_property_readonly("layer_bytes", &PagedKvLayout::layer_bytes)
      .def_property_readonly("pool_bytes", &PagedKvLayout::pool_bytes, "Bytes of one rank's pool.")
      .def("heads_of", [](const PagedKvLayout& l, uint32_t rank) {
        const HeadRange r = l.heads_of(rank);
        return py::make_tuple(r.first, r.count);
      }, py::arg("rank"), "(first, count) of the model's KV heads rank holds.")
      .def("offset", [](const PagedKvLayout& l, uint32_t layer, uint32_t part, uint32_t block, uint32_t token, uint32_t head, uint32_t dim) {
        if (part > 1) fail(ErrorCode::kInvalidArgument, "part is 0 (K) or 1 (V)");
        return l.offset(layer, static_cast<KvPart>(part), block, token, head, dim);
      }, py::arg("layer"), py::arg("part"), py::arg("block"), py::arg("token") = 0, py::arg("head") = 0, py::arg("dim") = 0,
         "Byte offset of element (layer, part 0=K/1=V, block, token, local head, dim) in the pool.");

  py::class_<SenderHandle>(m, "KvSender", R"doc(
The prefill side of KV-cache migration, on one prefill rank (``rank`` of the prefill TP
group). ``pool``: this rank's registered pool. ``decode_ranks``: one ``(peer, pool,
[offset])`` per decode rank, the pool as a RemoteRegion, descriptor or the peer's
Memory. The routes between the two TP degrees (re-sharding KV heads) follow from the
layouts. Per request: ``begin``, then ``layer_ready`` for each layer as compute
finishes it, then ``finished()``; ``cancel`` stops early.
)doc")
      .def(py::init(&make_sender), py::arg("engine"), py::kw_only(), py::arg("prefill"), py::arg("rank"), py::arg("pool"),
           py::arg("decode"), py::arg("decode_ranks"), py::keep_alive<1, 5>())
      .def("begin", [](SenderHandle& h, uint64_t id, py::handle prefill_blocks, py::handle decode_blocks) {
        KvRequest r = request_of(id, prefill_blocks, decode_blocks);
        locked(*h.core, [&] { check(h.side->begin(r)); return 0; });
      }, py::arg("request"), py::arg("prefill_blocks"), py::arg("decode_blocks"),
         "Starts a request (after the decode side began it) with both sides' block tables.")
      .def("layer_ready", [](SenderHandle& h, uint64_t request, uint32_t layer) {
        locked(*h.core, [&] { check(h.side->layer_ready(request, layer)); return 0; });
      }, py::arg("request"), py::arg("layer"), "Starts the writes of one layer (refused once the request stopped).")
      .def("cancel", [](SenderHandle& h, uint64_t request) {
        locked(*h.core, [&] { check(h.side->cancel(request)); return 0; });
      }, py::arg("request"), "Stops the request; finished() resolves once its writes in flight settled.")
      .def("finished", [](SenderHandle& h, uint64_t request) {
        auto state = locked(*h.core, [&] { return start<KvSendReport>(*h.core, h.side->finished(request), send_report); });
        return Future(h.core, state, request_name("send", request), py::none());
      }, py::arg("request"), "A Future of the request's report (dict: ok, error, cancelled, bytes, writes, migration_ns).")
      .def_property_readonly("writes_in_flight", [](SenderHandle& h) {
        return locked(*h.core, [&] { return h.side->writes_in_flight(); });
      });

  py::class_<ReceiverHandle>(m, "KvReceiver", R"doc(
The decode side of KV-cache migration, on one decode rank. ``prefill_ranks``: the
prefill engines by prefill rank. Per request: ``begin`` (before any prefill rank sends),
then ``layer(l)`` or ``all()`` to wait for data, ``finished()`` for the report, whose
``blocks_reusable`` says whether the blocks may be reused. ``cancel`` stops early.
)doc")
      .def(py::init(&make_receiver), py::arg("engine"), py::kw_only(), py::arg("prefill"), py::arg("decode"), py::arg("rank"),
           py::arg("prefill_ranks"))
      .def("begin", [](ReceiverHandle& h, uint64_t id, py::handle prefill_blocks, py::handle decode_blocks) {
        KvRequest r = request_of(id, prefill_blocks, decode_blocks);
        locked(*h.core, [&] { check(h.side->begin(r)); return 0; });
      }, py::arg("request"), py::arg("prefill_blocks"), py::arg("decode_blocks"), "Starts following a request.")
      .def("layer", [](ReceiverHandle& h, uint64_t request, uint32_t layer) {
        auto state = locked(*h.core, [&] { return start<TransferResult>(*h.core, h.side->layer(request, layer), none_or_raise); });
        return Future(h.core, state, request_name(("layer " + std::to_string(layer)).c_str(), request), py::none());
      }, py::arg("request"), py::arg("layer"), "A Future done once the layer landed from every source (or raising why not).")
      .def("all", [](ReceiverHandle& h, uint64_t request) {
        auto state = locked(*h.core, [&] { return start<TransferResult>(*h.core, h.side->all(request), none_or_raise); });
        return Future(h.core, state, request_name("all layers", request), py::none());
      }, py::arg("request"), "A Future done once every layer landed.")
      .def("cancel", [](ReceiverHandle& h, uint64_t request) {
        locked(*h.core, [&] { check(h.side->cancel(request)); return 0; });
      }, py::arg("request"), "Stops the request: the sources are told.")
      .def("finished", [](ReceiverHandle& h, uint64_t request) {
        auto state = locked(*h.core, [&] { return start<KvReceiveReport>(*h.core, h.side->finished(request), receive_report); });
        return Future(h.core, state, request_name("receive", request), py::none());
      }, py::arg("request"), "A Future of the report (dict: ok, error, cancelled, blocks_reusable, landed, ...).");
}

}  // namespace ferry::python
