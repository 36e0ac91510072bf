"""JSON Lines / NDJSON: one JSON object per line.

Every line is decoded on its own, so one bad line is one finding (with its line, byte
offset, and the character column of a syntax error) and the rest of the file is still
checked. Blank lines are ``blank-row`` findings; records go to the shared table checks
(:mod:`.jsonrecords`). Lines longer than ``options.max_line_bytes`` are skipped with a
``format-error``; memory stays bounded by that and the read chunk.

Fast path: once the columns are known (after the sample), each chunk's complete lines are first
given to Arrow's JSON reader with the column types as an explicit schema. The chunk is *clean*
when Arrow accepts it (it refuses wrong types, unknown and repeated keys, syntax errors), yields
one record per line (so no blank lines and no two objects on a line), has no null (a null may be
a missing key, which is a finding), valid UTF-8 in every string, strict ISO dates, and passes
:meth:`TableChecker.batch_is_clean`. A clean chunk reports nothing; any other chunk is decoded
line by line as above. Only columns of type integer, number, boolean, string and date take the
fast path; a file with a datetime or nested column is checked line by line throughout.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from dataproduct_mcp.domain.schema import ColumnType
from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._threads import BackgroundHash
from dataproduct_mcp.validators.base import FormatResult, Source, TimeBudgetExceeded, ValidationContext
from dataproduct_mcp.validators.formats import SPECS
from dataproduct_mcp.validators.formats.jsonrecords import RecordSink
from dataproduct_mcp.validators.tabular import TableChecker, compute
from dataproduct_mcp.validators.textio import TextChunks

__all__ = ["VALIDATOR", "JsonLinesValidator", "looks_like_json_lines"]

_WS = b" \t\r\n"
FAST_PATH = True  # tests switch it off to compare both paths
_FAST_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.integer: pa.int64(),
    ColumnType.number: pa.float64(),
    ColumnType.boolean: pa.bool_(),
    ColumnType.string: pa.string(),
    ColumnType.date: pa.string(),  # checked and converted below
}


def looks_like_json_lines(head: bytes) -> bool:
    """The first line is one complete JSON object or array."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(_WS)
    if not text.startswith((b"{", b"[")):
        return False
    first, sep, _rest = text.partition(b"\n")
    if not sep and len(head) >= 8192:
        return False  # the first line does not even fit the sniff window
    try:
        json.loads(first)
    except ValueError:
        return False
    return True


