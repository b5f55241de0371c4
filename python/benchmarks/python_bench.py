"""What a call from Python costs over the same call from C++, measured in one run on one
engine (docs/PERFORMANCE.md, "Python"):

  - write: `Engine.write()` from Python against the engine's write posted from C++ in
    a loop (`_ferry._bench_post_writes`), nanoseconds per post; goal: at most 2 us more;
  - paged: one `Engine.write_paged()` call with a 10,000-block table, from the call to
    its return (every block checked and posted); goal: at most 1 ms.

Both on emu (its posts do not move the virtual clock; completions come when the cluster
is driven, outside the timed part). Every write completes and succeeds; the paged
write's blocks are checked byte for byte.

    bazel run --config=opt //python:python_bench [-- --rounds N]
"""

import argparse
import statistics
import sys
import time

import numpy as np

import ferry
from ferry import _ferry

BATCH = 256        # writes posted per timed batch
BLOCKS = 10_000    # blocks in the paged write
BLOCK_BYTES = 256  # small blocks: the call's cost, not the copy's


def python_writes(a, src_mem, region):
    start = time.perf_counter_ns()
    futures = [a.write(1, src_mem, region) for _ in range(BATCH)]
    elapsed = time.perf_counter_ns() - start
    ferry.wait_all(futures, 30.0)
    return elapsed / BATCH


def paged_write(a, src, src_mem, dst, region, rng):
    src_blocks = rng.permutation(BLOCKS).astype(np.int64)
    dst_blocks = rng.permutation(BLOCKS).astype(np.int64)
    dst[:] = 0
    start = time.perf_counter_ns()
    future = a.write_paged(1, src_mem, src_blocks, dst_blocks, BLOCK_BYTES, region)
    elapsed = time.perf_counter_ns() - start
    future.wait(60.0)
    want = src.reshape(BLOCKS, BLOCK_BYTES)[src_blocks]
    got = dst.reshape(BLOCKS, BLOCK_BYTES)[dst_blocks]
    if not np.array_equal(got, want):
        sys.exit("python_bench: the paged write's blocks are wrong")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds of each (default 20)")
    rounds = parser.parse_args().rounds
    rng = np.random.default_rng(1)
    with ferry.Cluster("emu", nodes=2, transfer_timeout=60.0) as cluster:
        a, b = cluster.engine(0), cluster.engine(1)
        small = np.arange(64, dtype=np.uint8)
        small_mem = a.register_memory(small)
        target = np.zeros(64, np.uint8)
        target_mem = b.register_memory(target)  # kept: dropping a Memory deregisters it
        region = a.import_region(1, target_mem.descriptor)
        src = rng.integers(0, 256, BLOCKS * BLOCK_BYTES, dtype=np.uint8)
        dst = np.zeros_like(src)
        src_mem = a.register_memory(src)
        dst_mem = b.register_memory(dst)
        big_region = a.import_region(1, dst_mem.descriptor)

        python_writes(a, small_mem, region)  # warm up both paths
        _ferry._bench_post_writes(a, 1, small_mem, region, BATCH)
        py_ns, cpp_ns = [], []
        for _ in range(rounds):
            # Alternating, so that neither always runs on a warmer cache.
            py_ns.append(python_writes(a, small_mem, region))
            cpp_ns.append(_ferry._bench_post_writes(a, 1, small_mem, region, BATCH))
        if not np.array_equal(target, small):
            sys.exit("python_bench: the writes did not land")
        paged_ns = [paged_write(a, src, src_mem, dst, big_region, rng) for _ in range(max(3, rounds // 4))]

    py, cpp = statistics.median(py_ns), statistics.median(cpp_ns)
    paged = statistics.median(paged_ns)
    print(f"write, 64 B, per post    python {py:8.0f} ns   c++ {cpp:8.0f} ns   "
          f"python - c++ {py - cpp:8.0f} ns   (goal <= 2000 ns)")
    print(f"write_paged, {BLOCKS} blocks of {BLOCK_BYTES} B, call to return   {paged / 1e6:.3f} ms   "
          f"({paged / BLOCKS:.0f} ns a block; goal <= 1 ms)")


if __name__ == "__main__":
    main()
