"""Across processes: each rank's engine in a process of its own, over tcp on 127.0.0.1,
the processes finding each other through a file:// directory in a temporary folder.
Every byte is checked on the receiving side; every child is bounded (processes.run)."""

import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest

import ferry
from conftest import pattern
from processes import run
from test_kv import element_values, layout

TIMEOUT = 30.0
NBYTES = (4 << 20) + 13  # several pieces and an odd tail


def node(directory, rank, nodes=2, **kw):
    return ferry.Cluster("tcp", nodes=nodes, node=rank, directory=directory, cluster="test", **kw)


# --- a raw write and a write-with-immediate, rank 0 -> rank 1 ---------------------------

def _writer(directory):
    with node(directory, 0) as c:
        src = pattern(NBYTES, 11)
        e = c.engine(0)
        keep = e.register_memory(src)
        remote = e.import_region(1, c.lookup("dst", TIMEOUT))
        e.write(1, src, remote, offset=1).wait(TIMEOUT)
        # The immediate lands after the bytes it follows: tag 7 says both writes are in.
        e.write_with_imm(1, src, remote, tag=7, index=3, offset=NBYTES + 2, nbytes=4096).wait(TIMEOUT)
        # Up until the peer has read everything: its notification says so. (Not through the
        # directory: a process's entries go with it, perhaps before this one looks.)
        e.expect(1, 8, 1).wait(TIMEOUT)
        keep.deregister()


def _reader(directory):
    with node(directory, 1) as c:
        dst = np.full(2 * NBYTES + 8, 0xEE, np.uint8)
        e = c.engine(1)
        mem = e.register_memory(dst)
        c.publish("dst", mem.descriptor)
        e.expect(0, 7, 1).wait(TIMEOUT)
        src = pattern(NBYTES, 11)
        np.testing.assert_array_equal(dst[1:1 + NBYTES], src)
        np.testing.assert_array_equal(dst[NBYTES + 2:NBYTES + 2 + 4096], src[:4096])
        assert dst[0] == 0xEE and (dst[NBYTES + 1:NBYTES + 2] == 0xEE).all() and (dst[NBYTES + 2 + 4096:] == 0xEE).all()
        assert e.stats()["peers"]["rank0"]["bytes"] == 0  # nothing went the other way
        e.notify(0, 8).wait(TIMEOUT)


