// The kernel of proxy_bench: one GPU thread timing put-signal round trips through a
// channel (plain C++ launcher; the kernel is in proxy_bench_kernels.cu).
#pragma once

#include <cstdint>

#include "transport/proxy/ring.h"
#include "transport/result.h"

namespace ferry::bench {

// `count` times: a put-signal of 8 bytes (local offset 0 to remote offset 0 of peer 1,
// signal 0), then a wait until counter 0 reached `counter_before` + i + 1. times_ns[i] is
// the i-th round trip by %globaltimer; *status the first failure (0: none). Both in
// memory the host reads after the stream is done. Launched on `stream` (a cudaStream_t).
VoidResult launch_round_trips(const proxy::Context& context, uint64_t counter_before, uint32_t count,
                              uint64_t* times_ns, uint32_t* status, void* stream);

}  // namespace ferry::bench
