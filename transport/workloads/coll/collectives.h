// Tensor-parallel collectives over the engine, in coroutine style.
//
// Every rank of the communicator's group makes the same calls, in the same order, with
// the same counts, types and algorithm; each call resumes with ok once this rank's
// result is in place and every write it made has completed, or with an error naming the
// collective, the rank and what failed (a peer that vanished or was removed ends every
// waiting rank's call within the engine's transfer timeout). Data moves by one-sided
// writes into the peers' scratch; reductions run on the CPU in fp32.
//
//   Task<TransferResult> t = all_reduce(comm, data, count, DType::kFloat16, ReduceOp::kSum);
//   t.start();
//   cluster.run_until([&] { return t.done(); });   // or any loop driving the engine
//
// Buffers that are sent from must lie in memory registered with the engine; a call
// registers them if they are not (the engine's cache keeps the registration until the
// caller deregisters it). Counts are elements. docs/collectives.md has the algorithms.
#pragma once

#include <cstddef>
#include <cstdint>

#include "transport/engine/task.h"
#include "transport/workloads/coll/algorithm.h"
#include "transport/workloads/coll/communicator.h"
#include "transport/workloads/coll/dtype.h"
#include "transport/workloads/coll/reduction.h"

namespace ferry::coll {

// data[i] = op over every rank's data[i], in place.
Task<TransferResult> all_reduce(Communicator& comm, void* data, size_t count, DType dtype, ReduceOp op,
                                Algorithm algorithm = Algorithm::kAuto);

// recv holds size() * count elements: rank r's `count` elements of send land at
// recv + r * count. send may be recv + rank() * count (in place).
Task<TransferResult> all_gather(Communicator& comm, const void* send, void* recv, size_t count, DType dtype,
                                Algorithm algorithm = Algorithm::kAuto);

// send holds size() * count elements; recv (count elements) gets op over every rank's
// block rank() of send. recv may be send + rank() * count (in place).
Task<TransferResult> reduce_scatter(Communicator& comm, const void* send, void* recv, size_t count,
                                    DType dtype, ReduceOp op, Algorithm algorithm = Algorithm::kAuto);

// Every rank's data becomes root's data.
Task<TransferResult> broadcast(Communicator& comm, void* data, size_t count, DType dtype, uint32_t root,
                               Algorithm algorithm = Algorithm::kAuto);

// send and recv hold size() * count elements: block j of send goes to rank j, and block
// i of recv comes from rank i (equal blocks). send may be recv.
Task<TransferResult> all_to_all(Communicator& comm, const void* send, void* recv, size_t count, DType dtype);

}  // namespace ferry::coll
