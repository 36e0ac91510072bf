"""CSV (RFC 4180) validation at Arrow speed with exact finding locations.

The file is read in chunks of about 4 MiB cut after a newline (:mod:`.textio`). Each chunk
takes one of two paths:

* **fast** — Arrow's CSV parser converts the chunk to the column types (declared, or
  inferred from a sample of the first records) and :meth:`TableChecker.batch_is_clean`
  checks it with vectorised compute. Any trouble (a conversion or UTF-8 error, a ragged
  row, a blank row, a constraint that does not hold, a chunk cut inside a quoted value)
  makes the chunk *dirty*; the fast path never reports anything itself.
* **precise** — a dirty chunk is re-read with the ``csv`` module, line by line, so every
  finding gets its row, physical line, byte offset and column. Line numbers before the
  chunk are counted only then (lazily), so valid files never pay for them.

A record cut by the chunk boundary (a quoted value holding newlines) is carried over to the
next chunk. A line or record longer than ``options.max_line_bytes`` is a ``format-error``.
"""

from __future__ import annotations

import csv as _csv
import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from dataproduct_mcp.domain.schema import ColumnType
from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._threads import BackgroundHash, OrderedPool, available_cores
from dataproduct_mcp.validators.base import (
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
)
from dataproduct_mcp.validators.tabular import TableChecker, arrow_type_for, infer_text_type, parse_text
from dataproduct_mcp.validators.textio import TextChunks

__all__ = ["VALIDATOR", "CsvValidator"]

SAMPLE_ROWS = 1000  # type inference looks at the first SAMPLE_ROWS records within SAMPLE_BYTES
SAMPLE_BYTES = 1 << 20
_HEADER_PROBE = 1 << 16
MAX_PARSE_THREADS = 4  # parts parsed at once (capped by the cores this process may use)
_PARTS_PER_CHUNK = 2  # parts of the parallel pass are smaller than chunks: less memory in flight
_CLEAN_TO_RESUME = 2  # clean parts in a row after a dirty one before parsing in parallel again
_csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # fields are bounded by max_line_bytes instead

CHECKS = (
    "encoding",
    "header",
    "blank-header",
    "duplicate-label",
    "ragged-rows",
    "blank-row",
    "type-inference",
    "schema",
    "constraints",
    "unique",
    "line-length",
)


class _Scanner:
    """The precise path: records of a chunk with their physical line and byte offset."""

    def __init__(self, chunks: TextChunks, ctx: ValidationContext, delimiter: str, *, report: bool = True) -> None:
        self.chunks = chunks
        self.ctx = ctx
        self.delimiter = delimiter
        self.report = report
        self.consumed = 0  # bytes of complete records scanned so far
        self.incomplete = False  # the last record ran past the end of the data

    def _report_bad_bytes(self, state: _FeedState, row: int) -> None:
        if self.report:
            for byte, line, offset in state.bad_bytes:
                self.ctx.findings.error(
                    FindingCode.encoding_error,
                    f"invalid UTF-8 byte {byte:#04x}",
                    row=row + state.records + 1 if row >= 0 else None,
                    line=line,
                    byte_offset=offset,
                )
        state.bad_bytes.clear()

    def records(
        self, data: bytes | memoryview, offset: int, line: int, final: bool, row: int = 0
    ) -> Iterator[tuple[list[str], int, int, bool]]:
        """Yield ``(cells, line, byte_offset, unterminated)`` for each complete record of
        ``data`` (which starts at stream ``offset``, physical ``line``, after data record
        ``row``). On return, ``consumed`` says how many bytes they used; an unfinished last
        record is not yielded unless ``final`` (and then flagged ``unterminated``)."""
        lines = bytes(data).splitlines(keepends=True)
        state = _FeedState()
        self.consumed = 0
        self.incomplete = False

        def feed() -> Iterator[str]:
            for raw in lines:
                pos = state.pos
                state.pos += len(raw)
                state.lines += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    # reported with its record: an unfinished record is scanned again later
                    state.bad_bytes.append(
                        (raw[exc.start], line + state.lines - 1, self.chunks.offset(offset + pos + exc.start))
                    )
                    text = raw.decode("utf-8", errors="replace")
                yield text
            state.exhausted = True

        source = feed()
        reader = _csv.reader(source, delimiter=self.delimiter, strict=False)
        while True:
            start_pos, start_line = state.pos, line + state.lines
            state.bad_bytes.clear()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except _csv.Error as exc:
                self._report_bad_bytes(state, row)
                if self.report:
                    self.ctx.findings.error(
                        FindingCode.format_error,
                        f"CSV syntax error: {exc}",
                        row=row + state.records + 1 if row >= 0 else None,
                        line=start_line,
                        byte_offset=self.chunks.offset(offset + start_pos),
                    )
                reader = _csv.reader(source, delimiter=self.delimiter, strict=False)
                self.consumed = state.pos
                continue
            if state.exhausted and not final:
                self.incomplete = True
                return
            self._report_bad_bytes(state, row)
            self.consumed = state.pos
            state.records += 1
            # the reader asked past the last line: a quoted value is still open
            yield cells, start_line, offset + start_pos, state.exhausted


