// StageReceiver: the receiving end of a pipeline link. Micro-batches land in its slots
// (registered memory it owns the layout of) and come out of recv() in the order they
// were sent, whatever order the fabric delivered them in.
//
//   StageReceiver rx(engine, "stage1", link, slots);
//   Result<Message> m = co_await rx.recv();
//   use(m->bytes);      // a view into the slot, no copy (GPU memory if the slots are)
//   rx.release();       // the slot goes back to the sender (or: the next recv() does it)
//
// The view stays valid until release() or the next recv(), whichever comes first: after
// that the sender may overwrite the slot. One recv at a time. After an error the link is
// broken: every later recv returns the same error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "transport/engine/engine.h"
#include "transport/engine/task.h"
#include "transport/result.h"
#include "transport/workloads/pp/credit_return.h"
#include "transport/workloads/pp/stage_link.h"

namespace ferry::pp {

struct Message {
  std::span<const uint8_t> bytes;  // inside the slot
  uint64_t sequence = 0;           // micro-batches are numbered from 0 in send order
};

class StageReceiver {
 public:
  // `slots`: link.receive_area_bytes() of memory registered with this engine, imported
  // by the sender, kept until the engine stops using it.
  StageReceiver(Engine& engine, std::string sender, const StageLink& link, uint8_t* slots);

  // The next micro-batch; releases the one held, if any.
  Task<Result<Message>> recv();
  // Gives the held micro-batch's slot back to the sender; nothing if none is held.
  void release();

  // Micro-batches received, and released (their credits queued for the sender).
  uint64_t received() const { return next_sequence_; }
  uint64_t released() const { return released_; }
  const StageLink& link() const { return link_; }

 private:
  Task<Result<Message>> receive_next();
  std::string doing(const char* what) const;
  Error broken(const TransferResult& why);

  Engine& engine_;
  std::string sender_;
  StageLink link_;
  uint8_t* slots_;
  MemoryKind slots_memory_;  // GPU memory: headers are read through a copy
  CreditReturn credits_;
  uint64_t next_sequence_ = 0;
  uint64_t released_ = 0;
  bool holding_ = false;
  bool receiving_ = false;
  std::optional<Error> broken_;
};

}  // namespace ferry::pp
