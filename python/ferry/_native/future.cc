#include "python/ferry/_native/future.h"

#include <chrono>
#include <cmath>

#include "python/ferry/_native/bindings.h"

namespace ferry::python {

bool Future::done() {
  py::gil_scoped_release unlocked;
  auto l = core_->lock_any();
  return pending_->abandoned || pending_->done();
}

bool Future::poll(double budget) {
  if (!(budget >= 0) || !std::isfinite(budget)) fail(ErrorCode::kInvalidArgument, "the budget must be a finite number of seconds >= 0");
  {
    py::gil_scoped_release unlocked;
    {
      auto l = core_->lock_any();
      if (pending_->abandoned || pending_->done()) return true;
    }
    return core_->drive([this] { return pending_->done(); }, std::chrono::duration<double>(budget));
  }
}

py::object Future::wait(double timeout) {
  if (!(timeout >= 0) || !std::isfinite(timeout)) {
    fail(ErrorCode::kInvalidArgument, "timeout must be a finite number of seconds >= 0 (every wait is bounded)");
  }
  bool finished = false;
  {
    py::gil_scoped_release unlocked;
    {
      auto l = core_->lock_any();
      if (pending_->abandoned) fail(ErrorCode::kFailedPrecondition, what_ + ": the cluster closed before it finished");
      finished = pending_->done();
    }
    if (!finished) finished = core_->drive([this] { return pending_->done(); }, std::chrono::duration<double>(timeout));
    if (finished) {
      auto l = core_->lock_any();
      if (pending_->abandoned) fail(ErrorCode::kFailedPrecondition, what_ + ": the cluster closed before it finished");
      pending_->collect();
    }
  }
  if (!finished) {
    fail(ErrorCode::kDeadlineExceeded, what_ + ": not done after " + std::to_string(timeout) + " s");
  }
  // Collected: its value no longer changes.
  return pending_->value();
}

void bind_future(py::module_& m) {
  py::class_<Future>(m, "Future", R"doc(
An operation in flight: a transfer, a wait for notifications, a collective, a KV step.

``wait(timeout)`` drives the cluster until the operation is done and returns its value
(``None`` for a transfer) or raises its ``FerryError``; ``done()`` only looks. ``await
fut`` works from asyncio: it drives the cluster in short slices and yields to the event
loop between them. Every wait is bounded: ``wait`` raises ``DeadlineExceeded`` after
``timeout`` seconds of wall-clock time (the operation itself goes on).
)doc")
      .def("done", &Future::done, "Whether the operation has finished (without driving the cluster).")
      .def("wait", &Future::wait, py::arg("timeout") = 60.0,
           "Drives the cluster until done (at most `timeout` seconds); returns the value or raises.")
      .def("result", &Future::wait, py::arg("timeout") = 60.0, "Same as wait().")
      .def("_poll", &Future::poll, py::arg("budget"),
           "Drives the cluster for at most `budget` seconds; True once done (asyncio's step).")
      .def_property_readonly("what", &Future::what, "What the operation is, for messages.")
      .def("__repr__", [](Future& f) { return "<ferry.Future " + f.what() + (f.done() ? " done>" : " pending>"); });
}

}  // namespace ferry::python
