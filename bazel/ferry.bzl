"""The shapes every package repeats: a gtest test of one source file, a shell test that
drives one binary, a workload library and its test harness. Each then fits on a line or
two of its BUILD file.
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

def ferry_workload(name, hdrs = None, exclude = [], deps = []):
    """A workload library over the engine and the groups every workload shares: every
    source and header of its folder but the tests (subfolders hold other targets).

    Args:
      name: the library, named after its folder.
      hdrs: its public headers; the folder's other headers are private. Every header
        when left out.
      exclude: files of the folder that belong to another target.
      deps: what it needs besides the engine and the groups.
    """
    headers = native.glob(["*.h"], exclude = exclude)
    public = hdrs if hdrs != None else headers
    native.cc_library(
        name = name,
        srcs = native.glob(["*.cc"], exclude = ["*_test.cc"] + exclude) + [h for h in headers if h not in public],
        hdrs = public,
        deps = [
            "//transport/engine",
            "//transport/workloads:group",
        ] + deps,
    )
