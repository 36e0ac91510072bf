"""The CSV validator's precise path: records of a chunk with their physical line and byte offset.

:class:`RecordScanner` re-reads a dirty chunk with the ``csv`` module, line by line, and yields
each record with its physical line and byte offset, so the findings of the table checks get
exact locations; invalid UTF-8 bytes and CSV syntax errors are reported with the record they
belong to. The CSV validator (:mod:`.csv`) also reads the header with it, and the
type-inference sample when Arrow cannot (:mod:`.csvinfer`).
"""

from __future__ import annotations

import csv as _csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators.base import ValidationContext
from dataproduct_mcp.validators.textio import TextChunks

__all__ = ["FeedState", "RecordScanner"]

_csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # fields are bounded by max_line_bytes instead


class RecordScanner:
    """The precise path: records of a chunk with their physical line and byte offset."""

    def __init__(self, chunks: TextChunks, ctx: ValidationContext, delimiter: str, *, report: bool = True) -> None:
        self.chunks = chunks
        self.ctx = ctx
        self.delimiter = delimiter
        self.report = report
        self.consumed = 0  # bytes of complete records scanned so far
        self.incomplete = False  # the last record ran past the end of the data

    def _report_bad_bytes(self, state: FeedState, row: int) -> None:
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
        state = FeedState()
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
class FeedState:
    pos: int = 0
    lines: int = 0
    records: int = 0
    exhausted: bool = False
    bad_bytes: list[tuple[int, int, int | None]] = field(default_factory=list)  # (byte, line, offset)
