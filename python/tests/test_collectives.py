"""Collectives on numpy arrays, every element checked against numpy's own result."""

import numpy as np
import pytest

import ferry

TIMEOUT = 60.0


def inputs(ranks, count, dtype, seed):
    """Small integers: their sums and maxima are exact in fp16 and fp32."""
    rng = np.random.default_rng(seed)
    return [rng.integers(-8, 9, count).astype(dtype) for _ in range(ranks)]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("op", ["sum", "max"])
def test_all_reduce(cluster4, dtype, op):
    comm = ferry.Communicator(cluster4, scratch_bytes=1 << 20)
    arrays = inputs(4, 10000, dtype, 1)
    want = (np.sum if op == "sum" else np.max)(np.stack(arrays).astype(np.float32), axis=0).astype(dtype)
    assert comm.all_reduce(arrays, op=op).wait(TIMEOUT) == [None] * 4
    for a in arrays:
        np.testing.assert_array_equal(a, want)


@pytest.mark.parametrize("algorithm", ["ring", "one_shot", "two_shot"])
def test_all_reduce_algorithms_and_rounds(cluster4, algorithm):
    # Scratch smaller than the data: the ring runs several rounds.
    comm = ferry.Communicator(cluster4, scratch_bytes=64 << 10)
    arrays = inputs(4, 3000 if algorithm == "one_shot" else 50000, np.float32, 2)
    want = np.sum(np.stack(arrays), axis=0)
    comm.all_reduce(arrays, algorithm=algorithm).wait(TIMEOUT)
    for a in arrays:
        np.testing.assert_array_equal(a, want)


def test_bfloat16_by_name(cluster4):
    comm = ferry.Communicator(cluster4)
    ones = [np.full(1000, 0x3F80, np.uint16) for _ in range(4)]  # bf16 1.0
    comm.all_reduce(ones, dtype="bfloat16").wait(TIMEOUT)
    for a in ones:
        assert (a == 0x4080).all()  # bf16 4.0


def test_all_gather(cluster4):
    comm = ferry.Communicator(cluster4)
    sends = inputs(4, 777, np.float32, 3)
    recvs = [np.zeros(4 * 777, np.float32) for _ in range(4)]
    comm.all_gather(sends, recvs).wait(TIMEOUT)
    for r in recvs:
        np.testing.assert_array_equal(r, np.concatenate(sends))


def test_reduce_scatter(cluster4):
    comm = ferry.Communicator(cluster4)
    sends = inputs(4, 4 * 500, np.float16, 4)
    recvs = [np.zeros(500, np.float16) for _ in range(4)]
    comm.reduce_scatter(sends, recvs).wait(TIMEOUT)
    total = np.sum(np.stack(sends).astype(np.float32), axis=0).astype(np.float16)
    for rank, r in enumerate(recvs):
        np.testing.assert_array_equal(r, total[rank * 500:(rank + 1) * 500])


@pytest.mark.parametrize("root", [0, 3])
def test_broadcast(cluster4, root):
    comm = ferry.Communicator(cluster4)
    arrays = inputs(4, 4321, np.float32, 5 + root)
    want = arrays[root].copy()
    comm.broadcast(arrays, root=root).wait(TIMEOUT)
    for a in arrays:
        np.testing.assert_array_equal(a, want)


def test_all_to_all(cluster4):
    comm = ferry.Communicator(cluster4)
    sends = inputs(4, 4 * 100, np.float32, 6)
    recvs = [np.zeros(400, np.float32) for _ in range(4)]
    comm.all_to_all(sends, recvs).wait(TIMEOUT)
    for j in range(4):
        for i in range(4):
            np.testing.assert_array_equal(recvs[j][i * 100:(i + 1) * 100], sends[i][j * 100:(j + 1) * 100])


def test_ranks_started_one_by_one(cluster4):
    """Each rank starts its own part, as separate processes would."""
    comm = ferry.Communicator(cluster4)
    arrays = inputs(4, 2048, np.float32, 7)
    want = np.sum(np.stack(arrays), axis=0)
    futures = [comm.all_reduce([arrays[r]], ranks=[r]) for r in range(4)]
    ferry.wait_all(futures, TIMEOUT)
    for a in arrays:
        np.testing.assert_array_equal(a, want)


def test_consecutive_calls_and_async(cluster4):
    import asyncio

    comm = ferry.Communicator(cluster4)
    arrays = inputs(4, 1000, np.float32, 8)
    want = np.sum(np.stack(arrays), axis=0)

    async def main():
        await comm.all_reduce(arrays)
        await comm.broadcast(arrays, root=1)

    asyncio.run(main())
    for a in arrays:
        np.testing.assert_array_equal(a, want)


def test_bad_collective_arguments(cluster4):
    comm = ferry.Communicator(cluster4)
    good = [np.ones(16, np.float32) for _ in range(4)]
    with pytest.raises(ferry.InvalidArgument, match="float64"):
        comm.all_reduce([np.ones(16) for _ in range(4)])
    with pytest.raises(ferry.InvalidArgument, match="one array per rank"):
        comm.all_reduce(good[:3])
    with pytest.raises(ferry.InvalidArgument, match="elements"):
        comm.all_reduce(good[:3] + [np.ones(8, np.float32)])
    with pytest.raises(ferry.InvalidArgument, match="one dtype"):
        comm.all_reduce(good[:3] + [np.ones(16, np.float16)])
    with pytest.raises(ferry.InvalidArgument, match="op"):
        comm.all_reduce(good, op="prod")
    with pytest.raises(ferry.InvalidArgument, match="algorithm"):
        comm.all_reduce(good, algorithm="tree")
    with pytest.raises(ferry.OutOfRange, match="root"):
        comm.broadcast(good, root=4)
    with pytest.raises(ferry.InvalidArgument, match="twice"):
        comm.all_reduce(good[:2], ranks=[1, 1])
    with pytest.raises(ferry.InvalidArgument, match="expected"):
        comm.all_gather(good, [np.zeros(16, np.float32) for _ in range(4)])
    ro = np.ones(16, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ferry.InvalidArgument, match="read-only"):
        comm.all_reduce(good[:3] + [ro])
    # Nothing started: the communicator still works.
    comm.all_reduce(good).wait(TIMEOUT)
    for a in good:
        assert (a == 4).all()
