"""Futures from asyncio, and waiting for several at once."""

import time

from . import _ferry
from .errors import DeadlineExceeded

# How long one asyncio step drives the cluster before yielding to the event loop.
_SLICE_S = 0.002


def _await(self, timeout=60.0):
    """``await fut``: drives the cluster in short slices, yielding to the event loop
    between them, so other coroutines run; raises DeadlineExceeded after 60 s."""
    deadline = time.monotonic() + timeout
    while not self._poll(_SLICE_S):
        if time.monotonic() >= deadline:
            raise DeadlineExceeded("%s: not done after %s s" % (self.what, timeout))
        yield  # a bare yield: asyncio runs the other ready callbacks, then steps us again
    return self.wait(0)


_ferry.Future.__await__ = _await


def wait_all(futures, timeout=60.0):
    """Waits for every future (at most `timeout` seconds in all); returns their values in
    order, or raises the first failure."""
    deadline = time.monotonic() + timeout
    return [f.wait(max(0.0, deadline - time.monotonic())) for f in futures]
