"""KV-cache migration from Python: prefill TP -> decode TP, layer by layer, with every
element of every decode pool checked against where it must have come from."""

import numpy as np
import pytest

import ferry

TIMEOUT = 60.0


def layout(tp, num_blocks):
    return ferry.KvLayout(layers=3, block_tokens=4, kv_heads=4, head_dim=8, dtype_bytes=4,
                          num_blocks=num_blocks, tp=tp)


def element_values(lay, rank):
    """A prefill pool whose every element names (layer, part, block, token, model head,
    dim): shape [layers, 2, blocks, tokens, local heads, dim], uint32, never 0."""
    first, count = lay.heads_of(rank)
    L, B, T, D = lay.layers, lay.num_blocks, lay.block_tokens, lay.head_dim
    l, p, b, t, h, d = np.indices((L, 2, B, T, count, D), dtype=np.uint32)
    return ((((l * 2 + p) * B + b) * T + t) * lay.kv_heads + h + first) * D + d + 1


class Migration:
    """Prefill ranks 0 .. P-1 and decode ranks P .. P+D-1 of one cluster, each with its
    pool registered, a KvSender per prefill rank and a KvReceiver per decode rank."""

    def __init__(self, cluster, prefill_tp, decode_tp):
        self.prefill, self.decode = layout(prefill_tp, 16), layout(decode_tp, 24)
        P, D = prefill_tp, decode_tp
        self.pools = [element_values(self.prefill, r).ravel() for r in range(P)]
        self.decode_pools = [np.zeros(self.decode.pool_bytes // 4, np.uint32) for _ in range(D)]
        engines = cluster.engines
        self.mems = [engines[r].register_memory(self.pools[r]) for r in range(P)]
        self.decode_mems = [engines[P + d].register_memory(self.decode_pools[d]) for d in range(D)]
        self.senders = [
            ferry.KvSender(engines[r], prefill=self.prefill, rank=r, pool=self.mems[r], decode=self.decode,
                           decode_ranks=[(P + d, self.decode_mems[d].descriptor) for d in range(D)])
            for r in range(P)]
        self.receivers = [
            ferry.KvReceiver(engines[P + d], prefill=self.prefill, decode=self.decode, rank=d,
                             prefill_ranks=list(range(P)))
            for d in range(D)]

    def begin(self, request, prefill_blocks, decode_blocks):
        for r in self.receivers:  # the decode side first
            r.begin(request, prefill_blocks, decode_blocks)
        for s in self.senders:
            s.begin(request, prefill_blocks, decode_blocks)

    def expected(self, decode_rank, prefill_blocks, decode_blocks, layers):
        """The decode pool once `layers` landed: the request's blocks, re-sharded."""
        lay = self.decode
        first, count = lay.heads_of(decode_rank)
        want = np.zeros((lay.layers, 2, lay.num_blocks, lay.block_tokens, count, lay.head_dim), np.uint32)
        full = np.concatenate([element_values(self.prefill, r) for r in range(self.prefill.tp)], axis=4)
        for layer in layers:
            want[layer, :, decode_blocks] = full[layer, :, prefill_blocks][..., first:first + count, :]
        return want.ravel()


@pytest.mark.parametrize("prefill_tp,decode_tp", [(2, 1), (1, 2), (2, 4)])
def test_migrate_layer_by_layer(provider, prefill_tp, decode_tp):
    with ferry.Cluster(provider, nodes=prefill_tp + decode_tp, seed=5) as cluster:
        m = Migration(cluster, prefill_tp, decode_tp)
        prefill_blocks = np.array([3, 11, 0, 7, 5], np.int64)
        decode_blocks = np.array([20, 1, 9, 4, 13], np.uint32)
        m.begin(42, prefill_blocks, decode_blocks)
        for layer in range(m.prefill.layers):
            for s in m.senders:
                s.layer_ready(42, layer)
            for d, r in enumerate(m.receivers):
                assert r.layer(42, layer).wait(TIMEOUT) is None
                # The layer is in place once its wait is done; later layers may be too.
                got = m.decode_pools[d].reshape(m.decode.layers, -1)[layer]
                want = m.expected(d, prefill_blocks, decode_blocks, [layer]).reshape(m.decode.layers, -1)[layer]
                np.testing.assert_array_equal(got, want)
        for r in m.receivers:
            assert r.all(42).wait(TIMEOUT) is None
        for s in m.senders:
            report = s.finished(42).wait(TIMEOUT)
            assert report["ok"] and not report["cancelled"] and report["bytes"] > 0, report
        for d, r in enumerate(m.receivers):
            report = r.finished(42).wait(TIMEOUT)
            assert report["ok"] and report["blocks_reusable"], report
            np.testing.assert_array_equal(m.decode_pools[d],
                                          m.expected(d, prefill_blocks, decode_blocks, range(m.prefill.layers)))


def test_cancel_by_decode_rank(provider):
    with ferry.Cluster(provider, nodes=2, seed=6) as cluster:
        m = Migration(cluster, 1, 1)
        m.begin(7, [1, 2], [3, 4])
        m.senders[0].layer_ready(7, 0)
        m.receivers[0].cancel(7)
        receive = m.receivers[0].finished(7).wait(TIMEOUT)
        assert receive["cancelled"] and not receive["ok"], receive
        send = m.senders[0].finished(7).wait(TIMEOUT)
        assert not send["ok"] and send["cancelled"], send
        # A stopped request takes no more layers, and says so.
        with pytest.raises(ferry.FerryError):
            m.senders[0].layer_ready(7, 1)
        # Nothing of the request landed outside its blocks.
        pool = m.decode_pools[0].reshape(m.decode.layers, 2, m.decode.num_blocks, -1)
        assert not np.delete(pool, [3, 4], axis=2).any()


def test_cancel_by_prefill_rank_fails_waits(provider):
    with ferry.Cluster(provider, nodes=2, seed=8) as cluster:
        m = Migration(cluster, 1, 1)
        m.begin(9, [0], [0])
        waiting = m.receivers[0].all(9)
        m.senders[0].cancel(9)
        with pytest.raises(ferry.FerryError):
            waiting.wait(TIMEOUT)
        assert m.senders[0].finished(9).wait(TIMEOUT)["cancelled"]
        assert m.receivers[0].finished(9).wait(TIMEOUT)["cancelled"]


def test_async_layers(provider):
    import asyncio

    with ferry.Cluster(provider, nodes=3, seed=9) as cluster:
        m = Migration(cluster, 2, 1)
        prefill_blocks, decode_blocks = [1, 2, 3], [5, 6, 7]
        m.begin(1, prefill_blocks, decode_blocks)

        async def consume():
            for layer in range(m.prefill.layers):
                await m.receivers[0].layer(1, layer)
            return await m.receivers[0].finished(1)

        async def produce():
            for layer in range(m.prefill.layers):
                for s in m.senders:
                    s.layer_ready(1, layer)
                await asyncio.sleep(0)

        async def main():
            report, _ = await asyncio.gather(consume(), produce())
            return report

        report = asyncio.run(main())
        assert report["ok"] and report["blocks_reusable"]
        np.testing.assert_array_equal(m.decode_pools[0], m.expected(0, prefill_blocks, decode_blocks, range(3)))


def test_bad_kv_arguments(provider):
    with pytest.raises(ferry.FerryError):
        ferry.KvLayout(layers=0, block_tokens=4, kv_heads=4, head_dim=8, dtype_bytes=4, num_blocks=8)
    with ferry.Cluster(provider, nodes=2) as cluster:
        m = Migration(cluster, 1, 1)
        with pytest.raises(ferry.FerryError):
            m.receivers[0].begin(1, [0, 99], [0, 1])  # block 99 of a 16-block pool
        with pytest.raises(ferry.FerryError):
            m.receivers[0].begin(1, [0, 1], [0])  # tables of different lengths
        with pytest.raises(ferry.InvalidArgument, match="integer"):
            m.receivers[0].begin(1, np.array([0.5]), [0])
        with pytest.raises(ferry.FerryError):
            m.senders[0].layer_ready(12345, 0)  # never begun
        small = np.zeros(16, np.uint32)
        small_mem = cluster.engine(0).register_memory(small)
        with pytest.raises(ferry.InvalidArgument, match="pool"):
            ferry.KvSender(cluster.engine(0), prefill=m.prefill, rank=0, pool=small_mem, decode=m.decode,
                           decode_ranks=[(1, m.decode_mems[0].descriptor)])
        with pytest.raises(ferry.InvalidArgument, match="decode_ranks"):
            ferry.KvSender(cluster.engine(0), prefill=m.prefill, rank=0, pool=m.mems[0], decode=m.decode,
                           decode_ranks=[1])
        # Still works after the refusals.
        m.begin(2, [4], [8])
        for layer in range(m.prefill.layers):
            m.senders[0].layer_ready(2, layer)
        m.receivers[0].all(2).wait(TIMEOUT)
        np.testing.assert_array_equal(m.decode_pools[0], m.expected(0, [4], [8], range(3)))
