// ferry.PipelineLink: one pipeline-parallel link between two ranks, micro-batches
// written into the receiver's credit slots and delivered in order
// (transport/workloads/pp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "python/ferry/_native/bindings.h"
#include "python/ferry/_native/errors.h"
#include "python/ferry/_native/future.h"
#include "python/ferry/_native/handles.h"
#include "transport/engine/memory_registry.h"
#include "transport/workloads/pp/stage_receiver.h"
#include "transport/workloads/pp/stage_sender.h"

namespace ferry::python {
namespace {

// Both ends and the memory they own; the cluster owns it.
struct LinkState {
  std::vector<uint8_t> slots;    // the receiver's slot area, registered with its engine
  std::vector<uint8_t> scratch;  // the sender's header scratch, registered with its engine
  std::unique_ptr<pp::StageSender> sender;
  std::unique_ptr<pp::StageReceiver> receiver;
};

struct LinkHandle {
  std::shared_ptr<Core> core;
  size_t sender = 0;
  size_t receiver = 0;
  LinkState* state = nullptr;
};

using Received = std::pair<uint64_t, std::vector<uint8_t>>;

// The next micro-batch, copied out of its slot, which then goes straight back to the
// sender: Python never holds a view the sender may overwrite.
Task<Result<Received>> receive_copy(pp::StageReceiver& receiver) {
  Result<pp::Message> m = co_await receiver.recv();
  if (!m.ok()) co_return m.error();
  Received out{m->sequence, std::vector<uint8_t>(m->bytes.begin(), m->bytes.end())};
  receiver.release();
  co_return out;
}

LinkHandle make_link(const std::shared_ptr<Core>& core, size_t sender, size_t receiver, uint16_t id, uint32_t credits,
                     uint64_t max_message_bytes) {
  if (sender >= core->size() || receiver >= core->size() || sender == receiver) {
    fail(ErrorCode::kInvalidArgument, "sender and receiver must be two ranks of the cluster");
  }
  const pp::StageLink link{id, credits, max_message_bytes};
  check(link.validate());
  LinkHandle h{core, sender, receiver, nullptr};
  locked(*core, [&] {
    auto state = std::make_shared<LinkState>();
    state->slots.assign(link.receive_area_bytes(), 0);
    state->scratch.assign(pp::StageLink::kSenderScratchBytes, 0);
    // Registered for the cluster's life: the engines are done with them only then.
    const Registration* slots = take(core->engine(receiver).register_memory(state->slots.data(), state->slots.size()));
    take(core->engine(sender).register_memory(state->scratch.data(), state->scratch.size()));
    const RemoteRegion region = core->import(sender, receiver, slots->descriptor().serialize());
    state->sender = std::make_unique<pp::StageSender>(core->engine(sender), rank_name(receiver), link, region, 0, state->scratch.data());
    state->receiver = std::make_unique<pp::StageReceiver>(core->engine(receiver), rank_name(sender), link, state->slots.data());
    h.state = state.get();
    core->own(std::move(state));
    return 0;
  });
  return h;
}

Future send(LinkHandle& h, py::handle data) {
  const Memory mem = memory_of(data, false, "data");
  auto state = locked(*h.core, [&] {
    h.core->acquire(h.sender, mem.addr, mem.bytes, mem.kind);
    auto task = std::make_shared<TaskState<TransferResult>>(h.state->sender->send(mem.addr, mem.bytes), none_or_raise);
    task->held.push_back({h.sender, reinterpret_cast<uint64_t>(mem.addr), mem.bytes});
    h.core->keep(task);
    task->start();
    return task;
  });
  return Future(h.core, state, "pipeline send " + rank_name(h.sender) + " -> " + rank_name(h.receiver), mem.owner);
}

Future recv(LinkHandle& h) {
  auto state = locked(*h.core, [&] {
    auto task = std::make_shared<TaskState<Result<Received>>>(receive_copy(*h.state->receiver), [](const Result<Received>& r) {
      if (!r.ok()) fail(r.error());
      py::array_t<uint8_t> bytes(static_cast<py::ssize_t>(r->second.size()));
      std::copy(r->second.begin(), r->second.end(), bytes.mutable_data());
      return py::object(py::make_tuple(r->first, bytes));
    });
    h.core->keep(task);
    task->start();
    return task;
  });
  return Future(h.core, state, "pipeline recv " + rank_name(h.receiver) + " <- " + rank_name(h.sender), py::none());
}

}  // namespace

void bind_pipeline(py::module_& m) {
  py::class_<LinkHandle>(m, "PipelineLink", R"doc(
A pipeline-parallel link from rank ``sender`` to rank ``receiver``: micro-batches of at
most ``max_message_bytes`` written into ``credits`` receive slots, delivered in the order
sent; a send waits while every slot is taken. ``id`` tells apart links between the same
two ranks. ``send(array)`` returns a Future done once the bytes are in the receiver's
slot (the array may then be reused); ``recv()`` a Future of ``(sequence, uint8 array)``,
a copy, the slot going back to the sender at once. One send and one recv at a time.
)doc")
      .def(py::init(&make_link), py::arg("cluster"), py::arg("sender"), py::arg("receiver"), py::arg("id") = 0,
           py::arg("credits") = 4, py::arg("max_message_bytes") = 1 << 20)
      .def("send", &send, py::arg("data"), "Sends one micro-batch (any buffer).")
      .def("recv", &recv, "The next micro-batch: (sequence, bytes as a uint8 array).")
      .def_property_readonly("sent", [](LinkHandle& h) { return locked(*h.core, [&] { return h.state->sender->sent(); }); })
      .def_property_readonly("received", [](LinkHandle& h) { return locked(*h.core, [&] { return h.state->receiver->received(); }); });
}

}  // namespace ferry::python
