// StageSender: the sending end of a pipeline link. It writes micro-batch activations
// into the receiver's slots, one slot per credit, and waits when every slot is taken.
//
//   StageSender tx(engine, "stage2", link, slots_region, 0, scratch);
//   TransferResult sent = co_await tx.send(activation, bytes);
//
// Micro-batches are numbered 0, 1, 2, ... in the order send() is called; the receiver
// gets them in that order. One send at a time: each send returns once its bytes are in
// the receiver's slot (or the link failed), and the caller may then reuse its buffer.
// After an error the link is broken: every later send returns the same error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "transport/engine/engine.h"
#include "transport/engine/task.h"
#include "transport/workloads/pp/stage_link.h"

namespace ferry::pp {

class StageSender {
 public:
  // `slots`: the receiver's slot area as this engine imported it, starting at
  // `slots_offset`. `scratch`: StageLink::kSenderScratchBytes of memory registered with
  // this engine, used only by this sender, kept until the engine stops using it.
  StageSender(Engine& engine, std::string receiver, const StageLink& link, RemoteRegion slots,
              uint64_t slots_offset, uint8_t* scratch);

  // `data` lies in memory registered with this engine, host or GPU memory;
  // bytes <= link.max_message_bytes.
  Task<TransferResult> send(const void* data, uint64_t bytes);

  // Micro-batches whose send completed.
  uint64_t sent() const { return next_sequence_; }
  const StageLink& link() const { return link_; }

 private:
  Task<TransferResult> send_next(const void* data, uint64_t bytes);
  std::string doing(const char* what) const;

  Engine& engine_;
  std::string receiver_;
  StageLink link_;
  RemoteRegion slots_;
  uint64_t slots_offset_;
  uint8_t* scratch_;
  MemoryKind scratch_memory_;  // GPU memory: the header is put there through a copy
  uint64_t next_sequence_ = 0;
  bool sending_ = false;
  std::optional<TransferResult> broken_;
};

}  // namespace ferry::pp
