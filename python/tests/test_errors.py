"""Bad arguments raise clear ferry errors and leave the interpreter and the cluster fine."""

import numpy as np
import pytest

import ferry
from conftest import pattern

TIMEOUT = 30.0


@pytest.fixture
def pair(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(8192, 20), np.zeros(8192, np.uint8)
    mems = a.register_memory(src), b.register_memory(dst)
    return cluster, a, b, src, dst, mems


def still_works(pair):
    """After an error, the same cluster still moves every byte."""
    cluster, a, b, src, dst, (src_mem, dst_mem) = pair
    a.write(1, src, dst_mem).wait(TIMEOUT)
    np.testing.assert_array_equal(dst, src)


def test_errors_carry_status_and_message():
    err = ferry.errors._from_status("OUT_OF_RANGE", "block 7")
    assert isinstance(err, ferry.OutOfRange) and isinstance(err, ferry.FerryError)
    assert isinstance(err, IndexError)
    assert err.status == "OUT_OF_RANGE" and err.message == "block 7"
    assert issubclass(ferry.DeadlineExceeded, TimeoutError)
    assert issubclass(ferry.InvalidArgument, ValueError)


def test_read_only_array_cannot_be_registered(pair):
    cluster, a = pair[0], pair[1]
    ro = np.zeros(4096, np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ferry.InvalidArgument, match="read-only"):
        a.register_memory(ro)
    with pytest.raises(ferry.InvalidArgument, match="read-only"):
        a.read(1, ro, pair[5][1].descriptor)
    still_works(pair)


def test_non_contiguous_array_is_refused(pair):
    a = pair[1]
    grid = np.zeros((64, 64), np.uint8)
    with pytest.raises(ferry.InvalidArgument, match="contiguous"):
        a.register_memory(grid[:, ::2])
    with pytest.raises(ferry.InvalidArgument, match="contiguous"):
        a.write(1, grid.T, pair[5][1])
    still_works(pair)


def test_objects_without_memory_are_refused(pair):
    a = pair[1]
    with pytest.raises(ferry.InvalidArgument, match="expected a buffer"):
        a.register_memory([1, 2, 3])
    with pytest.raises(ferry.InvalidArgument, match="empty"):
        a.register_memory(np.zeros(0, np.uint8))
    still_works(pair)


def test_unregistered_source_is_refused(pair):
    a, dst_mem = pair[1], pair[5][1]
    stray = pattern(4096, 21)
    with pytest.raises(ferry.InvalidArgument, match="registered"):
        a.write(1, stray, dst_mem)
    with pytest.raises(ferry.FailedPrecondition, match="not registered"):
        a.read(1, np.zeros(16, np.uint8), dst_mem)
    still_works(pair)


def test_deregistered_memory_and_double_deregister(pair):
    cluster, a, b = pair[0], pair[1], pair[2]
    extra = np.zeros(4096, np.uint8)
    mem = b.register_memory(extra)
    mem.deregister()
    with pytest.raises(ferry.FailedPrecondition, match="already deregistered"):
        mem.deregister()
    with pytest.raises(ferry.FailedPrecondition, match="deregistered"):
        a.write(1, pair[3], mem)
    still_works(pair)


def test_out_of_range_targets_and_lengths(pair):
    a, src, dst_mem = pair[1], pair[3], pair[5][1]
    with pytest.raises(ferry.OutOfRange, match="outside"):
        a.write(1, src, dst_mem, offset=1)
    with pytest.raises(ferry.OutOfRange, match="nbytes"):
        a.write(1, src, dst_mem, nbytes=src.nbytes + 1)
    with pytest.raises(ferry.OutOfRange):
        a.read(1, np.zeros(1, np.uint8), dst_mem, offset=1 << 40)
    still_works(pair)


def test_block_index_out_of_range_and_bad_tables(pair):
    a, src, dst_mem = pair[1], pair[3], pair[5][1]
    with pytest.raises(ferry.OutOfRange, match=r"src_blocks\[1\] = 16"):
        a.write_paged(1, src, [0, 16], [0, 1], 512, dst_mem)
    with pytest.raises(ferry.OutOfRange, match=r"dst_blocks\[0\] = -1"):
        a.write_paged(1, src, [0], [-1], 512, dst_mem)
    with pytest.raises(ferry.InvalidArgument, match="integer"):
        a.write_paged(1, src, np.array([0.0, 1.0]), [0, 1], 512, dst_mem)
    with pytest.raises(ferry.InvalidArgument, match="integer"):
        a.write_paged(1, src, np.zeros((2, 2), np.int32), [0, 1], 512, dst_mem)
    with pytest.raises(ferry.InvalidArgument, match="one length"):
        a.write_paged(1, src, [0, 1], [0], 512, dst_mem)
    with pytest.raises(ferry.InvalidArgument, match="block_bytes"):
        a.write_paged(1, src, [0], [0], 0, dst_mem)
    still_works(pair)


def test_bad_peers_tags_and_regions(pair):
    cluster, a, b, src, dst, (src_mem, dst_mem) = pair
    with pytest.raises(ferry.NotFound):
        a.write(5, src, dst_mem)
    with pytest.raises(ferry.NotFound):
        a.write("rank9", src, dst_mem)
    with pytest.raises(ferry.InvalidArgument, match="own peer"):
        a.write(0, src, dst_mem)
    with pytest.raises(ferry.InvalidArgument, match="tag"):
        a.notify(1, 8192)
    with pytest.raises(ferry.InvalidArgument, match="index"):
        a.write_with_imm(1, src, dst_mem, tag=1, index=70000)
    with pytest.raises(ferry.InvalidArgument, match="count"):
        b.expect(0, 1, 0)
    with pytest.raises(ferry.InvalidArgument, match="tag, index"):
        a.write(1, src, dst_mem, notify="soon")
    with pytest.raises(ferry.FerryError):
        a.write(1, src, b"not a descriptor")
    with pytest.raises(ferry.InvalidArgument, match="registered with rank0"):
        a.write(1, src, src_mem)  # our own memory named as the peer's
    with pytest.raises(ferry.OutOfRange):
        cluster.engine(2)
    still_works(pair)


def test_bad_waits(pair):
    fut = pair[2].expect(0, 1, 1)
    with pytest.raises(ferry.InvalidArgument, match="timeout"):
        fut.wait(float("inf"))
    with pytest.raises(ferry.InvalidArgument, match="timeout"):
        fut.wait(-1)
    pair[1].notify(1, 1).wait(TIMEOUT)
    assert fut.wait(TIMEOUT) is None


def test_closed_cluster_raises_everywhere(provider):
    c = ferry.Cluster(provider, nodes=2, transfer_timeout=1.0)
    a, b = c.engine(0), c.engine(1)
    src, dst = pattern(4096, 22), np.zeros(4096, np.uint8)
    src_mem, dst_mem = a.register_memory(src), b.register_memory(dst)
    pending = b.expect(0, 1, 1)
    c.close()
    assert c.closed
    with pytest.raises(ferry.FailedPrecondition, match="closed"):
        a.write(1, src, dst_mem)
    with pytest.raises(ferry.FailedPrecondition, match="closed"):
        a.register_memory(np.zeros(16, np.uint8))
    with pytest.raises(ferry.FailedPrecondition, match="closed"):
        pending.wait(TIMEOUT)
    assert pending.done()
    with pytest.raises(ferry.FailedPrecondition, match="closed"):
        c.now_ns
    with pytest.raises(ferry.FailedPrecondition, match="closed"):
        src_mem.deregister()
    c.close()  # twice is fine
    del src_mem, dst_mem  # collected after close: nothing to release, and no crash


def test_device_memory_by_cuda_array_interface(pair):
    """A __cuda_array_interface__ object registers as device memory. Without a GPU the
    pointer is host memory, which the engine refuses, clearly."""

    class FakeDeviceArray:
        def __init__(self, array):
            self.array = array
            self.__cuda_array_interface__ = {
                "data": (array.ctypes.data, False), "shape": array.shape,
                "typestr": array.dtype.str, "strides": None, "version": 3}

    a = pair[1]
    with pytest.raises(ferry.FerryError, match="host pointer|GPU|CUDA|device"):
        a.register_memory(FakeDeviceArray(np.zeros(4096, np.uint8)))
    strided = FakeDeviceArray(np.zeros(4096, np.uint8))
    strided.__cuda_array_interface__ = dict(strided.__cuda_array_interface__, shape=(64, 32), strides=(128, 2))
    with pytest.raises(ferry.InvalidArgument, match="contiguous"):
        a.register_memory(strided)
    still_works(pair)


def test_timeout_of_wait_is_deadline_exceeded(provider):
    with ferry.Cluster(provider, nodes=2, transfer_timeout=1e6) as c:
        fut = c.engine(1).expect(0, 1, 1)
        with pytest.raises(ferry.DeadlineExceeded, match="not done after"):
            fut.wait(0.05)
        assert not fut.done()
        c.engine(0).notify(1, 1).wait(TIMEOUT)
        assert fut.wait(TIMEOUT) is None


def test_bad_clusters():
    with pytest.raises(ferry.FerryError, match="provider|unknown"):
        ferry.Cluster("carrier-pigeon")
    with pytest.raises(ferry.InvalidArgument, match="kind"):
        ferry.Cluster("emu", kind="ud")
    with pytest.raises(ferry.InvalidArgument, match="transfer_timeout"):
        ferry.Cluster("emu", transfer_timeout=0)
    with pytest.raises(ferry.FerryError):
        ferry.Cluster("emu", nodes=0)
    with ferry.Cluster("sim", nodes=2):
        with pytest.raises(ferry.FerryError, match="one Simulation"):
            ferry.Cluster("sim", nodes=2)  # one simulation per process
    with ferry.Cluster("sim", nodes=2) as again:  # the first one closed: a new one may start
        assert len(again) == 2
