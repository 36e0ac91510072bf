"""JSON: an array of records (checked as a table) or any single document (syntax only).

An array is read element by element with :meth:`json.JSONDecoder.raw_decode` over a
bounded text window, so a 10 GB array of records needs no more memory than its largest
element (at most ``options.max_line_bytes``). Syntax errors stop the read (JSON cannot
resynchronise) and carry the physical line, the character column (``column``) and the
byte offset. A document that is not an array must fit ``MAX_DOCUMENT_BYTES``.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._threads import BackgroundHash
from dataproduct_mcp.validators.base import FormatResult, Source, TimeBudgetExceeded, ValidationContext
from dataproduct_mcp.validators.formats import SPECS
from dataproduct_mcp.validators.formats.jsonl import looks_like_json_lines
from dataproduct_mcp.validators.formats.jsonrecords import RecordSink
from dataproduct_mcp.validators.textio import TextChunks, decode_recording

__all__ = ["VALIDATOR", "JsonValidator"]

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _Stop(Exception):
    """A syntax error ended the read (already reported)."""


class _Window:
    """Decoded text of the file with a monotonic cursor that knows lines and byte offsets."""

    def __init__(self, chunks: TextChunks, ctx: ValidationContext) -> None:
        self.chunks = chunks
        self.ctx = ctx
        # bad bytes become lone surrogates, one per byte, so byte offsets stay exact
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="dataproduct-mcp-escape")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.bytes_in = chunks.start_offset
        # cursor: a position in buf whose line, column and byte offset are known
        self.cur = 0
        self.cur_line = 1
        self.cur_col0 = 0  # 0-based character column of buf[cur]
        self.cur_byte = chunks.start_offset

    def fill(self) -> bool:
        """Drop what is behind ``pos``, append the next chunk; False at the end of the file."""
        if self.eof:
            return False
        self.advance(self.pos)
        self.buf = self.buf[self.pos :]
        self.cur -= self.pos
        self.pos = 0
        data = self.chunks.read()
        self.eof = not data
        held = len(self.decoder.getstate()[0])  # bytes of a sequence begun in the last chunk
        text, bad = decode_recording(self.decoder, data, self.eof)
        for at in bad[:100]:
            self.ctx.findings.error(
                FindingCode.encoding_error,
                "invalid UTF-8 byte",
                byte_offset=self.chunks.offset(self.bytes_in - held + at),
            )
        self.bytes_in += len(data)
        self.buf += text
        self.ctx.checkpoint(self.chunks.raw_done)
        return bool(data)

    def drain(self) -> None:
        """Decode the rest of the file (reporting encoding errors) without keeping the text."""
        while not self.eof:
            self.advance(len(self.buf))
            self.pos = len(self.buf)
            self.fill()

    def advance(self, to: int) -> None:
        segment = self.buf[self.cur : to]
        newlines = segment.count("\n")
        if newlines:
            self.cur_line += newlines
            self.cur_col0 = len(segment) - segment.rfind("\n") - 1
        else:
            self.cur_col0 += len(segment)
        self.cur_byte += len(segment) if segment.isascii() else len(segment.encode("utf-8", "surrogateescape"))
        self.cur = to

    def where(self, at: int) -> dict[str, Any]:
        self.advance(at)
        return {"line": self.cur_line, "byte_offset": self.chunks.offset(self.cur_byte)}

    def skip_ws(self) -> bool:
        """Move past whitespace; False if the file ends first."""
        while True:
            m = _WS.match(self.buf, self.pos)
            self.pos = m.end() if m else self.pos
            if self.pos < len(self.buf):
                return True
            if not self.fill():
                return False

    def syntax_error(self, at: int, message: str, row: int | None = None) -> _Stop:
        where = self.where(at)
        column = self.cur_col0 + 1
        self.ctx.findings.error(
            FindingCode.format_error,
            f"JSON syntax error: {message} (line {where['line']}, character {column})",
            row=row,
            column=column,
            **where,
        )
        return _Stop()


class JsonValidator:
    name, title, extensions, media_type, checks, binary = SPECS["json"].fields()

    def sniff(self, head: bytes) -> bool:
        text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
        if not text:
            return bool(head)  # only whitespace: an empty JSON file rather than a blank CSV
        if not text.startswith((b"{", b"[")):
            return False
        first, sep, rest = text.partition(b"\n")
        # several complete one-line objects are JSON Lines, not one JSON document
        return not (sep and rest.lstrip().startswith((b"{", b"[")) and looks_like_json_lines(first))

    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        sink = RecordSink(ctx)
        extra: dict[str, Any] = {}
        with BackgroundHash(source), TextChunks(source, ctx) as chunks:
            ctx.check("encoding")
            ctx.check("json-syntax")
            window = _Window(chunks, ctx)
            try:
                extra["shape"] = self._read(window, ctx, sink)
            except _Stop:
                # JSON cannot resynchronise after a syntax error, but the rest of the file is still
                # checked for encoding errors, so findings never depend on how far a read got.
                window.drain()
            except TimeBudgetExceeded:
                ctx.findings.error(
                    FindingCode.format_error,
                    f"time budget of {ctx.options.time_budget_s:g} s spent; validated the first {sink.rows} records",
                    row=sink.rows + 1,
                )
                extra["stopped"] = "time-budget"
        sink.flush()
        return FormatResult(rows=sink.rows, columns=sink.columns(), extra=extra)

    def _read(self, w: _Window, ctx: ValidationContext, sink: RecordSink) -> str:
        if not w.skip_ws():
            if not w.chunks.stopped:
                ctx.findings.error(FindingCode.empty_file, "file has no JSON value")
            return "empty"
        if w.buf[w.pos] == "[":
            w.pos += 1
            self._array(w, ctx, sink)
            shape = "array"
        else:
            self._document(w, ctx)
            shape = "document"
        if w.skip_ws():
            raise w.syntax_error(w.pos, "extra data after the JSON value")
        if shape == "document" and ctx.options.schema is not None:
            ctx.findings.error(
                FindingCode.schema_mismatch, "a schema applies to an array of records; this is a document"
            )
        return shape

    def _value(self, w: _Window, limit: int, row: int | None = None) -> tuple[Any, int]:
        while True:
            try:
                value, end = _DECODER.raw_decode(w.buf, w.pos)
            except json.JSONDecodeError as exc:
                if len(w.buf) - w.pos > limit:
                    raise w.syntax_error(w.pos, f"value longer than {limit} bytes or {exc.msg}", row) from None
                if not w.eof:
                    w.fill()  # maybe only cut by the window: read on and decode again
                    continue
                raise w.syntax_error(exc.pos, exc.msg, row) from None
            except RecursionError:
                raise w.syntax_error(w.pos, "value nested too deeply", row) from None
            if end == len(w.buf) and not w.eof:
                w.fill()  # a number or literal touching the window's end may go on
                continue
            return value, end

    def _array(self, w: _Window, ctx: ValidationContext, sink: RecordSink) -> None:
        limit = ctx.options.max_line_bytes
        first = True
        while True:
            if not w.skip_ws():
                raise w.syntax_error(w.pos, "the file ends inside the array")
            c = w.buf[w.pos]
            if c == "]":
                w.pos += 1
                return
            if not first:
                if c != ",":
                    raise w.syntax_error(w.pos, "expected ',' or ']' after an array element")
                w.pos += 1
                if not w.skip_ws():
                    raise w.syntax_error(w.pos, "the file ends inside the array")
                if w.buf[w.pos] == "]":
                    raise w.syntax_error(w.pos, "trailing comma before ']'")
            where = w.where(w.pos)  # before decoding: reading on moves the window under ``pos``
            value, end = self._value(w, limit, sink.rows + 1)
            sink.add(value, line=where["line"], byte_offset=where["byte_offset"], size=end - w.pos)
            w.pos = end
            first = False

    def _document(self, w: _Window, ctx: ValidationContext) -> None:
        cap = max(MAX_DOCUMENT_BYTES, ctx.options.max_line_bytes)
        _value, end = self._value(w, cap)
        w.pos = end


VALIDATOR = JsonValidator()
