#include "transport/ipc/peer_copy.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "transport/gpu/runtime.h"

namespace ferry::ipc {
namespace {

constexpr uint64_t kBounceBytes = 1 << 20;

// One host-to-host copy across processes; the kernel may copy less than asked, so loop.
CopyStatus cross(pid_t pid, bool write, uint64_t local, uint64_t remote, uint64_t n) {
  while (n > 0) {
    iovec l{reinterpret_cast<void*>(local), n};
    iovec r{reinterpret_cast<void*>(remote), n};
    const ssize_t done = write ? process_vm_writev(pid, &l, 1, &r, 1, 0) : process_vm_readv(pid, &l, 1, &r, 1, 0);
    if (done <= 0) {
      if (done < 0 && errno == EINTR) continue;
      return done < 0 && errno == ESRCH ? CopyStatus::kPeerGone : CopyStatus::kFailed;
    }
    local += static_cast<uint64_t>(done);
    remote += static_cast<uint64_t>(done);
    n -= static_cast<uint64_t>(done);
  }
  return CopyStatus::kOk;
}

CopyStatus gpu_copy(uint64_t dst, uint64_t src, uint64_t n) {
  return gpu::copy(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n).ok() ? CopyStatus::kOk
                                                                                              : CopyStatus::kFailed;
}

// GPU memory here and host memory in the peer: through a bounce buffer, a chunk at a time.
CopyStatus staged(pid_t pid, bool to_peer, uint64_t gpu_addr, uint64_t remote, uint64_t n) {
  thread_local std::vector<uint8_t> bounce(kBounceBytes);
  const auto b = reinterpret_cast<uint64_t>(bounce.data());
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = std::min(kBounceBytes, n - done);
    CopyStatus s = to_peer ? gpu_copy(b, gpu_addr + done, k) : cross(pid, false, b, remote + done, k);
    if (s == CopyStatus::kOk) s = to_peer ? cross(pid, true, b, remote + done, k) : gpu_copy(gpu_addr + done, b, k);
    if (s != CopyStatus::kOk) return s;
    done += k;
  }
  return CopyStatus::kOk;
}

CopyStatus copy_one(pid_t pid, const Piece& from, uint64_t from_addr, const Piece& to, uint64_t to_addr, uint64_t n) {
  if (from.here && to.here) {
    if (from.gpu || to.gpu) return gpu_copy(to_addr, from_addr, n);
    std::memmove(reinterpret_cast<void*>(to_addr), reinterpret_cast<const void*>(from_addr), n);
    return CopyStatus::kOk;
  }
  if (from.here) return from.gpu ? staged(pid, true, from_addr, to_addr, n) : cross(pid, true, from_addr, to_addr, n);
  if (to.here) return to.gpu ? staged(pid, false, to_addr, from_addr, n) : cross(pid, false, to_addr, from_addr, n);
  return CopyStatus::kFailed;  // both in the peer: never asked for
}

}  // namespace

CopyStatus copy_pieces(pid_t pid, std::span<const Piece> from, std::span<const Piece> to, uint64_t bytes) {
  size_t fi = 0, ti = 0;
  uint64_t fo = 0, to_off = 0;
  while (bytes > 0 && fi < from.size() && ti < to.size()) {
    const uint64_t n = std::min({from[fi].length - fo, to[ti].length - to_off, bytes});
    if (n > 0) {
      const CopyStatus s = copy_one(pid, from[fi], from[fi].addr + fo, to[ti], to[ti].addr + to_off, n);
      if (s != CopyStatus::kOk) return s;
    }
    fo += n;
    to_off += n;
    bytes -= n;
    if (fo == from[fi].length) ++fi, fo = 0;
    if (to_off == to[ti].length) ++ti, to_off = 0;
  }
  return CopyStatus::kOk;
}

}  // namespace ferry::ipc
