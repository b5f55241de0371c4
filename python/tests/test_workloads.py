"""MoE dispatch/combine, pipeline links and weight broadcast from Python, every byte
checked against a numpy reference."""

import numpy as np
import pytest

import ferry
from conftest import pattern

TIMEOUT = 60.0


def bf16(values):
    """float32 values exact in bf16, as bf16 bits."""
    bits = np.asarray(values, np.float32).view(np.uint32)
    assert not (bits & 0xFFFF).any()
    return (bits >> 16).astype(np.uint16)


def from_bf16(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


@pytest.mark.parametrize("mode", ["normal", "low_latency"])
def test_moe_dispatch_and_combine(cluster4, mode):
    ranks, experts, top_k, hidden, tokens = 4, 8, 2, 16, 6
    per_rank = experts // ranks
    ep = ferry.ExpertParallel(cluster4, experts=experts, top_k=top_k, hidden=hidden, max_tokens=8, mode=mode)
    rng = np.random.default_rng(1)
    topk = [np.stack([rng.choice(experts, top_k, replace=False) for _ in range(tokens)]).astype(np.int32)
            for _ in range(ranks)]
    topk[0][2] = [-1, -1]  # a token with no expert
    topk[3][0, 1] = -1
    values = [rng.integers(-4, 5, (tokens, hidden)).astype(np.float32) for _ in range(ranks)]
    rows = [bf16(v) for v in values]
    weights = [np.where(t >= 0, 0.5, 0.0).astype(np.float32) for t in topk]
    weights[1][:, 1] = 0.25
    assert ep.dispatch(topk, weights, rows).wait(TIMEOUT) == [None] * ranks

    outputs = []
    for r in range(ranks):
        got = ep.received(r)
        want = sorted((src, t, k) for src in range(ranks) for t in range(tokens) for k in range(top_k)
                      if topk[src][t, k] // per_rank == r and topk[src][t, k] >= 0)
        origins = [tuple(int(x) for x in o) for o in got["origins"]]
        assert sorted(origins) == want
        assert sum(got["counts"]) == len(want)
        # Each row is its token's hidden vector, and sits under the expert it chose.
        expert_of_row = np.repeat(np.arange(per_rank) + r * per_rank, got["counts"])
        for row, (src, t, k), expert in zip(got["rows"], origins, expert_of_row):
            np.testing.assert_array_equal(row.view(np.uint16), rows[src][t])
            assert topk[src][t, k] == expert
        np.testing.assert_array_equal(got["weights"], [weights[src][t, k] for src, t, k in origins])
        # The "expert": its row times (expert + 1), exact in bf16.
        outputs.append(bf16(from_bf16(got["rows"].view(np.uint16)) * (expert_of_row[:, None] + 1)))

    combined = [np.zeros((tokens, hidden), np.uint16) for _ in range(ranks)]
    assert ep.combine(outputs, combined).wait(TIMEOUT) == [None] * ranks
    # Small dyadic values: every partial sum and their sum are exact in bf16, so the
    # per-rank reduction gives the plain weighted sum here.
    for r in range(ranks):
        scale = np.where(topk[r] >= 0, weights[r] * (topk[r] + 1), 0).sum(axis=1)
        # + 0.0: a token with no expert combines to +0, never -0.
        np.testing.assert_array_equal(combined[r], bf16(values[r] * scale[:, None] + 0.0))


def test_moe_bad_arguments(cluster4):
    ep = ferry.ExpertParallel(cluster4, experts=8, top_k=2, hidden=16, max_tokens=8)
    idx = [np.array([[0, 1], [1, 0]], np.int32) for _ in range(4)]
    rows = [np.zeros((2, 16), np.uint16) for _ in range(4)]
    w = [np.full((2, 2), 0.5, np.float32) for _ in range(4)]
    with pytest.raises(ferry.InvalidArgument, match="int32"):
        ep.dispatch([i.astype(np.int64) for i in idx], w, rows)
    with pytest.raises(ferry.InvalidArgument, match="float32"):
        ep.dispatch(idx, [x.astype(np.float64) for x in w], rows)
    with pytest.raises(ferry.InvalidArgument, match="arrays for 4 ranks"):
        ep.dispatch(idx[:3], w[:3], rows[:3])
    with pytest.raises(ferry.InvalidArgument, match="tokens"):
        ep.dispatch(idx, w, [np.zeros((2, 8), np.uint16)] * 4)
    with pytest.raises(ferry.InvalidArgument, match="topk_weights"):
        ep.dispatch(idx, [np.zeros((2, 1), np.float32)] * 4, rows)
    with pytest.raises(ferry.FerryError):
        ferry.ExpertParallel(cluster4, experts=7, top_k=2, hidden=16, max_tokens=8)  # not over 4 ranks
    with pytest.raises(ferry.InvalidArgument, match="mode"):
        ferry.ExpertParallel(cluster4, experts=8, top_k=2, hidden=16, max_tokens=8, mode="fast")
    # Nothing started: a whole round still works.
    ep.dispatch(idx, w, rows).wait(TIMEOUT)
    assert ep.received(0)["origins"].shape == (16, 3)  # 4 ranks x 2 tokens x experts 0, 1 (rank 0)


def test_pipeline_link_in_order_with_credits(provider):
    # Deadlines far away: a send waiting for a credit must end by the credit.
    with ferry.Cluster(provider, nodes=2, transfer_timeout=1e6) as c:
        link = ferry.PipelineLink(c, sender=0, receiver=1, credits=2, max_message_bytes=300_000)
        batches = [pattern(1000 + 37_000 * m, 30 + m) for m in range(8)]
        link.send(batches[0]).wait(TIMEOUT)
        link.send(batches[1]).wait(TIMEOUT)
        third = link.send(batches[2])
        assert not third._poll(0.01)  # both slots taken: it waits for a credit
        for m in range(8):
            sequence, got = link.recv().wait(TIMEOUT)
            assert sequence == m
            np.testing.assert_array_equal(got, batches[m])
            if m == 0:
                third.wait(TIMEOUT)
            elif m + 2 < 8:
                link.send(batches[m + 2]).wait(TIMEOUT)
        assert link.sent == 8 and link.received == 8


def test_pipeline_bad_arguments(cluster):
    with pytest.raises(ferry.InvalidArgument, match="two ranks"):
        ferry.PipelineLink(cluster, sender=0, receiver=0)
    with pytest.raises(ferry.FerryError):
        ferry.PipelineLink(cluster, sender=0, receiver=1, credits=0)
    link = ferry.PipelineLink(cluster, sender=0, receiver=1, max_message_bytes=1024)
    with pytest.raises(ferry.FerryError):
        link.send(np.zeros(2048, np.uint8)).wait(TIMEOUT)  # larger than a slot


@pytest.mark.parametrize("fanout", [1, 2])
@pytest.mark.parametrize("root", [0, 2])
def test_weight_broadcast(cluster4, fanout, root):
    weights = ferry.WeightBroadcast(cluster4)
    size = 300_000
    arrays = [np.zeros(size + 8, np.uint8) for _ in range(4)]
    arrays[root][:size] = pattern(size, 40 + root)
    assert weights.broadcast(arrays, root=root, fanout=fanout, chunk_bytes=16 << 10).wait(TIMEOUT) == [None] * 4
    for a in arrays:
        np.testing.assert_array_equal(a[:size], arrays[root][:size])
    # A second broadcast on the same object, of part of the buffer.
    arrays[root][:1000] = 7
    weights.broadcast(arrays, root=root, nbytes=1000).wait(TIMEOUT)
    for a in arrays:
        assert (a[:1000] == 7).all()


def test_weight_broadcast_bad_arguments(cluster4):
    weights = ferry.WeightBroadcast(cluster4)
    arrays = [np.zeros(64, np.uint8) for _ in range(4)]
    with pytest.raises(ferry.OutOfRange, match="root"):
        weights.broadcast(arrays, root=4)
    with pytest.raises(ferry.OutOfRange, match="nbytes"):
        weights.broadcast(arrays, nbytes=60)
    with pytest.raises(ferry.InvalidArgument, match="one per rank"):
        weights.broadcast(arrays[:3])
    with pytest.raises(ferry.InvalidArgument, match="same size"):
        weights.broadcast(arrays[:3] + [np.zeros(128, np.uint8)])
    arrays[0][:56] = 3
    weights.broadcast(arrays).wait(TIMEOUT)
    for a in arrays:
        assert (a[:56] == 3).all()
