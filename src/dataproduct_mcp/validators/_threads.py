"""Concurrency helpers for the validators: the work that releases the GIL runs on threads.

hashlib, pyarrow's parsers and decoders and Arrow's full validation all release the GIL, so on
two cores the checks cost little wall time over parsing alone (see ``docs/benchmarks.md``).

* :class:`BackgroundHash` reads the file once through the hashing :meth:`Source.open` stream on
  a worker thread while the validator parses (the sha256 never rides on the parser's reads:
  readers of containers need random access, and text readers may stop early).
* :func:`prefetch` decodes the next batch on another thread while the caller checks this one.
* :class:`OrderedPool` runs one function over a sequence of parts on several threads and hands
  the results back in order (CSV parts are parsed this way, see :mod:`.csv`).

Every helper bounds memory (one 1 MiB hash buffer; ``depth`` items in flight) and stops and
joins its threads on exit, whatever the exit.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from types import TracebackType
from typing import Generic, TypeVar

from dataproduct_mcp.validators.base import Cancelled, Source

__all__ = ["BackgroundHash", "OrderedPool", "available_cores", "prefetch"]

T = TypeVar("T")
R = TypeVar("R")

HASH_CHUNK = 1 << 20
_POLL_S = 0.05


class BackgroundHash:
    """``with BackgroundHash(source):`` hashes the whole file on a thread, done on exit.

    On a normal exit (or any error but cancellation) it waits for the hash to finish, so the
    report's sha256 is always of the whole file; on :class:`Cancelled` it stops at once.
    If the file cannot be read, ``source.hashed`` is reset so the caller hashes (and fails) itself.
    A source the caller already hashes (``source.sha256_ahead``) is not hashed a second time, nor is
    a remote source: it hashes what the validator reads.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dpmcp-sha256", daemon=True)

    def _run(self) -> None:
        buffer = memoryview(bytearray(HASH_CHUNK))  # one buffer, reused: fresh memory is dear here
        try:
            with self.source.open() as stream:
                while not self._stop.is_set() and stream.readinto(buffer):
                    pass
        except OSError:
            self.source.hashed = False

    def __enter__(self) -> BackgroundHash:
        if self.source.sha256_ahead is None and self.source.remote is None:  # else: hashed elsewhere
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, Cancelled):
            self._stop.set()
            self.source.hashed = False
        if self._thread.ident is not None:
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


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OrderedPool(Generic[T, R]):
    """``fn`` over items on ``workers`` threads; results come back in submission order.

    The caller submits while :attr:`full` is false and takes results with :meth:`next`, so at
    most ``depth`` items (default ``workers + 1``) are held at once. :meth:`drain` gives back the
    items not yet taken (running ones are waited for, queued ones cancelled), in order; leaving
    the ``with`` block drains and joins the threads. An exception raised by ``fn`` is re-raised
    by :meth:`next` for that item.
    """

    def __init__(self, fn: Callable[[T], R], workers: int, depth: int | None = None) -> None:
        self.fn = fn
        self.depth = depth or workers + 1
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dpmcp-parse")
        self._inflight: deque[tuple[T, Future[R]]] = deque()

    @property
    def full(self) -> bool:
        return len(self._inflight) >= self.depth

    def __len__(self) -> int:
        return len(self._inflight)

    def submit(self, item: T) -> None:
        self._inflight.append((item, self._pool.submit(self.fn, item)))

    def next(self) -> tuple[T, R]:
        """The oldest item and its result (waits for it)."""
        item, future = self._inflight.popleft()
        return item, future.result()

    def drain(self) -> list[T]:
        items = []
        while self._inflight:
            item, future = self._inflight.popleft()
            if not future.cancel():
                future.exception()  # wait: the item's buffer must not be in use when handed back
            items.append(item)
        return items

    def __enter__(self) -> OrderedPool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drain()
        self._pool.shutdown(wait=True)
