"""The engine from Python: registration, descriptors, every kind of transfer, checked
byte for byte on each provider."""

import numpy as np
import pytest

import ferry
from conftest import pattern

TIMEOUT = 30.0


def test_write_moves_every_byte(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(1 << 20, 1), np.zeros(1 << 20, np.uint8)
    src_mem, dst_mem = a.register_memory(src), b.register_memory(dst)
    assert src_mem.nbytes == src.nbytes and src_mem.kind == "host"
    assert isinstance(dst_mem.descriptor, bytes)
    fut = a.write(1, src, dst_mem.descriptor)
    assert fut.wait(TIMEOUT) is None
    assert fut.done()
    np.testing.assert_array_equal(dst, src)
    assert a.stats()["transfers_done"] == 1
    assert a.stats()["peers"]["rank1"]["bytes"] == src.nbytes


def test_write_to_offset_of_imported_region_with_nbytes(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(8192, 2), np.zeros(16384, np.uint8)
    keep = a.register_memory(src)
    dst_mem = b.register_memory(dst)
    region = a.import_region("rank1", dst_mem.descriptor)
    assert region.nbytes == dst.nbytes and region.peer == "rank1"
    a.write("rank1", src, region, offset=1000, nbytes=5000).wait(TIMEOUT)
    np.testing.assert_array_equal(dst[1000:6000], src[:5000])
    assert not dst[:1000].any() and not dst[6000:].any()
    assert keep.registered


def test_sub_array_of_a_registration_and_memory_as_source(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(65536, 3), np.zeros(4096, np.uint8)
    src_mem = a.register_memory(src)
    dst_mem = b.register_memory(dst)
    a.write(1, src[4096:8192], dst_mem).wait(TIMEOUT)  # a view inside the registration
    np.testing.assert_array_equal(dst, src[4096:8192])
    a.write(1, src_mem, dst_mem, nbytes=4096).wait(TIMEOUT)  # the Memory itself
    np.testing.assert_array_equal(dst, src[:4096])


def test_write_with_imm_is_counted_by_expect(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(4 * 4096, 4), np.zeros(4 * 4096, np.uint8)
    keep = a.register_memory(src)
    dst_mem = b.register_memory(dst)
    landed = b.expect(0, tag=5, count=4)
    writes = [a.write_with_imm(1, src[i * 4096:(i + 1) * 4096], dst_mem, tag=5, index=i, offset=i * 4096)
              for i in range(4)]
    assert landed.wait(TIMEOUT) is None
    # The notification follows its data: everything is in place once expect is done.
    np.testing.assert_array_equal(dst, src)
    assert ferry.wait_all(writes, TIMEOUT) == [None] * 4
    assert keep.registered


def test_notify_and_expect_count_distinct_indices(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    two = b.expect("rank0", tag=9, count=2)
    a.notify(1, 9, 0).wait(TIMEOUT)
    a.notify(1, 9, 0).wait(TIMEOUT)  # the same (tag, index) counts once
    assert not two.done()
    a.notify(1, 9, 1).wait(TIMEOUT)
    assert two.wait(TIMEOUT) is None


def test_expect_without_notifications_fails_at_the_deadline(provider):
    with ferry.Cluster(provider, nodes=2, transfer_timeout=0.01) as c:
        fut = c.engine(1).expect(0, tag=1, count=1)
        with pytest.raises(ferry.DeadlineExceeded) as failure:
            fut.wait(TIMEOUT)
        assert failure.value.status == "DEADLINE_EXCEEDED"


def test_release_fails_a_pending_expect(cluster):
    b = cluster.engine(1)
    fut = b.expect(0, tag=2, count=1)
    b.release(0, 2)
    with pytest.raises(ferry.FerryError):
        fut.wait(TIMEOUT)


def test_read_pulls_the_peers_bytes(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    remote, local = pattern(1 << 16, 5), np.zeros(1 << 12, np.uint8)
    remote_mem = b.register_memory(remote)
    keep = a.register_memory(local)
    a.read(1, local, remote_mem.descriptor, offset=12345).wait(TIMEOUT)
    np.testing.assert_array_equal(local, remote[12345:12345 + 4096])
    assert keep.registered


def test_write_paged_thousands_of_blocks_in_one_call(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    block, count = 256, 5000
    src = pattern(count * block, 6)
    dst = np.zeros((count + 100) * block, np.uint8)
    keep = a.register_memory(src)
    dst_mem = b.register_memory(dst)
    rng = np.random.default_rng(6)
    src_blocks = rng.permutation(count).astype(np.int64)
    dst_blocks = rng.permutation(count + 100)[:count].astype(np.uint32)
    done = b.expect(0, tag=11, count=1)
    a.write_paged(1, src, src_blocks, dst_blocks, block, dst_mem, notify=(11, 0)).wait(TIMEOUT)
    done.wait(TIMEOUT)
    want = np.zeros_like(dst).reshape(-1, block)
    want[dst_blocks] = src.reshape(-1, block)[src_blocks]
    np.testing.assert_array_equal(dst.reshape(-1, block), want)
    assert keep.registered


def test_write_paged_with_strides_and_offset(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    src = pattern(10 * 1024, 7)  # 10 slots of 1024, blocks of 512 at the start of each
    dst = np.zeros(64 + 8 * 768, np.uint8)  # slots of 768 after 64 bytes
    keep = a.register_memory(src)
    dst_mem = b.register_memory(dst)
    a.write_paged(1, src, [9, 0, 4], [1, 7, 2], 512, dst_mem, dst_offset=64, src_stride=1024,
                  dst_stride=768).wait(TIMEOUT)
    want = np.zeros_like(dst)
    for s, d in zip([9, 0, 4], [1, 7, 2]):
        want[64 + d * 768:64 + d * 768 + 512] = src[s * 1024:s * 1024 + 512]
    np.testing.assert_array_equal(dst, want)
    assert keep.registered


def test_dlpack_objects_register_by_pointer(cluster):
    class OnlyDlpack:
        """Exposes its memory only through DLPack, like a framework's tensor."""

        def __init__(self, array):
            self.array = array

        def __dlpack__(self, stream=None):
            return self.array.__dlpack__()

        def __dlpack_device__(self):
            return self.array.__dlpack_device__()

    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(8192, 8), np.zeros(8192, np.uint8)
    src_mem = a.register_memory(OnlyDlpack(src))
    assert src_mem.address == src.ctypes.data and src_mem.nbytes == 8192 and src_mem.kind == "host"
    dst_mem = b.register_memory(OnlyDlpack(dst))
    a.write(1, src_mem, dst_mem).wait(TIMEOUT)
    np.testing.assert_array_equal(dst, src)


def test_deregister_then_write_is_refused(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(4096, 9), np.zeros(4096, np.uint8)
    src_mem = a.register_memory(src)
    dst_mem = b.register_memory(dst)
    src_mem.deregister()
    assert not src_mem.registered
    with pytest.raises(ferry.InvalidArgument, match="registered"):
        a.write(1, src, dst_mem)
    assert not dst.any()


def test_async_futures(cluster):
    import asyncio

    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(1 << 18, 10), np.zeros(1 << 18, np.uint8)
    keep = a.register_memory(src)
    dst_mem = b.register_memory(dst)
    quarter = src.nbytes // 4

    async def main():
        landed = b.expect(0, tag=3, count=4)
        writes = [a.write_with_imm(1, src[i * quarter:(i + 1) * quarter], dst_mem, tag=3, index=i,
                                   offset=i * quarter) for i in range(4)]
        other_ran = []

        async def bystander():
            other_ran.append(True)

        results = await asyncio.gather(landed, *writes, bystander())
        return results, other_ran

    results, other_ran = asyncio.run(main())
    assert results == [None] * 6
    assert other_ran == [True]
    np.testing.assert_array_equal(dst, src)
    assert keep.registered


def test_async_failure_raises_ferry_error(provider):
    import asyncio

    with ferry.Cluster(provider, nodes=2, transfer_timeout=0.01) as c:
        async def main():
            await c.engine(0).expect(1, tag=4, count=1)

        with pytest.raises(ferry.DeadlineExceeded):
            asyncio.run(main())


def test_virtual_time_advances_only_when_driven(cluster):
    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(1 << 20, 11), np.zeros(1 << 20, np.uint8)
    keep = a.register_memory(src)
    dst_mem = b.register_memory(dst)
    before = cluster.now_ns
    fut = a.write(1, src, dst_mem)
    assert cluster.now_ns == before  # posting does not move the clock
    fut.wait(TIMEOUT)
    # 1 MiB at 100 Gb/s takes at least 80 us of virtual time.
    assert cluster.now_ns - before >= 80_000
    np.testing.assert_array_equal(dst, src)
    assert keep.registered


def test_threads_wait_and_post_at_once(provider):
    """A thread waiting (and so driving the cluster) lets others post and wait: the GIL
    and the cluster's lock are released around every wait."""
    import threading

    # Deadlines far away: the waiter must end by the notification, never by its deadline.
    with ferry.Cluster(provider, nodes=3, transfer_timeout=1e6) as c:
        a, b, z = c.engines
        src, dst = pattern(1 << 16, 12), np.zeros(1 << 16, np.uint8)
        keep = a.register_memory(src)
        dst_mem = b.register_memory(dst)
        results = {}

        def waiter(name, engine, peer, tag):
            try:
                results[name] = engine.expect(peer, tag=tag, count=1).wait(TIMEOUT)
            except Exception as e:  # reported below, in the main thread
                results[name] = e

        threads = [threading.Thread(target=waiter, args=("b", b, 0, 1)),
                   threading.Thread(target=waiter, args=("z", z, 0, 2))]
        for t in threads:
            t.start()
        a.write_with_imm(1, src, dst_mem, tag=1).wait(TIMEOUT)
        a.notify(2, 2).wait(TIMEOUT)
        for t in threads:
            t.join(TIMEOUT)
        assert results == {"b": None, "z": None}
        np.testing.assert_array_equal(dst, src)
        assert keep.registered


def test_registrations_sharing_memory_are_counted(cluster):
    """A view registered inside a registration, and a collective over registered arrays,
    give back only their own use: the outer registration stays until it goes itself."""
    a, b = cluster.engine(0), cluster.engine(1)
    src, dst = pattern(8192, 13), np.zeros(8192, np.uint8)
    whole = a.register_memory(src)
    part = a.register_memory(src[4096:])
    dst_mem = b.register_memory(dst)
    assert part.address == whole.address + 4096
    part.deregister()
    a.write(1, src, dst_mem).wait(TIMEOUT)  # still registered through `whole`
    np.testing.assert_array_equal(dst, src)

    comm = ferry.Communicator(cluster)
    floats = [src.view(np.float32)[:16].copy(), np.zeros(16, np.float32)]
    mine = a.register_memory(floats[0])
    comm.broadcast(floats, root=0).wait(TIMEOUT)
    np.testing.assert_array_equal(floats[1], floats[0])
    a.write(1, floats[0], dst_mem).wait(TIMEOUT)  # the collective left `mine` registered
    np.testing.assert_array_equal(dst[:64], floats[0].view(np.uint8))
    mine.deregister()
    whole.deregister()
    with pytest.raises(ferry.InvalidArgument, match="registered"):
        a.write(1, src, dst_mem)
