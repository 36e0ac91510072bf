"""A remote object read once, in order, in bounded memory: what validators read an S3 object through.

:class:`RemoteObject` fetches the object in blocks of ``block_bytes`` with ranged reads, in order,
on one fetch thread, and feeds every block to a sha256 as it arrives, so each byte crosses the
network once and the object's digest comes for free. Readers open seekable handles
(:meth:`RemoteObject.open`, ``io.RawIOBase``) that pyarrow, zipfile or a text reader use as a
file:

* a read inside the window is served from the fetched blocks, waiting for the fetch thread when
  it is ahead of it; the fetch thread stays at most ``ahead`` blocks past the furthest block a
  reader asked for, and blocks more than one block behind the latest read are dropped — memory is
  ``(ahead + 2) × block_bytes`` plus the largest single read (a Parquet row group when pre-buffered);
* an object of at most two blocks is fetched as one block (one request; memory as for two);
* a read inside one block is a view of it, not a copy (:meth:`RemoteObject.read_view`, the
  handle's ``read_buffer``, which pyarrow's file wrapper prefers to ``read``): the block lives as
  long as the reader holds the view — pyarrow holds a row group's column chunks while it decodes
  them, so memory stays within the row group plus the window; ``read`` still returns ``bytes``;
* a read outside the window (the footer at the end, a look back at a dropped block) is a direct
  ranged read; the object's last ``TAIL_BYTES`` are fetched once and kept, since container
  formats read their footer more than once;
* :meth:`RemoteObject.sha256` finishes the pass (fetching, hashing and dropping what nobody read)
  and returns the digest.

A storage failure on any read is kept as :attr:`RemoteObject.failure` (already mapped by
:func:`~.storage.storage_error`) and raised to the reader as ``OSError``; the validation turns
that into the error, never into a finding about the data.
"""

from __future__ import annotations

import hashlib
import io
import threading
from typing import Any

from dataproduct_mcp.errors import DpError
from dataproduct_mcp.sources.storage import storage_error

__all__ = ["TAIL_BYTES", "RemoteObject"]

TAIL_BYTES = 1 << 20
_WAIT_S = 0.5


