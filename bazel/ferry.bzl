"""The shapes every package repeats: a gtest test of one source file, and a shell test
that drives one binary. Each test then fits on a line or two of its BUILD file.
"""

load("@rules_cc//cc:defs.bzl", "cc_test")

def ferry_cc_test(name, deps, srcs = None, size = "small", tags = [], **kwargs):
    """A gtest test, `name.cc` by default, linked with gtest's main.

    Args:
      name: the test.
      deps: what it tests; @system//:gtest_main is added.
      srcs: its sources, [name + ".cc"] when left out.
      size: the Bazel test size.
      tags: gpu, threads, conformance, ... as the test needs.
      **kwargs: passed to cc_test (data, timeout, args, local_defines, ...).
    """
    cc_test(
        name = name,
        srcs = srcs if srcs != None else [name + ".cc"],
        size = size,
        tags = tags,
        deps = deps + ["@system//:gtest_main"],
        **kwargs
    )

def ferry_sh_test(name, binary, size = "small", data = [], tags = [], **kwargs):
    """`name.sh`, given the path of one binary as its argument.

    Args:
      name: the test.
      binary: the label of the binary it runs; passed as $1.
      size: the Bazel test size.
      data: what it reads besides the binary.
      tags: as the test needs.
      **kwargs: passed to sh_test.
    """
    native.sh_test(
        name = name,
        srcs = [name + ".sh"],
        size = size,
        args = ["$(location %s)" % binary],
        data = data + [binary],
        tags = tags,
        **kwargs
    )

def ferry_workload_testing(name, lib, hdrs = [], srcs = []):
    """A workload's test harness: its library over the engine's and the workloads' own.

    Args:
      name: the library, "testing" by convention.
      lib: the workload library (or its world) the harness drives.
      hdrs: the harness's headers.
      srcs: its sources.
    """
    native.cc_library(
        name = name,
        testonly = True,
        srcs = srcs,
        hdrs = hdrs,
        deps = [
            lib,
            "//transport/engine:testing",
            "//transport/workloads:testing",
        ],
    )
