// Future: one operation in flight as Python sees it. wait() drives the cluster until the
// operation is done (see core.h); done() only looks. ferry/__init__.py adds __await__,
// which drives in short slices and yields to the event loop between them.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "python/ferry/_native/core.h"
#include "python/ferry/_native/errors.h"
#include "transport/engine/task.h"

namespace ferry::python {

namespace py = pybind11;

// A Pending whose value Python can read once it is done.
class PyPending : public Pending {
 public:
  // Lock held: begins the operation, if it has not begun by itself.
  virtual void start() {}
  // Lock held, once done: takes the result out of whatever produced it.
  virtual void collect() {}
  // GIL held, after collect(): the value, or throws Failure.
  virtual py::object value() = 0;
};

// One engine transfer: its callback records the result.
class TransferState : public PyPending {
 public:
  bool done() const override { return finished_; }
  py::object value() override {
    if (!result_.ok()) fail(result_.error());
    return py::none();
  }
  // The engine's callback for this transfer (runs inside round(), lock held).
  TransferDone callback(std::shared_ptr<TransferState> self) {
    return [self = std::move(self)](const TransferResult& r) {
      self->result_ = r;
      self->finished_ = true;
    };
  }

 private:
  bool finished_ = false;
  TransferResult result_;
};

// A workload coroutine, started; `convert` turns its result into Python's value.
template <typename T>
class TaskState : public PyPending {
 public:
  using Convert = std::function<py::object(const T&)>;
  TaskState(Task<T> task, Convert convert) : task_(std::move(task)), convert_(std::move(convert)) {}
  void start() override { task_->start(); }
  bool done() const override { return !task_ || task_->done(); }
  void collect() override {
    if (!result_ && task_ && task_->done()) result_ = task_->result();
  }
  void settle(Core& core) override {
    collect();
    task_.reset();  // the frame goes now, while the workload it waits on still lives
    Pending::settle(core);
  }
  py::object value() override { return convert_(*result_); }

 private:
  std::optional<Task<T>> task_;
  Convert convert_;
  std::optional<T> result_;
};

// Several pendings as one: done when all are; the first failure, by position, wins.
class AllState : public PyPending {
 public:
  explicit AllState(std::vector<std::shared_ptr<PyPending>> parts) : parts_(std::move(parts)) {}
  bool done() const override {
    for (const auto& p : parts_) {
      if (!p->done()) return false;
    }
    return true;
  }
  void collect() override {
    for (const auto& p : parts_) p->collect();
  }
  py::object value() override {
    py::list values;
    for (const auto& p : parts_) values.append(p->value());
    return values;
  }
  const std::vector<std::shared_ptr<PyPending>>& parts() const { return parts_; }

 private:
  std::vector<std::shared_ptr<PyPending>> parts_;
};

// Lock held: starts every part, each kept until done, and returns them as one pending
// that gives back `held` once all are done.
inline std::shared_ptr<AllState> start_all(Core& core, std::vector<std::shared_ptr<PyPending>> parts,
                                           std::vector<Hold> held) {
  for (const auto& p : parts) {
    core.keep(p);
    p->start();
  }
  auto all = std::make_shared<AllState>(std::move(parts));
  all->held = std::move(held);
  core.keep(all);
  return all;
}

// A TransferResult as Python's value: None, or the error raised.
inline py::object none_or_raise(const TransferResult& result) {
  if (!result.ok()) fail(result.error());
  return py::none();
}

class Future {
 public:
  // `keep`: Python objects the operation reads or writes, alive until the Future goes.
  Future(std::shared_ptr<Core> core, std::shared_ptr<PyPending> pending, std::string what, py::object keep)
      : core_(std::move(core)), pending_(std::move(pending)), what_(std::move(what)), keep_(std::move(keep)) {}

  bool done();
  // Drives until done or `timeout` seconds passed; the value, or raises.
  py::object wait(double timeout);
  // Drives for at most `budget` seconds; whether done.
  bool poll(double budget);
  const std::string& what() const { return what_; }

 private:
  std::shared_ptr<Core> core_;
  std::shared_ptr<PyPending> pending_;
  std::string what_;
  py::object keep_;
};



}  // namespace ferry::python
