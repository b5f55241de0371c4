// The device API: kernels start transfers through a host proxy (docs/device-api.md).
//
//   ferry_put(ctx, peer, local_off, remote_off, bytes)        bytes of the local window to the peer's
//   ferry_put_signal(ctx, peer, local_off, remote_off, bytes, signal, value)
//                                                              a put, then counter[signal] += value once done
//   ferry_signal(ctx, peer, signal, value)                     a notification, then counter[signal] += value
//   ferry_wait(ctx, signal, value)                             until counter[signal] >= value
//   ferry_quiet(ctx)                                           until every descriptor issued before is done
//   ferry_status(ctx)                                          the proxy's first error on the channel
//
// `ctx` is the channel's proxy::Context, passed to the kernel by value. Each call returns
// a FerryStatus: kOk, kTimeout (the ring stayed full, or the wait ran out: every spin is
// bounded by the channel's timeout) or the proxy's first error on the channel.
//
// Granularity: the plain calls are per thread; each call is one descriptor. A thread's
// own writes to the window before a put are visible to the transfer (the publish fences
// at system scope). The _warp and _block variants are for data written by the whole warp
// or block: every thread fences its own writes, the group synchronises, one elected
// thread (lane 0, thread 0) issues the call, and its status is returned to every thread.
// All threads of the warp (block) must make the call, with the same arguments.
#pragma once

#include "transport/proxy/ring.h"

using FerryContext = ferry::proxy::Context;
using FerryStatus = ferry::proxy::Status;

__device__ __forceinline__ FerryStatus ferry_put(const FerryContext& ctx, uint32_t peer, uint64_t local_off,
                                                 uint64_t remote_off, uint64_t bytes) {
  return ferry::proxy::put(ctx, peer, local_off, remote_off, bytes);
}

__device__ __forceinline__ FerryStatus ferry_put_signal(const FerryContext& ctx, uint32_t peer, uint64_t local_off,
                                                        uint64_t remote_off, uint64_t bytes, uint32_t signal,
                                                        uint64_t value = 1) {
  return ferry::proxy::put_signal(ctx, peer, local_off, remote_off, bytes, signal, value);
}

__device__ __forceinline__ FerryStatus ferry_signal(const FerryContext& ctx, uint32_t peer, uint32_t signal,
                                                    uint64_t value = 1) {
  return ferry::proxy::signal(ctx, peer, signal, value);
}

__device__ __forceinline__ FerryStatus ferry_wait(const FerryContext& ctx, uint32_t signal, uint64_t value) {
  return ferry::proxy::wait(ctx, signal, value);
}

__device__ __forceinline__ FerryStatus ferry_quiet(const FerryContext& ctx) { return ferry::proxy::quiet(ctx); }

__device__ __forceinline__ FerryStatus ferry_status(const FerryContext& ctx) { return ferry::proxy::status(ctx); }

// --- One elected thread per warp ---------------------------------------------------------

template <typename Call>
__device__ __forceinline__ FerryStatus ferry_warp_elected(Call call) {
  __threadfence_system();  // this lane's writes, before lane 0 publishes
  __syncwarp();
  uint32_t s = 0;
  if ((threadIdx.x & 31) == 0) s = static_cast<uint32_t>(call());
  return static_cast<FerryStatus>(__shfl_sync(0xffffffffu, s, 0));
}

__device__ __forceinline__ FerryStatus ferry_put_warp(const FerryContext& ctx, uint32_t peer, uint64_t local_off,
                                                      uint64_t remote_off, uint64_t bytes) {
  return ferry_warp_elected([&] { return ferry_put(ctx, peer, local_off, remote_off, bytes); });
}

__device__ __forceinline__ FerryStatus ferry_put_signal_warp(const FerryContext& ctx, uint32_t peer,
                                                             uint64_t local_off, uint64_t remote_off, uint64_t bytes,
                                                             uint32_t signal, uint64_t value = 1) {
  return ferry_warp_elected([&] { return ferry_put_signal(ctx, peer, local_off, remote_off, bytes, signal, value); });
}

__device__ __forceinline__ FerryStatus ferry_wait_warp(const FerryContext& ctx, uint32_t signal, uint64_t value) {
  return ferry_warp_elected([&] { return ferry_wait(ctx, signal, value); });
}

__device__ __forceinline__ FerryStatus ferry_quiet_warp(const FerryContext& ctx) {
  return ferry_warp_elected([&] { return ferry_quiet(ctx); });
}

// --- One elected thread per block --------------------------------------------------------

template <typename Call>
__device__ __forceinline__ FerryStatus ferry_block_elected(Call call) {
  __shared__ uint32_t status;
  __threadfence_system();  // this thread's writes, before thread 0 publishes
  __syncthreads();         // also: everyone read the previous call's status
  if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) status = static_cast<uint32_t>(call());
  __syncthreads();
  return static_cast<FerryStatus>(status);
}

__device__ __forceinline__ FerryStatus ferry_put_block(const FerryContext& ctx, uint32_t peer, uint64_t local_off,
                                                       uint64_t remote_off, uint64_t bytes) {
  return ferry_block_elected([&] { return ferry_put(ctx, peer, local_off, remote_off, bytes); });
}

__device__ __forceinline__ FerryStatus ferry_put_signal_block(const FerryContext& ctx, uint32_t peer,
                                                              uint64_t local_off, uint64_t remote_off, uint64_t bytes,
                                                              uint32_t signal, uint64_t value = 1) {
  return ferry_block_elected([&] { return ferry_put_signal(ctx, peer, local_off, remote_off, bytes, signal, value); });
}

__device__ __forceinline__ FerryStatus ferry_wait_block(const FerryContext& ctx, uint32_t signal, uint64_t value) {
  return ferry_block_elected([&] { return ferry_wait(ctx, signal, value); });
}

__device__ __forceinline__ FerryStatus ferry_quiet_block(const FerryContext& ctx) {
  return ferry_block_elected([&] { return ferry_quiet(ctx); });
}
