"""CUDA under Bazel 4.2.3: nvcc compiles each .cu file in a genrule, and a cc_library
takes the objects. The code is built for sm_90 (H100, H200) as SASS, plus PTX that newer
GPUs compile at load time. The CUDA runtime is linked statically; the driver (libcuda)
is loaded at run time, so binaries build and run on machines without a GPU, where the
runtime reports that no device is there.
"""

load("@rules_cc//cc:defs.bzl", "cc_library")

NVCC = "/usr/local/cuda/bin/nvcc"

NVCC_FLAGS = [
    "-O3",
    "-std=c++20",
    "-gencode arch=compute_90,code=[sm_90,compute_90]",
    "-Xcompiler -fPIC",
    "-I.",
    # Kernels compare bit for bit with CPU references: no fused or approximate math
    # behind the code's back (the kernels ask for the rounding they want).
    "--fmad=false",
]

def cuda_library(name, srcs, hdrs = [], cuda_hdrs = [], deps = [], **kwargs):
    """A cc_library of CUDA sources.

    Args:
      name: the library.
      srcs: .cu files, one nvcc call each.
      hdrs: the library's public headers (plain C++, no CUDA types needed to include them).
      cuda_hdrs: headers only the .cu files include.
      deps: cc deps of the library.
      **kwargs: passed to cc_library (visibility, tags, ...).
    """
    objects = []
    for src in srcs:
        obj = name + "_" + src.replace("/", "_").replace(".cu", "") + ".o"
        native.genrule(
            name = obj.replace(".", "_"),
            srcs = [src] + hdrs + cuda_hdrs,
            outs = [obj],
            cmd = "%s %s -c $(location %s) -o $@" % (NVCC, " ".join(NVCC_FLAGS), src),
            message = "nvcc " + src,
        )
        objects.append(obj)
    cc_library(
        name = name,
        srcs = objects,
        hdrs = hdrs,
        deps = deps + ["//bazel/cuda:cudart"],
        # Static, so that the CUDA runtime's static library links after it.
        linkstatic = True,
        **kwargs
    )
