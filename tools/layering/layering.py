#!/usr/bin/python3
"""Checks that #include lines follow the dependency rule of docs/architecture.md.

Usage:
  layering.py ROOT         check the tree under ROOT
  layering.py --self-test  check a fixture tree with known violations

Exit status 0 when every violation is on the allow-list below and every
allow-list entry still matches; 1 otherwise. Standard library only.
"""

import os
import re
import sys
import tempfile

# Layers, first matching path prefix wins (so the catch-all "transport/" is last).
# Code under a layer's tests (*_test.cc, *_bench.cc, testing/) is the layer's own
# "tests" layer: the same rules, plus it may reach fabrics through fabrics/.
LAYERS = [
    ("tools", "tools/"),
    # The Python package's C++ bindings: above the fabrics, beside the tools.
    ("python", "python/"),
    ("benchmarks", "benchmarks/"),
    ("hw_tests", "hw_tests/"),
    ("scenarios", "scenarios/"),
    ("fabrics", "fabrics/"),
    ("workloads", "transport/workloads/"),
    # GPU-initiated transfers: descriptor rings kernels fill and the host proxy that posts
    # them through the engine. Above the engine, beside the workloads.
    ("proxy", "transport/proxy/"),
    ("engine", "transport/engine/"),
    # Where processes of a cluster find each other (etcd, a shared folder), over net, and
    # engines' mailboxes across processes: above the engine, below the harnesses.
    ("directory", "transport/directory/"),
    ("engine", "transport/engine_bench.cc"),
    ("emu", "emu/"),
    ("sim", "sim/"),
    ("verbs", "transport/verbs/"),
    ("tcp", "transport/tcp/"),
    ("ipc", "transport/ipc/"),
    ("null", "transport/null/"),
    # The CUDA runtime as ferry uses it: beside the interface, below every user of GPU
    # memory (providers, engine, workloads); the one place CUDA headers meet C++ code.
    ("gpu", "transport/gpu/"),
    # What the software providers share (completion ring, DMA copy, ...): above the
    # interface and the GPU runtime, below the providers.
    ("provider_support", "transport/provider_support/"),
    # The provider contract as checks: written against the interface, run on any
    # provider (its test reaches them through fabrics/).
    ("conformance", "transport/conformance/"),
    # Blocking sockets with deadlines: beside the interface, below the providers and the
    # directory that share them.
    ("net", "transport/net/"),
    ("interface", "transport/"),
]

PROVIDERS = {"emu", "sim", "verbs", "tcp", "ipc", "null"}
ABOVE_FABRICS = {"scenarios", "hw_tests", "benchmarks", "tools", "python"}