class JsonLinesValidator:
    name, title, extensions, media_type, checks, binary = SPECS["jsonl"].fields()

    def sniff(self, head: bytes) -> bool:
        return looks_like_json_lines(head)

    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        sink = RecordSink(ctx)
        extra: dict[str, Any] = {}
        with BackgroundHash(source), TextChunks(source, ctx) as chunks:
            ctx.check("encoding")
            ctx.check("json-syntax")
            ctx.check("blank-row")
            try:
                empty = self._lines(chunks, ctx, sink)
            except TimeBudgetExceeded:
                ctx.findings.error(
                    FindingCode.format_error,
                    f"time budget of {ctx.options.time_budget_s:g} s spent; validated the first {sink.rows} rows",
                    row=sink.rows + 1,
                )
                extra["stopped"] = "time-budget"
                empty = False
        if empty and not chunks.stopped:
            ctx.findings.error(FindingCode.empty_file, "file has no content")
        sink.flush()
        return FormatResult(rows=sink.rows, columns=sink.columns(), extra=extra)

    def _lines(self, chunks: TextChunks, ctx: ValidationContext, sink: RecordSink) -> bool:
        limit = ctx.options.max_line_bytes
        offset = chunks.start_offset
        line = 1
        pending = b""
        skipping = False  # the next line is the tail of an overlong one
        seen_any = False
        fast: _FastPath | None = None
        while True:
            chunk = chunks.read()
            eof = not chunk
            data = pending + chunk if pending else chunk
            pos = 0  # bytes of data handled so far
            while True:
                if fast is None and sink.checker is not None and FAST_PATH:
                    fast = _FastPath.build(sink.checker)
                if fast is not None and fast.usable and not skipping:
                    end = len(data) if eof else data.rfind(b"\n") + 1
                    if end > pos:
                        lines = data.count(b"\n", pos, end) + (data[end - 1 : end] != b"\n")
                        if fast.clean(memoryview(data)[pos:end], lines, sink.rows + 1):
                            seen_any = True
                            sink.rows += lines
                            offset += end - pos
                            line += lines
                            pos = end
                # line by line, up to the end of the complete lines, or until the sample is decided
                decided = sink.checker is not None
                while (nl := data.find(b"\n", pos)) >= 0:
                    raw = data[pos:nl]
                    if skipping:
                        skipping = False
                    else:
                        seen_any = seen_any or bool(raw)
                        self._line(raw, line, chunks.offset(offset), ctx, sink, final=False)
                    offset += len(raw) + 1
                    line += 1
                    pos = nl + 1
                    if not decided and sink.checker is not None and FAST_PATH:
                        break  # the columns are known now: try the fast path on the rest
                else:
                    break
            rest = data[pos:]
            if eof:
                if skipping:
                    skipping = False
                else:
                    seen_any = seen_any or bool(rest)
                    self._line(rest, line, chunks.offset(offset), ctx, sink, final=True)
                ctx.checkpoint(chunks.raw_done)
                return not seen_any
            pending = rest
            if len(pending) > limit:
                if not skipping:
                    sink.rows += 1
                    ctx.findings.error(
                        FindingCode.format_error,
                        f"line longer than {limit} bytes; skipped",
                        row=sink.rows,
                        line=line,
                        byte_offset=chunks.offset(offset),
                    )
                skipping = True
                offset += len(pending)
                pending = b""
            ctx.checkpoint(chunks.raw_done)

    def _line(
        self, raw: bytes, line: int, offset: int | None, ctx: ValidationContext, sink: RecordSink, *, final: bool
    ) -> None:
        stripped = raw.rstrip(b"\r")
        if not stripped.strip(_WS):
            if not (final and not raw):  # the end of a file that ends with a newline is not a line
                sink.blank(line=line, byte_offset=offset)
            return
        try:
            text = stripped.decode("utf-8")
        except UnicodeDecodeError as exc:
            sink.rows += 1
            ctx.findings.error(
                FindingCode.encoding_error,
                f"invalid UTF-8 byte {stripped[exc.start]:#04x}",
                row=sink.rows,
                line=line,
                byte_offset=None if offset is None else offset + exc.start,
            )
            return
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            sink.rows += 1
            ctx.findings.error(
                FindingCode.format_error,
                f"JSON syntax error: {exc.msg} (character {exc.colno} of the line)",
                row=sink.rows,
                line=line,
                column=exc.colno,
                byte_offset=None if offset is None else offset + len(text[: exc.pos].encode("utf-8")),
            )
            return
        except RecursionError:
            sink.rows += 1
            ctx.findings.error(FindingCode.format_error, "JSON nested too deeply", row=sink.rows, line=line)
            return
        sink.add(value, line=line, byte_offset=offset, size=len(raw))


class _FastPath:
    """Arrow's JSON reader over whole chunks of lines (module docstring)."""

    def __init__(self, checker: TableChecker, schema: pa.Schema | None) -> None:
        self.checker = checker
        self.schema = schema
        self.usable = schema is not None
        self.dates = [i for i, c in enumerate(checker.columns) if c.type is ColumnType.date]
        self.strings = [i for i, c in enumerate(checker.columns) if c.type is ColumnType.string]

    @classmethod
    def build(cls, checker: TableChecker) -> _FastPath:
        types = [c.type for c in checker.columns if c.type in _FAST_TYPES]
        if not types or len(types) < len(checker.columns):
            return cls(checker, None)
        fields = [pa.field(c.label, _FAST_TYPES[t]) for c, t in zip(checker.columns, types, strict=True)]
        return cls(checker, pa.schema(fields))

    def clean(self, part: memoryview, lines: int, first_row: int) -> bool:
        """Whether the ``lines`` lines of ``part`` are clean (then their records count as checked)."""
        try:
            table = pajson.read_json(
                pa.py_buffer(part),
                read_options=pajson.ReadOptions(use_threads=True, block_size=1 << 20),
                parse_options=pajson.ParseOptions(explicit_schema=self.schema, unexpected_field_behavior="error"),
            )
            if table.num_rows != lines or any(c.null_count for c in table.columns):
                return False
            for i in self.strings:
                table.column(i).validate(full=True)  # the reader does not check UTF-8 inside strings
            for i in self.dates:
                table = table.set_column(i, table.field(i).name, compute().cast(table.column(i), pa.date32()))
        except (pa.ArrowException, ValueError):
            return False
        return self.checker.batch_is_clean(table, first_row)


VALIDATOR = JsonLinesValidator()
