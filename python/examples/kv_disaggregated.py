"""Prefill and decode in processes of their own: kv_connector.py's connectors across
processes, as a disaggregated deployment runs them.

Each process runs one node of one ferry cluster of three: prefill TP ranks 0 and 1 on
nodes 0 and 1, the decode instance on node 2. They find each other through a directory
(a folder they share here; etcd://HOST:PORT across hosts), where the decode side also
publishes its KV pool's descriptor and the request's block tables: what a real
scheduler would hand over. Over tcp on 127.0.0.1 here; provider "verbs" on RDMA hosts.

    # all three at once, with a temporary directory:
    PYTHONPATH=python:bazel-bin/python /usr/bin/python3 python/examples/kv_disaggregated.py
    # or one per terminal, in any order, sharing one directory:
    ... kv_disaggregated.py --node 2 --directory file:///tmp/kv   # decode
    ... kv_disaggregated.py --node 0 --directory file:///tmp/kv   # prefill rank 0
    ... kv_disaggregated.py --node 1 --directory file:///tmp/kv   # prefill rank 1
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ferry  # noqa: E402
from kv_connector import (DECODE_LAYOUT, MODEL, PREFILL_LAYOUT, TIMEOUT, DecodeConnector,  # noqa: E402
                          PrefillConnector, check_migrated, prefill_pool)

DECODE_NODE = 2
DONE_TAG = 1  # decode -> prefill: the request's KV is checked; the prefill side may go
REQUEST, PREFILL_BLOCKS, DECODE_BLOCKS = 1, [5, 9, 2], [40, 3, 17]


def run_decode(cluster):
    decode_pool = np.zeros(DECODE_LAYOUT.pool_bytes // 2, np.uint16)
    decode = DecodeConnector(cluster.engine(DECODE_NODE), DECODE_LAYOUT, 0, decode_pool, PREFILL_LAYOUT, [0, 1])
    decode.start_load_kv(REQUEST, PREFILL_BLOCKS, DECODE_BLOCKS)  # before any prefill rank sends
    # What the scheduler would tell the prefill instance: where to write, which blocks.
    cluster.publish("decode/0/pool", decode.descriptor)
    cluster.publish("request/%d" % REQUEST, json.dumps([PREFILL_BLOCKS, DECODE_BLOCKS]).encode())
    for layer in range(MODEL["layers"]):
        decode.wait_for_layer_load(REQUEST, layer)  # attention of this layer may start now
    assert decode.get_finished(REQUEST)
    check_migrated(decode_pool, PREFILL_BLOCKS, DECODE_BLOCKS)
    # The directory's entries go with this process: say "done" over the transport instead.
    engine = cluster.engine(DECODE_NODE)
    ferry.wait_all([engine.notify(r, DONE_TAG) for r in range(PREFILL_LAYOUT.tp)], TIMEOUT)
    print("request %d: %d layers of %d blocks migrated across processes, TP 2 -> TP 1"
          % (REQUEST, MODEL["layers"], len(DECODE_BLOCKS)))


def run_prefill(cluster, rank):
    pool = prefill_pool(rank)
    prefill = PrefillConnector(cluster.engine(rank), PREFILL_LAYOUT, rank, pool, DECODE_LAYOUT,
                               [(DECODE_NODE, cluster.lookup("decode/0/pool", TIMEOUT))])
    prefill_blocks, decode_blocks = json.loads(cluster.lookup("request/%d" % REQUEST, TIMEOUT))
    prefill.start_request(REQUEST, prefill_blocks, decode_blocks)
    for layer in range(MODEL["layers"]):  # the forward pass
        prefill.save_kv_layer(layer)
    assert all(r["ok"] for r in prefill.wait_for_save())
    cluster.engine(rank).expect(DECODE_NODE, DONE_TAG, 1).wait(TIMEOUT)


def run_node(node, directory, provider):
    with ferry.Cluster(provider, nodes=3, node=node, directory=directory, cluster="kv-example",
                       transfer_timeout=TIMEOUT) as cluster:
        if node == DECODE_NODE:
            run_decode(cluster)
        else:
            run_prefill(cluster, node)


def launch_all(provider, timeout=120):
    """Starts the three nodes as processes of their own; fails if any fails or overruns."""
    with tempfile.TemporaryDirectory() as folder:
        procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--node", str(n),
                                   "--directory", "file://" + folder, "--provider", provider])
                 for n in (DECODE_NODE, 0, 1)]
        failed = []
        try:
            for p in procs:
                try:
                    if p.wait(timeout) != 0:
                        failed.append("node %s exited with %d" % (p.args[3], p.returncode))
                except subprocess.TimeoutExpired:
                    failed.append("node %s did not finish within %d s" % (p.args[3], timeout))
                    break
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        if failed:
            sys.exit("; ".join(failed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", type=int, help="run this node only (0, 1: prefill; 2: decode)")
    parser.add_argument("--directory", help="file:///PATH or etcd://HOST:PORT (with --node)")
    parser.add_argument("--provider", default="tcp", help="tcp, or verbs on RDMA hosts")
    args = parser.parse_args()
    if args.node is None:
        launch_all(args.provider)
    else:
        run_node(args.node, args.directory, args.provider)


if __name__ == "__main__":
    main()