class RemoteObject:
    """One object of a listing, opened for one validation (see the module docstring)."""

    def __init__(self, fs: Any, path: str, size: int, uri: str, *, block_bytes: int = 8 << 20, ahead: int = 2) -> None:
        self.path = path
        self.size = size
        self.uri = uri
        block = max(64 * 1024, block_bytes)
        # An object of at most two blocks is one block: one request instead of two (servers such
        # as moto copy the whole object per ranged GET), within the same memory bound.
        self.block_bytes = max(block, size) if size <= 2 * block else block
        self.ahead = max(1, ahead)
        self.failure: DpError | None = None
        self.requests = 0
        self._fs = fs
        self._file: Any = None
        self._hasher = hashlib.sha256()
        self._blocks: dict[int, bytes] = {}
        self._next = 0  # next block the fetch thread fetches (and hashes)
        self._want = 0  # furthest block a reader asked for
        self._low = 0  # blocks below this are dropped
        self._finishing = False
        self._closed = False
        self._tail: bytes | None = None
        self._tail_start = max(0, size - TAIL_BYTES)
        self._cond = threading.Condition()
        self._file_lock = threading.Lock()
        self._thread = threading.Thread(target=self._fetch_all, name="dpmcp-remote-fetch", daemon=True)
        self._thread.start()

    @property
    def blocks(self) -> int:
        return (self.size + self.block_bytes - 1) // self.block_bytes

    # -- raw ranged reads ------------------------------------------------------------------------
    def _read_at(self, offset: int, length: int) -> bytes:
        try:
            with self._file_lock:
                if self._file is None:
                    self._file = self._fs.open_input_file(self.path)
                    self.requests += 1
            self.requests += 1
            data: bytes = self._file.read_at(length, offset)
        except Exception as exc:  # pyarrow raises OSError and subclasses; kept mapped, re-raised as OSError
            self._fail(exc)
            raise OSError(f"reading {self.uri} failed") from exc
        if len(data) != length:
            self._fail(FileNotFoundError(self.uri))
            raise OSError(f"{self.uri} changed while it was read (short read)")
        return data

    def _fail(self, exc: BaseException) -> None:
        with self._cond:
            if self.failure is None:
                self.failure = storage_error(exc, self.uri)
            self._cond.notify_all()

    def _fetch_range(self, offset: int, length: int) -> bytes:
        """Bytes of the object, from the kept tail where they lie in it."""
        end = offset + length
        if self._tail is not None and end > self._tail_start:
            cut = max(offset, self._tail_start)
            head = self._read_at(offset, cut - offset) if cut > offset else b""
            return head + self._tail[cut - self._tail_start : end - self._tail_start]
        return self._read_at(offset, length)

    # -- the fetch thread ------------------------------------------------------------------------
    def _fetch_all(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._closed and not self._finishing and self._next > self._want + self.ahead:
                        self._cond.wait(_WAIT_S)
                    if self._closed or self._next >= self.blocks:
                        return
                    index = self._next
                offset = index * self.block_bytes
                data = self._fetch_range(offset, min(self.block_bytes, self.size - offset))
                self._hasher.update(data)
                with self._cond:
                    if index >= self._low and not self._finishing:
                        self._blocks[index] = data
                    self._next = index + 1
                    self._cond.notify_all()
        except OSError:
            return  # self.failure is set; waiting readers see it

    # -- reads from handles ----------------------------------------------------------------------
    def read_range(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (fewer at the end of the object)."""
        return bytes(self.read_view(offset, length))

    def read_view(self, offset: int, length: int) -> bytes | memoryview:
        """:meth:`read_range` without a copy where the range lies in one fetched block: a
        read-only view of it (which keeps that block alive while the caller holds it)."""
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        first, last = offset // self.block_bytes, (offset + length - 1) // self.block_bytes
        with self._cond:
            if self.failure is not None:
                raise OSError(f"reading {self.uri} failed")
            in_window = first >= self._low and (first < self._next or first <= self._want + self.ahead)
            if in_window and not self._finishing:
                self._want = max(self._want, last)
                self._cond.notify_all()
        if not in_window:
            return self._direct(offset, length)
        parts = []
        for index in range(first, last + 1):
            block = self._block(index)
            if block is None:  # dropped meanwhile (another reader moved on): read it directly
                start = max(offset, index * self.block_bytes)
                stop = min(offset + length, (index + 1) * self.block_bytes)
                parts.append(self._direct(start, stop - start))
                continue
            base = index * self.block_bytes
            parts.append(memoryview(block)[max(0, offset - base) : min(len(block), offset + length - base)])
        with self._cond:
            low = max(self._low, first - 1)
            for index in [i for i in self._blocks if i < low]:
                del self._blocks[index]
            self._low = low
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _block(self, index: int) -> bytes | None:
        with self._cond:
            while index >= self._next and self.failure is None and not self._closed:
                self._cond.wait(_WAIT_S)
            if self.failure is not None:
                raise OSError(f"reading {self.uri} failed")
            return self._blocks.get(index)

    def _direct(self, offset: int, length: int) -> bytes | memoryview:
        if offset >= self._tail_start:
            if self._tail is None:
                self._tail = self._read_at(self._tail_start, self.size - self._tail_start)
            return memoryview(self._tail)[offset - self._tail_start : offset - self._tail_start + length]
        return self._fetch_range(offset, length)

    # -- life ------------------------------------------------------------------------------------
    def open(self) -> _Handle:
        return _Handle(self)

    def sha256(self) -> str:
        """Finish the pass and return the object's digest (raises the mapped failure, if any)."""
        with self._cond:
            self._finishing = True
            self._blocks.clear()
            self._cond.notify_all()
        self._thread.join()
        if self.failure is not None:
            raise self.failure
        return self._hasher.hexdigest()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._blocks.clear()
            self._cond.notify_all()
        self._thread.join()
        with self._file_lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> RemoteObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Handle(io.RawIOBase):
    """A seekable, read-only view of a :class:`RemoteObject` with its own position."""

    def __init__(self, obj: RemoteObject) -> None:
        super().__init__()
        self._obj = obj
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._obj.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def size(self) -> int:
        return self._obj.size

    def read(self, n: int | None = -1) -> bytes:
        return bytes(self.read_buffer(n))

    def read_buffer(self, n: int | None = -1) -> bytes | memoryview:
        """:meth:`read` without a copy where it can (:meth:`RemoteObject.read_view`): pyarrow's
        file wrapper calls it instead of ``read`` and keeps the view as the buffer it decodes."""
        if n is None or n < 0:
            n = self._obj.size - self._pos
        data = self._obj.read_view(self._pos, n)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read_buffer(len(view))
        view[: len(data)] = data
        return len(data)

    def pread(self, n: int, offset: int) -> bytes:
        return self._obj.read_range(offset, n)
