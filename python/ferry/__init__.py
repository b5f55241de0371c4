"""ferry: an RDMA transport for distributed LLM inference, from Python.

A ``Cluster`` holds one engine per node over a fabric (``"emu"``, ``"sim"``, ...), all in
this process, or this process's one node of a cluster across processes (``"tcp"``,
``"verbs"``). Engines register memory from numpy arrays (or CUDA/DLPack objects) without
copying, hand out region descriptors as bytes, and write into peers' memory --
contiguous ranges, or thousands of blocks by index in one call -- with notifications the
peer waits for. Every transfer returns a ``Future``: ``fut.wait(timeout)`` from plain
code, ``await fut`` from asyncio. Over virtual time (emu, sim) waiting is what drives
the fabric.

Workloads: ``KvSender``/``KvReceiver`` (prefill -> decode KV-cache migration, layer by
layer), ``Communicator`` (all_reduce, all_gather, reduce_scatter, broadcast,
all_to_all), ``ExpertParallel`` (MoE dispatch/combine), ``PipelineLink`` (pipeline
stages) and ``WeightBroadcast`` (weight loading).

    import numpy as np, ferry
    with ferry.Cluster("emu", nodes=2) as c:
        a, b = c.engine(0), c.engine(1)
        src, dst = np.arange(1024, dtype=np.uint8), np.zeros(1024, np.uint8)
        keep_src = a.register_memory(src)  # registered while the Memory lives
        mem = b.register_memory(dst)
        a.write(1, src, mem.descriptor).wait(10)
        assert (dst == src).all()

Across processes, each process builds its own node, the others found through a
directory (a shared folder, or etcd):

    with ferry.Cluster("tcp", nodes=2, node=0, directory="file:///tmp/demo") as c:
        mem = c.engine(0).register_memory(src)
        c.engine(0).write(1, src, c.lookup("dst")).wait(10)  # rank 1 published "dst"

docs/python.md has the tour, the threading model and what is missing.
"""

import pkgutil as _pkgutil

# Built by Bazel, the extension lies in bazel-bin/python/ferry beside this source
# folder: with both python/ and bazel-bin/python on sys.path, the package spans both.
__path__ = _pkgutil.extend_path(__path__, __name__)

from . import _ferry  # noqa: E402
from ._ferry import (  # noqa: E402,F401
    Cluster,
    Communicator,
    Engine,
    ExpertParallel,
    Future,
    KvLayout,
    KvReceiver,
    KvSender,
    Memory,
    PipelineLink,
    RemoteRegion,
    WeightBroadcast,
    providers,
)
from .errors import (  # noqa: E402,F401
    DeadlineExceeded,
    FailedPrecondition,
    FerryError,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    ResourceExhausted,
    Unavailable,
    Unsupported,
)
from ._futures import wait_all  # noqa: E402,F401

__all__ = [
    "Cluster", "Communicator", "Engine", "ExpertParallel", "Future", "KvLayout", "KvReceiver",
    "KvSender", "Memory", "PipelineLink", "RemoteRegion", "WeightBroadcast", "providers", "wait_all",
    "FerryError", "InvalidArgument", "OutOfRange", "ResourceExhausted", "NotFound",
    "FailedPrecondition", "Unavailable", "DeadlineExceeded", "Unsupported", "Internal",
]
