"""ferry's exceptions: every failure of the engine, a workload or a bad argument.

Each is a ``FerryError`` carrying ``.status`` (the engine's status name, e.g.
``"DEADLINE_EXCEEDED"``) and ``.message``. Where a built-in exception means the same, the
class derives from it too, so ``except ValueError`` or ``except TimeoutError`` also work.
"""


class FerryError(Exception):
    """A failure reported by ferry: ``.status`` names its kind, ``.message`` says what."""

    status = "INTERNAL"

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self):
        return "%s: %s" % (self.status, self.message)


class InvalidArgument(FerryError, ValueError):
    """The caller asked for something malformed (wrong dtype, non-contiguous or read-only array, ...)."""

    status = "INVALID_ARGUMENT"


class OutOfRange(FerryError, IndexError):
    """A size, index or address beyond a limit (a block index outside its memory, ...)."""

    status = "OUT_OF_RANGE"


class ResourceExhausted(FerryError):
    """A queue, table or pool is full."""

    status = "RESOURCE_EXHAUSTED"


class NotFound(FerryError, LookupError):
    """A name, key or peer that does not exist."""

    status = "NOT_FOUND"


class FailedPrecondition(FerryError):
    """The object is in a state that forbids the call (closed cluster, memory not registered or in use, ...)."""

    status = "FAILED_PRECONDITION"


class Unavailable(FerryError, ConnectionError):
    """The device, link or peer is gone."""

    status = "UNAVAILABLE"


class DeadlineExceeded(FerryError, TimeoutError):
    """A bounded wait ran out: a transfer's deadline, or Future.wait's timeout."""

    status = "DEADLINE_EXCEEDED"


class Unsupported(FerryError):
    """The device or provider cannot do this."""

    status = "UNSUPPORTED"


class Internal(FerryError):
    """An invariant did not hold: a bug in ferry."""

    status = "INTERNAL"


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgument, OutOfRange, ResourceExhausted, NotFound, FailedPrecondition,
    Unavailable, DeadlineExceeded, Unsupported, Internal)}


def _from_status(status, message):
    """The exception the native module raises for (status, message)."""
    return _BY_STATUS.get(status, FerryError)(message, status)
