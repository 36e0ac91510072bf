"""JSON records (from a JSON array or JSON Lines) fed to the shared :class:`TableChecker`.

The first object's keys are the header. Column types are the declared ones, or inferred
from a sample of the first records (``SAMPLE_RECORDS``, at most ``SAMPLE_BYTES`` of them
held in memory); the sampled records are then checked like every other, so a bad value in
the sample is still reported at its row.
"""

from __future__ import annotations

from typing import Any

from dataproduct_mcp.domain.schema import ColumnType
from dataproduct_mcp.domain.validation import ColumnInfo, FindingCode
from dataproduct_mcp.validators.base import ValidationContext
from dataproduct_mcp.validators.tabular import TableChecker
from dataproduct_mcp.validators.values import infer_json_type

__all__ = ["RecordSink"]

SAMPLE_RECORDS = 1000
SAMPLE_BYTES = 4 * 1024 * 1024


class RecordSink:
    """Receives decoded records in file order with their locations."""

    def __init__(self, ctx: ValidationContext) -> None:
        self.ctx = ctx
        self.rows = 0
        self.checker: TableChecker | None = None
        self._sample: list[tuple[Any, int, int | None, int | None]] = []
        self._sample_bytes = 0

    def add(self, value: Any, *, line: int | None, byte_offset: int | None, size: int = 0) -> None:
        """One record (``size``: its length in bytes, for the sample bound)."""
        self.rows += 1
        if self.checker is not None:
            self._check(value, self.rows, line, byte_offset)
            return
        self._sample.append((value, self.rows, line, byte_offset))
        self._sample_bytes += size
        if len(self._sample) >= SAMPLE_RECORDS or self._sample_bytes >= SAMPLE_BYTES:
            self.flush()

    def blank(self, *, line: int | None, byte_offset: int | None) -> None:
        self.rows += 1
        self.ctx.findings.error(
            FindingCode.blank_row, "line is blank", row=self.rows, line=line, byte_offset=byte_offset
        )

    def flush(self) -> None:
        """Decide the columns from the sample and check it (call at the end of the file too)."""
        if self.checker is None:
            first = next((v for v, *_ in self._sample if isinstance(v, dict)), {})
            labels = list(first)
            declared = {c.name: c.type for c in self.ctx.options.schema.columns} if self.ctx.options.schema else {}
            types: list[ColumnType | None] = []
            for label in labels:
                values = [v.get(label) for v, *_ in self._sample if isinstance(v, dict)]
                types.append(declared.get(label) or infer_json_type(values))
            self.ctx.check("type-inference")
            self.checker = TableChecker(self.ctx, labels, self.ctx.options.schema, types, header_line=None)
        sample, self._sample = self._sample, []
        for value, row, line, offset in sample:
            self._check(value, row, line, offset)

    def _check(self, value: Any, row: int, line: int | None, offset: int | None) -> None:
        assert self.checker is not None
        if not isinstance(value, dict):
            self.ctx.findings.error(
                FindingCode.format_error,
                f"record is a JSON {type(value).__name__}, not an object",
                row=row,
                line=line,
                byte_offset=offset,
            )
            return
        self.checker.check_mapping(value, row=row, line=line, byte_offset=offset)

    def columns(self) -> list[ColumnInfo]:
        return self.checker.column_infos() if self.checker is not None else []
