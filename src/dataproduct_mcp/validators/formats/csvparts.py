"""Where the CSV validator's parts end: whole lines, never more than the line bound.

``CsvValidator._parallel_pass`` (:mod:`.csv`) parses the parts a :class:`PartReader` hands out
ahead on worker threads and takes them in order while they are clean; the sequential loop cuts its
parts with :func:`cut_after_newline` and finds overlong lines with :func:`long_line_start`.
"""

from __future__ import annotations

from dataproduct_mcp.validators.textio import TextChunks

__all__ = ["PartReader", "cut_after_newline", "long_line_start"]


class PartReader:
    """Whole-line parts of the text stream for the parallel pass, about ``size`` bytes each.

    The first parts are slices of the data already read (no copy); then each part is read into
    a buffer of its own, behind the few bytes of an unfinished line carried over from the last
    one, and buffers come back through :meth:`recycle` once their part is validated: on these
    machines touching fresh memory costs more than parsing it. :meth:`next` returns None at the
    end of the data and when a line is longer than a part or ``limit`` (the sequential loop
    handles those); :meth:`rest` is what has been read but not handed out.
    """

    def __init__(self, chunks: TextChunks, pending: tuple[bytes, int], eof: bool, size: int, limit: int) -> None:
        self.chunks = chunks
        self.size = size
        self.limit = limit
        self.eof = eof
        self.owner: bytes | bytearray = pending[0]
        self._first = pending[0]
        self.start = pending[1]
        self.end = len(pending[0])
        self.stuck = False
        self._free: list[bytearray] = []
        self._lent: dict[int, int] = {}  # id(buffer) -> parts of it not yet recycled
        self._capacity = size + size // 4  # room for a carried-over line in front of a read

    def next(self) -> tuple[bytes | bytearray, memoryview] | None:
        while not self.stuck:
            avail = self.end - self.start
            # the data read before the pass is cut as it is; later reads are sized to one part
            if avail and (avail >= self.size or self.eof or self.owner is self._first):
                cut = self._cut()
                if cut - self.start > self.limit:
                    self.stuck = True
                elif cut:
                    part = memoryview(self.owner)[self.start : cut]
                    self.start = cut
                    self._lent[id(self.owner)] = self._lent.get(id(self.owner), 0) + 1
                    return self.owner, part
            if self.stuck or self.eof:
                break
            self._read()
        return None

    def _cut(self) -> int:
        """End of the next part: after the last newline within ``size`` bytes (or the first one
        after them); the end of the data at the end of the file; 0 if more must be read."""
        if self.eof and self.end - self.start <= self.size:
            return self.end
        hi = min(self.start + self.size, self.end)
        cut = self.owner.rfind(b"\n", self.start, hi) + 1 or self.owner.find(b"\n", hi, self.end) + 1
        return cut or (self.end if self.eof else 0)

    def _read(self) -> None:
        carried = self.end - self.start
        if carried > self.limit:
            self.stuck = True
            return
        want = carried + max(self.size - carried, self.size // 4)  # about one part, whatever was carried
        buf = self._free.pop() if self._free and want <= self._capacity else bytearray(max(want, self._capacity))
        with memoryview(buf) as view, memoryview(self.owner) as old:
            view[:carried] = old[self.start : self.end]
            n = self.chunks.readinto(view[carried:want])
        self.eof = n == 0
        self.owner, self.start, self.end = buf, 0, carried + n

    def recycle(self, owner: bytes | bytearray, part: memoryview) -> None:
        """``part`` of ``owner`` is done with: its buffer can take a later read."""
        part.release()
        left = self._lent.pop(id(owner)) - 1
        if left:
            self._lent[id(owner)] = left
        elif isinstance(owner, bytearray) and owner is not self.owner and len(owner) == self._capacity:
            self._free.append(owner)

    def rest(self) -> bytes:
        return bytes(memoryview(self.owner)[self.start : self.end])


def cut_after_newline(buf: bytearray, end: int, step: int, eof: bool, at_least: int = 0) -> int:
    """Where the next part ends: after the last newline within ``step`` bytes (or the first
    one after that), and beyond ``at_least`` (the start of a record that ran past the previous
    part); the end of the data at the end of the file; 0 if more must be read first."""
    if eof and end <= max(step, at_least):
        return end
    hi = min(end, step)
    cut = buf.rfind(b"\n", at_least, hi) + 1 if hi > at_least else 0
    if cut == 0:
        cut = buf.find(b"\n", max(at_least, hi), end) + 1
    return end if cut == 0 and eof else cut


def long_line_start(buf: bytearray, cut: int, limit: int) -> int | None:
    """Start of the first line of ``buf[:cut]`` longer than ``limit`` bytes, if any."""
    pos = 0
    while pos < cut:
        line_end = buf.find(b"\n", pos, cut) + 1 or cut
        if line_end - pos > limit:
            return pos
        pos = line_end
    return None