def test_write_and_write_with_imm_across_processes(tmp_path):
    url = "file://" + str(tmp_path)
    run([(_writer, (url,)), (_reader, (url,))], timeout=60)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def etcd(tmp_path):
    """A real etcd (Debian's etcd-server, tools/install-deps.sh) on free loopback ports:
    the directory across hosts. Its URL, once it answers."""
    client, peer = ["http://127.0.0.1:%d" % _free_port() for _ in range(2)]
    proc = subprocess.Popen(["/usr/bin/etcd", "--data-dir", str(tmp_path / "etcd"), "--name", "n0",
                             "--listen-client-urls", client, "--advertise-client-urls", client,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", "n0=" + peer],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(client + "/health", timeout=1).read()
                break
            except OSError:
                assert proc.poll() is None, "etcd exited with %d" % proc.returncode
                assert time.monotonic() < deadline, "etcd did not answer within 20 s"
                time.sleep(0.05)
        yield "etcd://" + client[len("http://"):]
    finally:
        proc.kill()
        proc.wait()


def test_write_and_write_with_imm_over_etcd(etcd):
    run([(_writer, (etcd,)), (_reader, (etcd,))], timeout=60)


# --- KV migration: prefill TP 2 (two processes) -> decode TP 1 (a third) ------------------

PREFILL_BLOCKS, DECODE_BLOCKS = [5, 9, 2, 14], [20, 3, 17, 0]


def _prefill(directory, rank):
    with node(directory, rank, nodes=3) as c:
        prefill, decode = layout(2, 16), layout(1, 24)
        pool = element_values(prefill, rank).ravel()
        e = c.engine(rank)
        mem = e.register_memory(pool)
        sender = ferry.KvSender(e, prefill=prefill, rank=rank, pool=mem, decode=decode,
                                decode_ranks=[(2, c.lookup("decode/pool", TIMEOUT))])
        c.lookup("decode/begun/1", TIMEOUT)  # the decode side follows the request first
        sender.begin(1, PREFILL_BLOCKS, DECODE_BLOCKS)
        for layer in range(prefill.layers):  # as the forward pass finishes each layer
            sender.layer_ready(1, layer)
        report = sender.finished(1).wait(TIMEOUT)
        assert report["ok"], report
        assert report["bytes"] == prefill.layers * 2 * len(PREFILL_BLOCKS) * prefill.block_bytes
        e.expect(2, 8, 1).wait(TIMEOUT)  # the decode side checked every byte


def _decode(directory):
    with node(directory, 2, nodes=3) as c:
        prefill, decode = layout(2, 16), layout(1, 24)
        pool = np.zeros(decode.pool_bytes // 4, np.uint32)
        e = c.engine(2)
        mem = e.register_memory(pool)
        receiver = ferry.KvReceiver(e, prefill=prefill, decode=decode, rank=0, prefill_ranks=[0, 1])
        receiver.begin(1, PREFILL_BLOCKS, DECODE_BLOCKS)
        c.publish("decode/pool", mem.descriptor)
        c.publish("decode/begun/1", b"")
        shape = (decode.layers, 2, decode.num_blocks, decode.block_tokens, decode.heads_per_rank, decode.head_dim)
        got = pool.reshape(shape)
        full = np.concatenate([element_values(prefill, r) for r in range(2)], axis=4)  # every head
        want = np.zeros(shape, np.uint32)
        for layer in range(decode.layers):
            receiver.layer(1, layer).wait(TIMEOUT)  # attention of this layer may start now
            want[layer, :, DECODE_BLOCKS] = full[layer, :, PREFILL_BLOCKS]
            np.testing.assert_array_equal(got[layer], want[layer])
        report = receiver.finished(1).wait(TIMEOUT)
        assert report["ok"] and report["blocks_reusable"], report
        np.testing.assert_array_equal(got, want)  # and nothing else was touched
        ferry.wait_all([e.notify(r, 8) for r in range(2)], TIMEOUT)


def test_kv_migration_across_processes(tmp_path):
    url = "file://" + str(tmp_path)
    run([(_prefill, (url, 0)), (_prefill, (url, 1)), (_decode, (url,))], timeout=90)


# --- bad input: clear errors, within their bounds -------------------------------------

def test_malformed_directory_urls(tmp_path):
    for url in ["ftp://somewhere", "file://relative/path", "etcd://", "etcd://host:1/x", ""]:
        with pytest.raises(ferry.InvalidArgument, match="directory URL"):
            node(url, 0)


def test_directory_that_does_not_answer():
    start = time.monotonic()
    with pytest.raises(ferry.Unavailable, match="etcd://127.0.0.1"):
        node("etcd://127.0.0.1:%d" % _free_port(), 0)
    assert time.monotonic() - start < 5  # one request's timeout


def test_rank_and_arguments_out_of_range(tmp_path):
    url = "file://" + str(tmp_path)
    with pytest.raises(ferry.OutOfRange, match="node 2 of a cluster of 2"):
        node(url, 2)
    with pytest.raises(ferry.OutOfRange):
        node(url, -1)
    with pytest.raises(ferry.InvalidArgument, match="needs node="):
        ferry.Cluster("tcp", nodes=2, directory=url)
    with pytest.raises(ferry.InvalidArgument, match="needs directory="):
        ferry.Cluster("tcp", nodes=2, node=0)
    with pytest.raises(ferry.InvalidArgument, match="across processes use 'tcp' or 'verbs'"):
        ferry.Cluster("emu", nodes=2, node=0, directory=url)
    with node(url, 0) as c:
        assert c.node == 0 and len(c) == 2 and [e.name for e in c.engines] == ["rank0"]
        with pytest.raises(ferry.FailedPrecondition, match="rank1 runs in another process"):
            c.engine(1)
        with pytest.raises(ferry.OutOfRange):
            c.engine(2)
        with pytest.raises(ferry.NotFound):
            c.engine(0).notify(5, 1)
        with pytest.raises(ferry.FailedPrecondition, match="every rank in this process"):
            ferry.Communicator(c)
        dst = np.zeros(64, np.uint8)
        with c.engine(0).register_memory(dst):
            with pytest.raises(ferry.Unsupported, match="no one-sided read"):
                c.engine(0).read(1, dst, b"not used")


def test_peer_that_never_appears_fails_in_bounded_time(tmp_path):
    with node("file://" + str(tmp_path), 0, transfer_timeout=0.5) as c:
        e = c.engine(0)
        start = time.monotonic()
        with pytest.raises(ferry.DeadlineExceeded, match="rank1 did not appear"):
            c.wait_for_peer(1, timeout=0.3)
        with pytest.raises(ferry.DeadlineExceeded, match="nobody published 'pool'"):
            c.lookup("pool", timeout=0.3)
        # Transfers to it fail by their deadline (transfer_timeout), naming it.
        with pytest.raises(ferry.DeadlineExceeded, match="rank1"):
            e.notify(1, 3).wait(5)
        with pytest.raises(ferry.DeadlineExceeded, match="rank1"):
            e.expect(1, 3, 1).wait(5)
        assert time.monotonic() - start < 4


def _holds_rank0(directory, ready, stop):
    with node(directory, 0):
        ready.set()
        stop.wait(TIMEOUT)


def test_rank_claimed_twice_is_refused(tmp_path):
    import multiprocessing
    url = "file://" + str(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_holds_rank0, args=(url, ready, stop))
    holder.start()
    try:
        assert ready.wait(TIMEOUT), "the first process never opened rank 0"
        with pytest.raises(ferry.FailedPrecondition, match="rank0"):
            node(url, 0)
    finally:
        stop.set()
        holder.join(TIMEOUT)
        if holder.is_alive():
            holder.kill()
            holder.join()
    assert holder.exitcode == 0
