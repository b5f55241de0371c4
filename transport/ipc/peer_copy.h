// Moving bytes between this process and a peer process on the same host: host memory
// with one cross-process copy (process_vm_writev / process_vm_readv, no staging), GPU
// memory through the CUDA copy engines on memory opened with an IPC handle; a GPU buffer
// of one side and host memory of the other stage through a host bounce buffer.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>

namespace ferry::ipc {

// One piece of a transfer's source or destination.
struct Piece {
  uint64_t addr = 0;
  uint64_t length = 0;
  bool here = true;  // addr is valid in this process; otherwise it is in the peer's
  bool gpu = false;  // GPU memory (always `here`: opened through its IPC handle)
};

enum class CopyStatus {
  kOk,
  kPeerGone,  // the peer process exited
  kFailed,    // a fault: memory unmapped or freed while registered, a failed CUDA copy
};

// Copies `bytes` from the `from` pieces to the `to` pieces, both walked in order. Pieces
// that are not `here` lie in process `pid`.
CopyStatus copy_pieces(pid_t pid, std::span<const Piece> from, std::span<const Piece> to, uint64_t bytes);

}  // namespace ferry::ipc
