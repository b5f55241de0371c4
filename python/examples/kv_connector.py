"""How an inference server's KV connector sits on ferry's KV pair.

vLLM's disaggregated prefill (a KVConnector: save_kv_layer / wait_for_save on the
prefill side, start_load_kv / wait_for_layer_load on the decode side) and SGLang's
disaggregation backends (a KVSender and a KVReceiver per request) both come down to:
the decode instance allocates blocks and tells prefill where they are; prefill pushes
each layer as attention finishes it; decode starts a layer's attention once it landed.
ferry's KvSender/KvReceiver do exactly that, with both sides' block tables and TP
degrees (heads re-shard on the way). This file is runnable: it plays both instances
over the emulator and checks what arrived. kv_disaggregated.py runs the same
connectors with prefill and decode in processes of their own.

    PYTHONPATH=python:bazel-bin/python /usr/bin/python3 python/examples/kv_connector.py
"""

import numpy as np

import ferry

TIMEOUT = 30.0


class PrefillConnector:
    """The prefill instance's side, one per TP rank (vLLM: the worker's connector)."""

    def __init__(self, engine, layout, rank, kv_pool, decode_layout, decode_pools):
        self.memory = engine.register_memory(kv_pool)  # the paged KV cache, registered once
        self.sender = ferry.KvSender(engine, prefill=layout, rank=rank, pool=self.memory,
                                     decode=decode_layout, decode_ranks=decode_pools)
        self.active = set()

    def start_request(self, request_id, prefill_blocks, decode_blocks):
        """The scheduler matched the request with a decode instance, which sent its blocks."""
        self.sender.begin(request_id, prefill_blocks, decode_blocks)
        self.active.add(request_id)

    def save_kv_layer(self, layer):
        """Called after each attention layer's forward: push that layer of every request."""
        for request_id in self.active:
            self.sender.layer_ready(request_id, layer)

    def wait_for_save(self):
        """End of the forward pass: the blocks may be freed once every write landed."""
        reports = [self.sender.finished(r).wait(TIMEOUT) for r in sorted(self.active)]
        self.active.clear()
        return reports


class DecodeConnector:
    """The decode instance's side, one per TP rank."""

    def __init__(self, engine, layout, rank, kv_pool, prefill_layout, prefill_engines):
        self.memory = engine.register_memory(kv_pool)
        self.receiver = ferry.KvReceiver(engine, prefill=prefill_layout, decode=layout, rank=rank,
                                         prefill_ranks=prefill_engines)

    @property
    def descriptor(self):
        """What the prefill instance needs to write here (sent once, out of band)."""
        return self.memory.descriptor

    def start_load_kv(self, request_id, prefill_blocks, decode_blocks):
        """Before the request's first decode step: follow its layers as they land."""
        self.receiver.begin(request_id, prefill_blocks, decode_blocks)

    def wait_for_layer_load(self, request_id, layer):
        """Before attention of `layer`: its KV must be in place (raises if it never will be)."""
        self.receiver.layer(request_id, layer).wait(TIMEOUT)

    def get_finished(self, request_id):
        """Whether the request's blocks may be reused (False: a prefill rank went silent)."""
        return self.receiver.finished(request_id).wait(TIMEOUT)["blocks_reusable"]


# Prefill at TP 2, decode at TP 1: the KV heads re-shard on the way.
MODEL = dict(layers=4, block_tokens=16, kv_heads=8, head_dim=64, dtype_bytes=2)
PREFILL_LAYOUT = ferry.KvLayout(**MODEL, num_blocks=32, tp=2)
DECODE_LAYOUT = ferry.KvLayout(**MODEL, num_blocks=64, tp=1)


def prefill_pool(rank):
    """Prefill rank `rank`'s KV cache, as its forward pass would have filled it."""
    rng = np.random.default_rng(rank)
    return rng.integers(0, 1 << 16, PREFILL_LAYOUT.pool_bytes // 2, dtype=np.uint16)


def check_migrated(decode_pool, prefill_blocks, decode_blocks):
    """Every token's heads landed in the decode block, heads 0-3 from rank 0 and 4-7 from rank 1."""
    shape = lambda lay: (lay.layers, 2, lay.num_blocks, lay.block_tokens, lay.heads_per_rank, lay.head_dim)
    got = decode_pool.reshape(shape(DECODE_LAYOUT))
    per_rank = PREFILL_LAYOUT.heads_per_rank
    for rank in range(PREFILL_LAYOUT.tp):
        sent = prefill_pool(rank).reshape(shape(PREFILL_LAYOUT))
        np.testing.assert_array_equal(got[:, :, decode_blocks, :, rank * per_rank:(rank + 1) * per_rank],
                                      sent[:, :, prefill_blocks])


def main():
    # Prefill ranks on nodes 0 and 1, decode on node 2, all on the emulator in this
    # process (kv_disaggregated.py runs each in a process of its own).
    with ferry.Cluster("emu", nodes=3) as cluster:
        prefill_pools = [prefill_pool(r) for r in range(2)]
        decode_pool = np.zeros(DECODE_LAYOUT.pool_bytes // 2, np.uint16)
        decode = DecodeConnector(cluster.engine(2), DECODE_LAYOUT, 0, decode_pool, PREFILL_LAYOUT, [0, 1])
        prefills = [PrefillConnector(cluster.engine(r), PREFILL_LAYOUT, r, prefill_pools[r], DECODE_LAYOUT,
                                     [(2, decode.descriptor)]) for r in range(2)]

        request, prefill_blocks, decode_blocks = 1, [5, 9, 2], [40, 3, 17]
        decode.start_load_kv(request, prefill_blocks, decode_blocks)
        for p in prefills:
            p.start_request(request, prefill_blocks, decode_blocks)
        for layer in range(MODEL["layers"]):  # the prefill forward pass
            for p in prefills:
                p.save_kv_layer(layer)
            decode.wait_for_layer_load(request, layer)  # decode may start this layer now
        assert all(r["ok"] for p in prefills for r in p.wait_for_save())
        assert decode.get_finished(request)
        check_migrated(decode_pool, prefill_blocks, decode_blocks)
        print("request %d: %d layers of %d blocks migrated, TP 2 -> TP 1" % (request, MODEL["layers"], len(decode_blocks)))


if __name__ == "__main__":
    main()
