"""Shared fixtures: every test runs on each virtual-time provider, one cluster at a time
(a process holds one ns-3 simulation)."""

import numpy as np
import pytest

import ferry

PROVIDERS = ["emu", "sim"]


@pytest.fixture(params=PROVIDERS)
def provider(request):
    return request.param


@pytest.fixture
def cluster(provider):
    with ferry.Cluster(provider, nodes=2, nic_gbps=100, seed=7) as c:
        yield c


@pytest.fixture
def cluster4(provider):
    with ferry.Cluster(provider, nodes=4, nic_gbps=[100, 100], seed=3) as c:
        yield c


def pattern(nbytes, seed):
    """Bytes no two tests (or offsets) share: a seeded random pattern."""
    return np.random.default_rng(seed).integers(0, 256, nbytes, dtype=np.uint8)


# Every case runs on every machine: a skipped one fails the session.
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and session.exitstatus == 0:
        print("\nskipped, which this suite never does: " + ", ".join(_skipped))
        session.exitstatus = 1
