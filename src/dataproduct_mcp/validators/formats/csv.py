"""CSV (RFC 4180) validation at Arrow speed with exact finding locations.

The file is read in parts cut after a newline (:mod:`.textio`, :mod:`.csvparts`). Each part
takes one of two paths:

* **fast** — Arrow's CSV reader converts the part to the column types (declared, or inferred
  from a sample, :mod:`.csvinfer`) and :meth:`TableChecker.batch_is_clean` checks it with
  vectorised compute (:mod:`.csvarrow`). Any trouble (a conversion or UTF-8 error, a ragged or
  blank row, a constraint that does not hold, a part cut inside a quoted value) makes the part
  *dirty*; the fast path never reports anything itself. Clean parts are parsed ahead on up to
  ``MAX_PARSE_THREADS`` threads and taken in file order (the parallel pass).
* **precise** — from the first dirty part, a sequential loop re-reads dirty parts with the
  ``csv`` module (:mod:`.csvscan`), so every finding gets its row, physical line, byte offset
  and column; line numbers before the part are counted only then (lazily), so valid files never
  pay for them. After ``_CLEAN_TO_RESUME`` clean parts in a row the parallel pass takes over again.

A record cut by a part boundary (a quoted value holding newlines) is carried over to the next
part. A line or record longer than ``options.max_line_bytes`` is a ``format-error``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._threads import BackgroundHash, OrderedPool, available_cores
from dataproduct_mcp.validators.base import (
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
)
from dataproduct_mcp.validators.formats import SPECS, FormatSpec, csvinfer
from dataproduct_mcp.validators.formats.csvarrow import arrow_types, parse_part
from dataproduct_mcp.validators.formats.csvparts import PartReader, cut_after_newline, long_line_start
from dataproduct_mcp.validators.formats.csvscan import RecordScanner
from dataproduct_mcp.validators.tabular import TableChecker
from dataproduct_mcp.validators.textio import TextChunks

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["VALIDATOR", "CsvValidator"]

_HEADER_PROBE = 1 << 16
MAX_PARSE_THREADS = 4  # parts parsed at once (capped by the cores this process may use)
_PARTS_PER_CHUNK = 2  # parts of the parallel pass are smaller than chunks: less memory in flight
_CLEAN_TO_RESUME = 2  # clean parts in a row after a dirty one before parsing in parallel again


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

    def __init__(self, spec: FormatSpec, delimiter: str) -> None:
        self.name, self.title, self.extensions, self.media_type, self.checks, self.binary = spec.fields()
        self.delimiter = delimiter

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
        data, eof = chunks.read(_HEADER_PROBE + csvinfer.SAMPLE_BYTES), False  # parsing waits for no more
        if not data:
            if not chunks.stopped:
                ctx.findings.error(FindingCode.empty_file, "file has no content")
            return None
        header, header_len, data, eof = self._read_header(chunks, ctx, data)
        if header is None:
            return None
        if not header:
            header = [""]  # a blank first line: one blank label (the checker reports it)
        while not eof and len(data) - header_len < csvinfer.SAMPLE_BYTES:  # the sample must not depend on chunking
            more = chunks.read()
            eof = not more
            data += more
        types = csvinfer.infer_column_types(chunks, ctx, header, memoryview(data)[header_len:], eof, self.delimiter)
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
        scanner = RecordScanner(chunks, ctx, self.delimiter)
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
        """Parse parts (whole lines, about half a chunk each) ahead on ``workers`` threads and
        take them in order while they are clean. Returns the bytes not validated yet (from
        ``run.offset``) and whether the file has been read to its end."""
        parse = functools.partial(parse_part, self.delimiter, *arrow_types(checker))
        parts = PartReader(
            chunks, pending, eof, max(1, chunks.chunk_bytes // _PARTS_PER_CHUNK), ctx.options.max_line_bytes
        )

        def parse_item(item: tuple[bytes | bytearray, memoryview]) -> pa.Table | None:
            return parse(item[1])

        pool: OrderedPool[tuple[bytes | bytearray, memoryview], pa.Table | None]
        with OrderedPool(parse_item, workers) as pool:
            while True:
                while not pool.full and (item := parts.next()) is not None:
                    pool.submit(item)
                if not len(pool):
                    return (parts.rest(), 0), parts.eof
                (owner, part), table = pool.next()
                if table is None or not checker.batch_is_clean(table, run.rows + 1):
                    rest: list[memoryview | bytes] = [part, *(view for _, view in pool.drain()), parts.rest()]
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
            cut = cut_after_newline(buf, end, step, eof, carried)
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
                long_at = long_line_start(buf, cut, limit)
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
        table = parse_part(self.delimiter, *arrow_types(checker), part)
        if table is None or not checker.batch_is_clean(table, first_row):
            return None
        return int(table.num_rows)

    def _precise(
        self, chunks: TextChunks, ctx: ValidationContext, checker: TableChecker, run: _Run, part: memoryview, eof: bool
    ) -> int:
        line = chunks.line_at(run.offset)
        scanner = RecordScanner(chunks, ctx, self.delimiter)
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


VALIDATOR = CsvValidator(SPECS["csv"], ",")