@dataclass
class _FeedState:
    pos: int = 0
    lines: int = 0
    records: int = 0
    exhausted: bool = False
    bad_bytes: list[tuple[int, int, int | None]] = field(default_factory=list)  # (byte, line, offset)


class _Parts:
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


@dataclass
class _Run:
    """Mutable state of one validation."""

    rows: int = 0
    offset: int = 0
    fast_chunks: int = 0
    precise_chunks: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class CsvValidator:
    """Delimiter-separated values; ``tsv.py`` reuses it with a tab."""

    binary = False

    def __init__(
        self,
        *,
        name: str = "csv",
        title: str = "Comma-separated values (RFC 4180)",
        delimiter: str = ",",
        extensions: tuple[str, ...] = ("csv",),
        media_type: str = "text/csv",
    ) -> None:
        self.name = name
        self.title = title
        self.delimiter = delimiter
        self.extensions = extensions
        self.media_type = media_type
        self.checks = CHECKS

    def sniff(self, head: bytes) -> bool:
        """Text (no NUL bytes) whose first line holds this delimiter or is a single column."""
        if not head or b"\x00" in head[:4096]:
            return False
        first = head.split(b"\n", 1)[0]
        if self.delimiter == ",":
            return first.count(b",") >= first.count(b"\t")
        return first.count(self.delimiter.encode()) > first.count(b",")

    # -- driver -----------------------------------------------------------------------
    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        run = _Run()
        with BackgroundHash(source), TextChunks(source, ctx) as chunks:
            try:
                checker = self._run(chunks, ctx, run)
            except TimeBudgetExceeded:
                ctx.findings.error(
                    FindingCode.format_error,
                    f"time budget of {ctx.options.time_budget_s:g} s spent; validated the first {run.rows} rows",
                    row=run.rows + 1,
                )
                run.extra["stopped"] = "time-budget"
                checker = None
        run.extra.update(fast_chunks=run.fast_chunks, precise_chunks=run.precise_chunks)
        columns = checker.column_infos() if checker is not None else []
        return FormatResult(rows=run.rows, columns=columns, extra=run.extra)

    def _run(self, chunks: TextChunks, ctx: ValidationContext, run: _Run) -> TableChecker | None:
        ctx.check("encoding")
        data, eof = chunks.read(_HEADER_PROBE + SAMPLE_BYTES), False  # parsing waits for no more
        if not data:
            if not chunks.stopped:
                ctx.findings.error(FindingCode.empty_file, "file has no content")
            return None
        header, header_len, data, eof = self._read_header(chunks, ctx, data)
        if header is None:
            return None
        if not header:
            header = [""]  # a blank first line: one blank label (the checker reports it)
        while not eof and len(data) - header_len < SAMPLE_BYTES:  # the sample must not depend on chunking
            more = chunks.read()
            eof = not more
            data += more
        types = self._infer_types(chunks, ctx, header, memoryview(data)[header_len:], eof)
        checker = TableChecker(ctx, header, ctx.options.schema, [t for t, _ in types])
        for col, (_, tz) in zip(checker.columns, types, strict=True):
            col.tz = tz
        for name in ("blank-row", "ragged-rows", "type-inference", "line-length"):
            ctx.check(name)
        run.offset = chunks.start_offset + header_len
        chunks.consumed(memoryview(data)[:header_len])
        self._chunk_loop(chunks, ctx, checker, run, (data, header_len), eof)
        if checker.schema is not None:
            ctx.check("constraints")
        return checker

    def _read_header(
        self, chunks: TextChunks, ctx: ValidationContext, data: bytes
    ) -> tuple[list[str] | None, int, bytes, bool]:
        eof = False
        scanner = _Scanner(chunks, ctx, self.delimiter)
        probe = data[:_HEADER_PROBE]  # most headers are short: do not split the whole chunk
        for cells, _line, _offset, _open in scanner.records(probe, chunks.start_offset, 1, False, row=-1):
            return cells, scanner.consumed, data, eof
        while True:
            for cells, _line, _offset, _open in scanner.records(data, chunks.start_offset, 1, eof, row=-1):
                return cells, scanner.consumed, data, eof
            if eof or len(data) > ctx.options.max_line_bytes:
                break
            more = chunks.read()
            eof = not more
            data += more
        if not eof:
            ctx.findings.error(
                FindingCode.format_error,
                f"header is longer than {ctx.options.max_line_bytes} bytes",
                line=1,
                byte_offset=chunks.offset(chunks.start_offset),
            )
        elif not chunks.stopped:
            ctx.findings.error(FindingCode.empty_file, "file has no records")
        return None, 0, data, eof

    def _infer_types(
        self, chunks: TextChunks, ctx: ValidationContext, header: list[str], body: memoryview, eof: bool
    ) -> list[tuple[ColumnType, str | None]]:
        """Column types: declared, or inferred from the first ``SAMPLE_ROWS`` lines of the
        first ``SAMPLE_BYTES`` (the same sample whatever the chunk size). Arrow infers the
        sample first; only the columns it leaves as text get the outlier-tolerant Python
        inference (Arrow's own inference widens to text on a single outlier)."""
        head = bytes(body[:SAMPLE_BYTES])  # the sample only: the body is the whole first chunk
        final = eof and len(head) == len(body)
        schema = ctx.options.schema
        declared = {c.name: c.type for c in schema.columns} if schema else {}
        arrow = self._arrow_sample(head, len(header), final)
        samples = self._python_sample(chunks, ctx, header, head, final) if arrow is None else None
        out: list[tuple[ColumnType, str | None]] = []
        for i, label in enumerate(header):
            ctype = declared.get(label)
            if arrow is not None:
                t = arrow.column(i).type
                if pa.types.is_timestamp(t) and ctype in (None, ColumnType.datetime):
                    out.append((ColumnType.datetime, "UTC" if t.tz else None))
                    continue
                ctype = ctype or _ARROW_INFERRED.get(t)
                values = _as_text(arrow.column(i)) if ctype in (None, ColumnType.datetime) else []
            else:
                values = samples[i] if samples is not None else []
            ctype = ctype or infer_text_type(values)
            out.append((ctype, _zone(values) if ctype is ColumnType.datetime else None))
        return out

    def _arrow_sample(self, head: bytes, width: int, final: bool) -> pa.Table | None:
        end = 0
        for _ in range(SAMPLE_ROWS):
            nl = head.find(b"\n", end)
            if nl < 0:
                end = len(head) if final else end
                break
            end = nl + 1
        if end == 0:
            return None
        try:
            return pacsv.read_csv(
                pa.py_buffer(memoryview(head)[:end]),
                read_options=pacsv.ReadOptions(use_threads=False, column_names=[f"c{i}" for i in range(width)]),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True),
            )
        except (pa.ArrowException, ValueError):
            return None  # ragged rows, bad bytes...: the Python sample copes

    def _python_sample(
        self, chunks: TextChunks, ctx: ValidationContext, header: list[str], head: bytes, final: bool
    ) -> list[list[str | None]]:
        sample: list[list[str | None]] = [[] for _ in header]
        scanner = _Scanner(chunks, ctx, self.delimiter, report=False)
        for n, (cells, _line, _offset, _open) in enumerate(scanner.records(head, 0, 1, final)):
            if n >= SAMPLE_ROWS:
                break
            for values, cell in zip(sample, cells, strict=False):
                values.append(cell)
        return sample

    # -- the chunk loop ---------------------------------------------------------------
    def _chunk_loop(
        self,
        chunks: TextChunks,
        ctx: ValidationContext,
        checker: TableChecker,
        run: _Run,
        pending: tuple[bytes, int],
        eof: bool,
    ) -> None:
        """``pending`` is data read but not validated yet, and where in it validation is up to
        (no copy of the first chunk). The parallel pass runs while parts are clean; the
        sequential loop takes over at the first dirty part (or an overlong line) and hands back
        after ``_CLEAN_TO_RESUME`` clean parts in a row, so a clean stretch after a bad row is
        parsed in parallel again."""
        workers = self._workers(ctx)
        while True:
            if workers > 1 and not eof:
                pending, eof = self._parallel_pass(chunks, ctx, checker, run, pending, eof, workers)
                if eof and len(pending[0]) == pending[1]:
                    return
            resume = _CLEAN_TO_RESUME if workers > 1 else None
            handed_back = self._sequential(chunks, ctx, checker, run, pending, eof, resume)
            if handed_back is None:
                return
            pending, eof = handed_back

    @staticmethod
    def _workers(ctx: ValidationContext) -> int:
        threads = ctx.options.threads
        return max(1, threads if threads else min(available_cores(), MAX_PARSE_THREADS))

    def _parallel_pass(
        self,
        chunks: TextChunks,
        ctx: ValidationContext,
        checker: TableChecker,
        run: _Run,
        pending: tuple[bytes, int],
        eof: bool,
        workers: int,
    ) -> tuple[tuple[bytes, int], bool]:
        """Parse parts (whole lines, about one chunk each) ahead on ``workers`` threads and
        take them in order while they are clean. Returns the bytes not validated yet (from
        ``run.offset``) and whether the file has been read to its end."""
        parse = functools.partial(self._parse, *self._arrow_types(checker))
        parts = _Parts(chunks, pending, eof, max(1, chunks.chunk_bytes // _PARTS_PER_CHUNK), ctx.options.max_line_bytes)
        with OrderedPool(lambda item: parse(item[1]), workers) as pool:
            while True:
                while not pool.full and (item := parts.next()) is not None:
                    pool.submit(item)
                if not len(pool):
                    return (parts.rest(), 0), parts.eof
                (owner, part), table = pool.next()
                if table is None or not checker.batch_is_clean(table, run.rows + 1):
                    rest = [part, *(view for _, view in pool.drain()), parts.rest()]
                    return (b"".join(rest), 0), parts.eof
                run.fast_chunks += 1
                run.rows += table.num_rows
                chunks.consumed(part)
                run.offset += len(part)
                parts.recycle(owner, part)
                ctx.checkpoint(chunks.raw_done)

    def _sequential(
        self,
        chunks: TextChunks,
        ctx: ValidationContext,
        checker: TableChecker,
        run: _Run,
        pending: tuple[bytes, int],
        eof: bool,
        resume_after: int | None,
    ) -> tuple[tuple[bytes, int], bool] | None:
        """One part at a time on this thread, precise where a part is dirty. Chunks are read
        into one reused buffer (fresh 4 MiB allocations per chunk cost page faults); the
        unprocessed tail moves to its front before the next read. Returns the unread rest
        after ``resume_after`` clean parts in a row (None: the file is done)."""
        limit = ctx.options.max_line_bytes
        clean_run = 0
        step = chunks.chunk_bytes
        data, start = pending
        end = len(data) - start
        buf = bytearray(end + (0 if eof else step))  # sized to need: fresh memory is dear
        buf[:end] = memoryview(data)[start:]
        carried = 0  # bytes of a record that ran past the previous part: the next one goes further
        need_more = False
        while True:
            if not eof and (end < step or need_more):
                if len(buf) - end < step:
                    grown = bytearray(end + 2 * step)
                    grown[:end] = buf[:end]
                    buf = grown
                want = step - end if end < step else step  # keep about one chunk: small tail moves
                with memoryview(buf) as view:
                    n = chunks.readinto(view[end : end + want])
                eof = n == 0
                end += n
            if end == 0:
                return None
            cut = _cut(buf, end, step, eof, carried)
            need_more = cut == 0
            if need_more:
                if end > limit:
                    rest, eof = self._skip_long_line(chunks, ctx, run, bytes(buf[:end]), eof)
                    end = len(rest)
                    buf[:end] = rest
                    need_more = False
                continue
            before_long_line = False
            if cut > limit:  # only then can a line be longer than the limit
                long_at = _long_line(buf, cut, limit)
                if long_at == 0:
                    skip = buf.find(b"\n", 0, cut) + 1 or cut
                    self._report_long_line(chunks, ctx, run)
                    chunks.consumed(memoryview(buf)[:skip])
                    run.offset += skip
                    buf[: end - skip] = buf[skip:end]
                    end -= skip
                    continue
                if long_at is not None:
                    cut, before_long_line = long_at, True
            precise_before = run.precise_chunks
            with memoryview(buf) as view:
                used = self._process(chunks, ctx, checker, run, view[:cut], eof and cut == end)
            if used < cut:  # the last record runs on past the part (a quoted value with newlines)
                if cut - used > limit or before_long_line:  # it would swallow the overlong line
                    ctx.findings.error(
                        FindingCode.format_error,
                        f"record longer than {limit} bytes (an unclosed quote?); validation stopped here",
                        row=run.rows + 1,
                        line=chunks.line_at(run.offset + used),
                        byte_offset=chunks.offset(run.offset + used),
                    )
                    run.extra["stopped"] = "record-too-long"
                    return None
                carried = cut - used
                need_more = not eof
            else:
                carried = 0
            run.offset += used
            buf[: end - used] = buf[used:end]
            end -= used
            ctx.checkpoint(chunks.raw_done)
            if eof and end == 0:
                return None
            clean_run = clean_run + 1 if used == cut and run.precise_chunks == precise_before else 0
            if resume_after is not None and clean_run >= resume_after:
                return (bytes(buf[:end]), 0), eof

    def _process(
        self, chunks: TextChunks, ctx: ValidationContext, checker: TableChecker, run: _Run, part: memoryview, eof: bool
    ) -> int:
        """Validate the records of ``part``; returns the bytes they used."""
        fast_rows = self._fast(checker, part, run.rows + 1)
        if fast_rows is not None:
            run.fast_chunks += 1
            run.rows += fast_rows
            used = len(part)
        else:
            run.precise_chunks += 1
            used = self._precise(chunks, ctx, checker, run, part, eof)
        chunks.consumed(part[:used])
        return used

    def _report_long_line(self, chunks: TextChunks, ctx: ValidationContext, run: _Run) -> None:
        run.rows += 1
        ctx.findings.error(
            FindingCode.format_error,
            f"line longer than {ctx.options.max_line_bytes} bytes; skipped",
            row=run.rows,
            line=chunks.line_at(run.offset),
            byte_offset=chunks.offset(run.offset),
        )

    def _skip_long_line(
        self, chunks: TextChunks, ctx: ValidationContext, run: _Run, data: bytes, eof: bool
    ) -> tuple[bytes, bool]:
        self._report_long_line(chunks, ctx, run)
        while True:
            nl = data.find(b"\n")
            if nl >= 0:
                chunks.consumed(data[: nl + 1])
                run.offset += nl + 1
                return data[nl + 1 :], eof
            chunks.consumed(data)
            run.offset += len(data)
            if eof:
                return b"", True
            data = chunks.read()
            eof = not data
            ctx.checkpoint(chunks.raw_done)

    def _fast(self, checker: TableChecker, part: memoryview, first_row: int) -> int | None:
        """Parse ``part`` with Arrow; its row count if it is clean, None if it is dirty."""
        table = self._parse(*self._arrow_types(checker), part)
        if table is None or not checker.batch_is_clean(table, first_row):
            return None
        return int(table.num_rows)

    @staticmethod
    def _arrow_types(checker: TableChecker) -> tuple[list[str], dict[str, pa.DataType]]:
        names = [f"c{i}" for i in range(checker.width)]
        types = {
            n: arrow_type_for(c.type or ColumnType.string, tz=c.tz) for n, c in zip(names, checker.columns, strict=True)
        }
        return names, types

    def _parse(self, names: list[str], types: dict[str, pa.DataType], part: bytes | memoryview) -> pa.Table | None:
        """``part`` converted to the column types, or None if Arrow refuses it or it ends inside
        a quoted value. Touches no shared state: the parallel pass runs it on worker threads."""
        try:
            table = pacsv.read_csv(
                pa.py_buffer(part),
                read_options=pacsv.ReadOptions(use_threads=False, column_names=names, block_size=1 << 20),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=False,  # blank lines become all-null rows: blank-row
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except (pa.ArrowException, ValueError):
            return None
        if table.num_rows and _ends_inside_quotes(table):
            return None
        return table

    def _precise(
        self, chunks: TextChunks, ctx: ValidationContext, checker: TableChecker, run: _Run, part: memoryview, eof: bool
    ) -> int:
        line = chunks.line_at(run.offset)
        scanner = _Scanner(chunks, ctx, self.delimiter)
        for cells, rec_line, rec_offset, unterminated in scanner.records(part, run.offset, line, eof, run.rows):
            run.rows += 1
            byte_offset = chunks.offset(rec_offset)
            if unterminated:
                ctx.findings.error(
                    FindingCode.format_error,
                    "quoted value is not closed before the end of the file",
                    row=run.rows,
                    line=rec_line,
                    byte_offset=byte_offset,
                )
            else:
                checker.check_record(cells, row=run.rows, line=rec_line, byte_offset=byte_offset)
        return scanner.consumed


def _cut(buf: bytearray, end: int, step: int, eof: bool, at_least: int = 0) -> int:
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


def _long_line(buf: bytearray, cut: int, limit: int) -> int | None:
    """Start of the first line of ``buf[:cut]`` longer than ``limit`` bytes, if any."""
    pos = 0
    while pos < cut:
        line_end = buf.find(b"\n", pos, cut) + 1 or cut
        if line_end - pos > limit:
            return pos
        pos = line_end
    return None


def _ends_inside_quotes(table: pa.Table) -> bool:
    """A chunk cut inside a quoted value leaves the newline at the end of the last value."""
    last = table.column(table.num_columns - 1)
    if not pa.types.is_string(last.type):
        return False
    value = last[-1].as_py()
    return isinstance(value, str) and value.endswith(("\n", "\r"))


_ARROW_INFERRED: dict[pa.DataType, ColumnType] = {
    pa.int64(): ColumnType.integer,
    pa.float64(): ColumnType.number,
    pa.bool_(): ColumnType.boolean,
    pa.date32(): ColumnType.date,
}


def _as_text(column: pa.ChunkedArray) -> list[str | None]:
    if pa.types.is_binary(column.type):
        return [None if v is None else v.decode("utf-8", "replace") for v in column.to_pylist()]
    if pa.types.is_string(column.type) or pa.types.is_null(column.type):
        return column.to_pylist()
    return [None if v is None else str(v) for v in column.cast(pa.string()).to_pylist()]


def _zone(values: list[str | None]) -> str | None:
    """``"UTC"`` when most sampled datetimes carry a zone offset (Arrow then needs a zoned type)."""
    parsed = [parse_text(v, ColumnType.datetime)[1] for v in values if v]
    zoned = sum(1 for v in parsed if isinstance(v, datetime) and v.tzinfo is not None)
    return "UTC" if zoned * 2 > len(parsed) else None


VALIDATOR = CsvValidator()
