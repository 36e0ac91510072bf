"""JSON Lines / NDJSON: one JSON object per line.

Every line is decoded on its own, so one bad line is one finding (with its line, byte
offset, and the character column of a syntax error) and the rest of the file is still
checked. Blank lines are ``blank-row`` findings; records go to the shared table checks
(:mod:`.jsonrecords`). Lines longer than ``options.max_line_bytes`` are skipped with a
``format-error``; memory stays bounded by that and the read chunk.
"""

from __future__ import annotations

import json
from typing import Any

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._threads import BackgroundHash
from dataproduct_mcp.validators.base import FormatResult, Source, TimeBudgetExceeded, ValidationContext
from dataproduct_mcp.validators.jsonrecords import RecordSink
from dataproduct_mcp.validators.textio import TextChunks

__all__ = ["VALIDATOR", "JsonLinesValidator", "looks_like_json_lines"]

_WS = b" \t\r\n"


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
    name = "jsonl"
    title = "JSON Lines / NDJSON (one JSON object per line)"
    extensions = ("jsonl", "ndjson")
    media_type = "application/x-ndjson"
    binary = False
    checks = ("encoding", "json-syntax", "blank-row", "header", "type-inference", "schema", "constraints", "unique")

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
        skipping = False
        seen_any = False
        while True:
            chunk = chunks.read()
            eof = not chunk
            data = pending + chunk if pending else chunk
            pieces = data.split(b"\n")
            pending = b"" if eof else pieces.pop()
            last = len(pieces) - 1
            for i, raw in enumerate(pieces):
                if skipping:  # the tail of an overlong line
                    skipping = False
                else:
                    seen_any = seen_any or bool(raw)
                    self._line(raw, line, chunks.offset(offset), ctx, sink, final=eof and i == last)
                offset += len(raw) + 1
                line += 1
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
            if eof:
                return not seen_any

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


VALIDATOR = JsonLinesValidator()
