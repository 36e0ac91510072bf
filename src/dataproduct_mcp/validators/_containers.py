"""Concurrency helpers for the binary container validators (Parquet, Arrow IPC).

Their readers need the file by path (random access), so the sha256 cannot ride on the reads as
it does for text formats. :class:`BackgroundHash` reads the file once through the hashing
:meth:`Source.open` stream on a worker thread while the reader decodes, and :func:`prefetch`
decodes the next batch on another thread while the caller checks the current one. hashlib,
pyarrow decoding and Arrow's full validation all release the GIL, so on two cores the checks
cost little wall time over decoding alone (see ``docs/benchmarks.md``). Both helpers bound
memory (one 1 MiB hash buffer; ``depth`` batches in flight) and stop their thread on exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TypeVar

from dataproduct_mcp.validators.base import Cancelled, Source

__all__ = ["BackgroundHash", "prefetch"]

T = TypeVar("T")

HASH_CHUNK = 1 << 20
_POLL_S = 0.05


class BackgroundHash:
    """``with BackgroundHash(source):`` hashes the whole file on a thread, done on exit.

    On a normal exit (or any error but cancellation) it waits for the hash to finish, so the
    report's sha256 is always of the whole file; on :class:`Cancelled` it stops at once.
    If the file cannot be read, ``source.hashed`` is reset so the caller hashes (and fails) itself.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dpmcp-sha256", daemon=True)

    def _run(self) -> None:
        try:
            with self.source.open() as stream:
                while not self._stop.is_set() and stream.read(HASH_CHUNK):
                    pass
        except OSError:
            self.source.hashed = False

    def __enter__(self) -> BackgroundHash:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, Cancelled):
            self._stop.set()
            self.source.hashed = False
        self._thread.join()


_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


@contextmanager
def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[Iterator[T]]:
    """Iterate ``items`` on a worker thread, at most ``depth`` items ahead of the consumer.

    An exception raised by ``items`` is re-raised in the consumer. Leaving the ``with`` block
    (normally, by an exception, or after a partial iteration) stops and joins the worker.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(_END)

    worker = threading.Thread(target=produce, name="dpmcp-prefetch", daemon=True)

    def consume() -> Iterator[T]:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]

    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        worker.join()
