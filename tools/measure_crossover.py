#!/usr/bin/env python3
"""Measures which collective algorithm is fastest, by size and rank count, on sim.

Runs `ferry bench` once per (rank count, collective, algorithm) on the ns-3 simulation
(virtual time, so a seed reproduces every figure) and prints, for each rank count and
collective, the last size at which one-shot and two-shot were fastest: the rows of
`kMeasured` in transport/workloads/coll/algorithm.cc, and the crossover table of
docs/collectives.md. Sizes are the nccl-tests size column (the whole message for
all-reduce and broadcast, the whole gathered or scattered buffer for all-gather and
reduce-scatter), which is what the communicator passes to measured_fastest().

  python3 tools/measure_crossover.py --ferry bazel-bin/tools/ferry/ferry [--ranks 2-8]

Every other option is passed to `ferry bench` after the defaults below (a leaf-spine of
two ranks a leaf and two spines, one 400 Gb/s NIC per rank, PFC), so a later one wins.
"""
import argparse
import subprocess
import sys

ALGORITHMS = {  # the algorithms each collective has (docs/collectives.md)
    "all_reduce": ["one_shot", "two_shot", "ring"],
    "all_gather": ["one_shot", "ring"],
    "reduce_scatter": ["one_shot", "ring"],
    "broadcast": ["one_shot", "two_shot"],
}
CPP_NAMES = {"all_reduce": "kAllReduce", "all_gather": "kAllGather",
             "reduce_scatter": "kReduceScatter", "broadcast": "kBroadcast"}
DEFAULTS = ["--provider", "sim", "--topology", "leaf-spine", "--rail-gbps", "400",
            "--min-bytes", "1024", "--max-bytes", str(64 << 20)]


def times(ferry, ranks, collective, algorithm, extra):
    """{size: time in µs} of one sweep; exits naming the command if it failed."""
    command = [ferry, "bench", *DEFAULTS, *extra, "--ranks", str(ranks),
               "--collectives", collective, "--algorithm", algorithm]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("measure_crossover: %s exited %d:\n%s" % (" ".join(command), run.returncode, run.stderr))
    result = {}
    for line in run.stdout.splitlines():
        fields = line.split()
        if len(fields) == 9 and not line.startswith("#"):
            result[int(fields[0])] = float(fields[5])
    return result


def size_text(size, largest):
    if size is None:
        return "0"
    if size == largest:
        return "kAlways"  # fastest up to the largest size measured
    for unit, name in ((1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit and size % unit == 0:
            return "%d * %s" % (size // unit, name)
    return str(size)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ferry", required=True, help="the ferry binary")
    parser.add_argument("--ranks", default="2-8", help="rank counts, FIRST-LAST (default 2-8)")
    args, extra = parser.parse_known_args()
    first, _, last = args.ranks.partition("-")
    for ranks in range(int(first), int(last or first) + 1):
        for collective, algorithms in ALGORITHMS.items():
            measured = {a: times(args.ferry, ranks, collective, a, extra) for a in algorithms}
            sizes = sorted(set.intersection(*(set(m) for m in measured.values())))
            last_win = {a: None for a in algorithms}
            for size in sizes:
                fastest = min(algorithms, key=lambda a: (measured[a][size], algorithms.index(a)))
                last_win[fastest] = size
                print("# %u ranks %-14s %10d  %-8s %s" % (ranks, collective, size, fastest,
                      "  ".join("%s %.2f" % (a, measured[a][size]) for a in algorithms)), file=sys.stderr)
            largest = sizes[-1]
            one = size_text(last_win["one_shot"], largest)
            two = size_text(last_win.get("two_shot"), largest) if "two_shot" in algorithms else "0"
            print("    {Collective::%s, %u, %s, %s}," % (CPP_NAMES[collective], ranks, one, two), flush=True)


if __name__ == "__main__":
    main()