# Layer -> the layers it may not include. Everything not listed is allowed.
FORBIDDEN = {
    "interface": PROVIDERS | {"proxy", "gpu", "provider_support", "conformance", "net", "directory", "engine", "workloads",
                              "fabrics"} | ABOVE_FABRICS,
    "net": PROVIDERS | {"proxy", "gpu", "provider_support", "conformance", "directory", "engine", "workloads",
                        "fabrics"} | ABOVE_FABRICS,
    "gpu": PROVIDERS | {"proxy", "provider_support", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    "provider_support": PROVIDERS | {"proxy", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    "conformance": PROVIDERS | {"proxy", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    # A provider knows only the interface: nothing above it, and no other provider.
    "emu": (PROVIDERS - {"emu"}) | {"proxy", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    "sim": (PROVIDERS - {"sim"}) | {"proxy", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    "verbs": (PROVIDERS - {"verbs"}) | {"proxy", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    "tcp": (PROVIDERS - {"tcp"}) | {"proxy", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    "ipc": (PROVIDERS - {"ipc"}) | {"proxy", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    "null": (PROVIDERS - {"null"}) | {"proxy", "engine", "workloads", "fabrics"} | ABOVE_FABRICS,
    # The engine never knows the provider it runs on, and never its users.
    "engine": PROVIDERS | {"proxy", "directory", "workloads", "fabrics"} | ABOVE_FABRICS,
    "directory": PROVIDERS | {"proxy", "gpu", "provider_support", "conformance", "workloads", "fabrics"} | ABOVE_FABRICS,
    "workloads": PROVIDERS | {"fabrics"} | ABOVE_FABRICS,
    "proxy": PROVIDERS | {"directory", "workloads", "fabrics"} | ABOVE_FABRICS,
    "fabrics": ABOVE_FABRICS,
    "scenarios": {"hw_tests", "benchmarks", "tools", "python"},
    "hw_tests": {"benchmarks", "tools", "python"},
    "benchmarks": {"hw_tests", "tools", "python"},
    "tools": set(),
    # Python sees the engine, the workloads and the fabrics, never the commands.
    "python": {"hw_tests", "benchmarks", "tools"},
}

# Tests of these layers may use a fabric, but only through the factory.
TESTS_MAY_INCLUDE = {"fabrics"}

# Headers private to one layer: only that layer may include them.
PRIVATE = {
    "emu/internal.h": "emu",
}

# The interface must build with the standard library alone.
STANDARD_HEADERS = set("""
algorithm any array atomic bit bitset cassert cctype cerrno cfloat charconv chrono
cinttypes climits cmath compare complex concepts condition_variable coroutine csignal
cstddef cstdint cstdio cstdlib cstring ctime cwchar deque exception execution
filesystem format forward_list fstream functional future initializer_list iomanip ios
iosfwd iostream istream iterator limits list locale map memory memory_resource mutex
new numbers numeric optional ostream queue random ranges ratio regex scoped_allocator
semaphore set shared_mutex source_location span sstream stack stdexcept stop_token
streambuf string string_view syncstream system_error thread tuple type_traits typeindex
typeinfo unordered_map unordered_set utility valarray variant vector version
""".split())

# Today's violations, each to be removed by the refactoring under way. An entry
# that no longer matches fails the check, so this list can only shrink.
# (including file, included file)
ALLOWED = {
    # sim's integration tests drive the engine and the workloads over a Simulation they
    # configure themselves (losses, topologies the factory does not offer).
    ("sim/sim_engine_test.cc", "transport/engine/engine_cluster.h"),
    ("sim/sim_engine_test.cc", "transport/engine/testing/world.h"),
    ("sim/sim_workloads_test.cc", "transport/engine/engine_cluster.h"),
    ("sim/sim_workloads_test.cc", "transport/engine/task.h"),
    ("sim/sim_workloads_test.cc", "transport/workloads/coll/collectives.h"),
    ("sim/sim_workloads_test.cc", "transport/workloads/coll/testing/exact_inputs.h"),
    ("sim/sim_workloads_test.cc", "transport/workloads/kv/kv_receiver.h"),
    ("sim/sim_workloads_test.cc", "transport/workloads/kv/kv_sender.h"),
    ("sim/sim_workloads_test.cc", "transport/workloads/kv/testing/kv_cluster.h"),
    ("sim/sim_workloads_test.cc", "transport/workloads/moe/expert_parallel.h"),
    ("sim/sim_workloads_test.cc", "transport/workloads/moe/testing/reference.h"),
    ("sim/sim_workloads_test.cc", "transport/workloads/testing/symmetric.h"),
    # The engine's fault tests build emu fabrics with knobs the Cluster seam does not
    # carry yet: lost acknowledgements, SRD duplicates, EFA's constraints, a completion
    # queue smaller than asked.
    ("transport/engine/engine_faults_test.cc", "emu/fabric.h"),
    ("transport/engine/engine_transfers_test.cc", "emu/fabric.h"),
}

SOURCE_DIRS = ["transport", "emu", "sim", "fabrics", "scenarios", "hw_tests",
               "benchmarks", "tools", "python"]
SOURCE_SUFFIXES = (".h", ".hpp", ".cc", ".cpp", ".cu")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(path):
    for name, prefix in LAYERS:
        if path == prefix or path.startswith(prefix):
            return name
    return None


def is_test(path):
    base = os.path.basename(path)
    return (base.endswith(("_test.cc", "_bench.cc", "test_util.h"))
            or "/testing/" in path)


def source_files(root):
    paths = []
    for top in SOURCE_DIRS:
        for folder, _, files in os.walk(os.path.join(root, top)):
            paths += [os.path.relpath(os.path.join(folder, name), root)
                      for name in files if name.endswith(SOURCE_SUFFIXES)]
    return sorted(paths)


def resolve(root, including, target):
    """The tree path of a quoted include, or None for a header outside the tree."""
    if target.split("/")[0] in SOURCE_DIRS and os.path.exists(os.path.join(root, target)):
        return target
    beside = os.path.normpath(os.path.join(os.path.dirname(including), target))
    if os.path.exists(os.path.join(root, beside)):
        return beside
    return None


def problem(root, path, bracket, target):
    """Why one include breaks the rule, or None when it does not."""
    layer = layer_of(path)
    std_only = layer == "interface" and not is_test(path)
    included = resolve(root, path, target) if bracket == '"' else None
    if included is None:
        if std_only and not (bracket == "<" and target in STANDARD_HEADERS):
            return "layer interface may include only the standard library"
        return None
    target_layer = layer_of(included)
    forbidden = FORBIDDEN.get(layer, set())
    if is_test(path):
        forbidden = forbidden - TESTS_MAY_INCLUDE
    if target_layer in forbidden:
        return f"layer {layer} may not include layer {target_layer}"
    owner = PRIVATE.get(included)
    if owner is not None and layer != owner:
        return f"layer {layer} may not include {owner}'s private headers"
    return None


def check(root, allowed, out):
    """Prints violations, known ones and stale allow-list entries; returns True if clean."""
    found = set()
    ok = True
    for path in source_files(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                bracket, target = m.groups()
                reason = problem(root, path, bracket, target)
                if reason is not None:
                    entry = (path, target)
                    found.add(entry)
                    if entry in allowed:
                        out.write(f"{path}:{lineno}: includes {target} ({reason}); "
                                  "known, to be removed\n")
                    else:
                        ok = False
                        out.write(f"{path}:{lineno}: includes {target} ({reason})\n")
    for path, target in sorted(allowed - found):
        ok = False
        out.write(f"allow-list entry {path} -> {target} no longer matches a violation: "
                  "remove it from tools/layering/layering.py\n")
    return ok


# --- self-test: a fixture tree with one file per case --------------------------------

FIXTURE = {
    "transport/provider.h": "#include <vector>\n#include \"transport/result.h\"\n",
    "transport/result.h": "#include <string>\n",
    "transport/bad_interface.h": "#include <gtest/gtest.h>\n#include \"emu/fabric.h\"\n",
    "emu/fabric.h": "#include \"transport/provider.h\"\n",
    "emu/internal.h": "#include <cstdint>\n",
    "sim/simulation.h": "#include \"sim/local.h\"\n#include \"ns3/simulator.h\"\n",
    "sim/local.h": "",
    "sim/sim_cluster.h": "#include \"transport/engine/engine.h\"\n",
    "transport/engine/engine.h": "#include \"transport/provider.h\"\n",
    "transport/engine/engine.cc": "\n#include \"emu/fabric.h\"\n",
    "transport/engine/engine_test.cc": "#include \"fabrics/cluster_factory.h\"\n",
    "transport/engine/engine_other_test.cc": "#include \"emu/fabric.h\"\n",
    "transport/workloads/kv/kv.h": "#include \"fabrics/cluster_factory.h\"\n",
    "fabrics/cluster_factory.h": "#include \"emu/fabric.h\"\n#include \"sim/simulation.h\"\n",
    "scenarios/scenario.h": "#include \"tools/ferry/options.h\"\n",
    "tools/ferry/options.h": "#include \"emu/fabric.h\"\n#include \"scenarios/scenario.h\"\n",
    "tools/ferry/replay.cc": "#include \"emu/internal.h\"\n",
    "python/ferry/_native/module.cc": "#include \"fabrics/cluster_factory.h\"\n#include \"tools/ferry/options.h\"\n",
    "transport/workloads/kv/kv_py.h": "#include \"python/ferry/_native/module.cc\"\n",
}

FIXTURE_ALLOWED = {
    ("sim/sim_cluster.h", "transport/engine/engine.h"),
    ("transport/engine/engine_gone_test.cc", "emu/rng.h"),  # stale
}

EXPECTED = """\
python/ferry/_native/module.cc:2: includes tools/ferry/options.h (layer python may not include layer tools)
scenarios/scenario.h:1: includes tools/ferry/options.h (layer scenarios may not include layer tools)
sim/sim_cluster.h:1: includes transport/engine/engine.h (layer sim may not include layer engine); known, to be removed
tools/ferry/replay.cc:1: includes emu/internal.h (layer tools may not include emu's private headers)
transport/bad_interface.h:1: includes gtest/gtest.h (layer interface may include only the standard library)
transport/bad_interface.h:2: includes emu/fabric.h (layer interface may not include layer emu)
transport/engine/engine.cc:2: includes emu/fabric.h (layer engine may not include layer emu)
transport/engine/engine_other_test.cc:1: includes emu/fabric.h (layer engine may not include layer emu)
transport/workloads/kv/kv.h:1: includes fabrics/cluster_factory.h (layer workloads may not include layer fabrics)
transport/workloads/kv/kv_py.h:1: includes python/ferry/_native/module.cc (layer workloads may not include layer python)
allow-list entry transport/engine/engine_gone_test.cc -> emu/rng.h no longer matches a violation: remove it from tools/layering/layering.py
"""


def self_test():
    with tempfile.TemporaryDirectory() as root:
        for path, text in FIXTURE.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)

        class Lines:
            text = ""

            def write(self, s):
                self.text += s

        out = Lines()
        clean = check(root, FIXTURE_ALLOWED, out)
        if clean or out.text != EXPECTED:
            sys.stdout.write("self-test failed: expected\n" + EXPECTED + "got\n" + out.text)
            return False
        # Without the stale entry and the violations, the same checker passes.
        for path in ("transport/bad_interface.h", "transport/engine/engine.cc",
                     "transport/engine/engine_other_test.cc", "transport/workloads/kv/kv.h",
                     "scenarios/scenario.h", "tools/ferry/replay.cc",
                     "python/ferry/_native/module.cc", "transport/workloads/kv/kv_py.h"):
            os.remove(os.path.join(root, path))
        out = Lines()
        allowed = {("sim/sim_cluster.h", "transport/engine/engine.h")}
        if not check(root, allowed, out):
            sys.stdout.write("self-test failed: a clean tree was rejected\n" + out.text)
            return False
    print("self-test passed")
    return True


def main(argv):
    if argv[1:] == ["--self-test"]:
        return 0 if self_test() else 1
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    if check(argv[1], ALLOWED, sys.stdout):
        print(f"layering: clean ({len(ALLOWED)} known violations to be removed)")
        return 0
    print("layering: violations of the dependency rule (docs/architecture.md)")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
