"""Column types of a CSV file: declared, or inferred from a sample of its first records.

The sample is the first ``SAMPLE_ROWS`` records within the first ``SAMPLE_BYTES`` after the
header, the same whatever the chunk size. Arrow's CSV reader infers it first; only the columns
it leaves as text get the outlier-tolerant inference of :mod:`.values`. The CSV validator
(:mod:`.csv`) reads ``SAMPLE_BYTES`` from this module at call time: tests shrink it.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.csv as pacsv

from dataproduct_mcp.domain.schema import ColumnType
from dataproduct_mcp.validators.base import ValidationContext
from dataproduct_mcp.validators.formats.csvscan import RecordScanner
from dataproduct_mcp.validators.textio import TextChunks
from dataproduct_mcp.validators.values import infer_text_type, parse_text

__all__ = ["SAMPLE_BYTES", "SAMPLE_ROWS", "infer_column_types"]

SAMPLE_ROWS = 1000  # type inference looks at the first SAMPLE_ROWS records within SAMPLE_BYTES
SAMPLE_BYTES = 1 << 20


def infer_column_types(
    chunks: TextChunks, ctx: ValidationContext, header: list[str], body: memoryview, eof: bool, delimiter: str
) -> list[tuple[ColumnType, str | None]]:
    """Column types: declared, or inferred from the first ``SAMPLE_ROWS`` lines of the
    first ``SAMPLE_BYTES`` (the same sample whatever the chunk size). Arrow infers the
    sample first; only the columns it leaves as text get the outlier-tolerant Python
    inference (Arrow's own inference widens to text on a single outlier)."""
    head = bytes(body[:SAMPLE_BYTES])  # the sample only: the body is the whole first chunk
    final = eof and len(head) == len(body)
    schema = ctx.options.schema
    declared = {c.name: c.type for c in schema.columns} if schema else {}
    arrow = _arrow_sample(head, len(header), final, delimiter)
    samples = _python_sample(chunks, ctx, header, head, final, delimiter) if arrow is None else None
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


def _arrow_sample(head: bytes, width: int, final: bool, delimiter: str) -> pa.Table | None:
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
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True),
        )
    except (pa.ArrowException, ValueError):
        return None  # ragged rows, bad bytes...: the Python sample copes


def _python_sample(
    chunks: TextChunks, ctx: ValidationContext, header: list[str], head: bytes, final: bool, delimiter: str
) -> list[list[str | None]]:
    sample: list[list[str | None]] = [[] for _ in header]
    scanner = RecordScanner(chunks, ctx, delimiter, report=False)
    for n, (cells, _line, _offset, _open) in enumerate(scanner.records(head, 0, 1, final)):
        if n >= SAMPLE_ROWS:
            break
        for values, cell in zip(sample, cells, strict=False):
            values.append(cell)
    return sample


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
