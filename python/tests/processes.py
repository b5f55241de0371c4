"""Running each side of a test in a process of its own.

Children are spawned (a fresh interpreter: no copy of this one's threads or engines) and
bounded: once one fails, or the time is up, the rest are killed, so no test hangs. A
child fails by raising; its traceback goes to stderr, which pytest shows."""

import multiprocessing
import multiprocessing.connection
import time


def run(sides, timeout=60.0):
    """Runs every (function, args) of `sides` in its own process; all must exit cleanly."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=fn, args=args, name="%s%r" % (fn.__name__, tuple(args)[:1]))
             for fn, args in sides]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    failed = []
    try:
        running = list(procs)
        while running and not failed:
            left = deadline - time.monotonic()
            if left <= 0:
                failed += ["%s did not finish within %.0f s" % (p.name, timeout) for p in running]
                break
            multiprocessing.connection.wait([p.sentinel for p in running], left)
            for p in [p for p in running if p.exitcode is not None]:
                running.remove(p)
                if p.exitcode != 0:
                    failed.append("%s exited with %d" % (p.name, p.exitcode))
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
    assert not failed, "; ".join(failed)
