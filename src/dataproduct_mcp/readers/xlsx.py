"""Record batches from xlsx workbooks: the first worksheet as a table, with openpyxl in read-only
mode (rows streamed from the sheet's XML, never the whole sheet in memory).

Before openpyxl sees the file the zip container is bounded as the validator bounds it: at most
``MAX_MEMBERS`` members, ``MAX_UNCOMPRESSED_BYTES`` in all (the validator's default
``max_uncompressed_bytes``), no member over ``RATIO_FLOOR`` expanding more than ``MAX_RATIO``
times, and the shared strings (which openpyxl holds in memory) at most ``MAX_SHARED_STRINGS_BYTES``
— past any of these the file is ``unsupported-format`` (a zip bomb), unopened.

The first non-blank row is the header: its cells are the column names (a blank one is
``column_<n>``, a repeated one gets ``_2``, ``_3``...); cells right of its last label are not part
of the table (``validate_file`` reports them as ragged rows). Blank rows between records are
records of nulls; blank rows at the end are formatting, not records. Column types are decided
from the first ``INFER_RECORDS`` records by the cells' own types: whole numbers int64, numbers
float64, booleans bool, dates at midnight date32, other dates and times timestamp[us], times
time64[us], durations duration[us]; text, a column of mixed kinds or one with no value in the
sample is string (cells as a CSV export writes them, as the validator reads them). A later cell
that does not fit its column's type is ``unsupported-format`` naming the column and rows.
``rows_total`` is null (the sheet's declared dimension is not trusted).
"""

from __future__ import annotations

import datetime as dt
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dataproduct_mcp.readers.records import (
    INFER_RECORDS,
    Opener,
    column_array,
    guarded,
    guarded_iter,
    unreadable,
)
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.formats.xlsx import MAX_MEMBERS, MAX_RATIO, RATIO_FLOOR, cell_text

__all__ = ["xlsx_batches", "xlsx_schema"]

MAX_UNCOMPRESSED_BYTES = ValidationOptions.max_uncompressed_bytes
MAX_SHARED_STRINGS_BYTES = 256 * 1024 * 1024


def _check_container(raw: Any) -> None:
    with zipfile.ZipFile(raw) as zf:
        members = zf.infolist()
    if len(members) > MAX_MEMBERS:
        raise unreadable("xlsx", f"the zip holds {len(members)} members (limit {MAX_MEMBERS})")
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise unreadable("xlsx", f"the workbook expands to {total} bytes (limit {MAX_UNCOMPRESSED_BYTES}); not opened")
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise unreadable("xlsx", f"member {m.filename!r} expands {ratio:.0f}x: likely a zip bomb; not opened")
        if m.filename.lower().endswith("sharedstrings.xml") and m.file_size > MAX_SHARED_STRINGS_BYTES:
            raise unreadable(
                "xlsx", f"the shared strings expand to {m.file_size} bytes (limit {MAX_SHARED_STRINGS_BYTES})"
            )
    raw.seek(0)


class _Sheet:
    """The first worksheet's rows after its header, as a context manager."""

    def __init__(self, opener: Opener) -> None:
        import openpyxl

        self.raw = opener()
        self.wb: Any = None
        try:
            _check_container(self.raw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it drops
                self.wb = openpyxl.load_workbook(self.raw, read_only=True, data_only=True, keep_links=False)
            if not self.wb.worksheets:
                raise unreadable("xlsx", "the workbook has no worksheet")
            ws = self.wb.worksheets[0]
            ws.reset_dimensions()  # do not trust the declared dimension: no padding to a forged width
            self.rows = ws.iter_rows(values_only=True)
            self.title = ws.title
            self.names = self._header()
        except BaseException:
            self.__exit__()
            raise

    def _header(self) -> list[str]:
        for cells in self._next_rows(1 << 62, until_data=True):
            texts = [cell_text(c) for c in cells]
            while texts and texts[-1] is None:
                texts.pop()
            names: list[str] = []
            seen: set[str] = set()
            for i, text in enumerate(texts):
                name = base = text or f"column_{i + 1}"
                n = 1
                while name in seen:
                    n += 1
                    name = f"{base}_{n}"
                seen.add(name)
                names.append(name)
            return names
        raise unreadable("xlsx", f"sheet {self.title!r} has no cells: there is nothing to read")

    def _next_rows(self, limit: int, until_data: bool = False) -> Iterator[tuple[Any, ...]]:
        """Up to ``limit`` rows (or, ``until_data``, the first non-blank one)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = []
            for cells in self.rows:
                if until_data:
                    if any(c is not None and c != "" for c in cells):
                        out.append(cells)
                        break
                    continue
                out.append(cells)
                if len(out) >= limit:
                    break
        return iter(out)

    def records(self, block_rows: int) -> Iterator[list[list[Any]]]:
        """Lists of records (cells cut or padded to the header's width); trailing blank rows dropped."""
        width = len(self.names)
        blank = 0
        while True:
            chunk = [list(cells[:width]) + [None] * (width - len(cells)) for cells in self._next_rows(block_rows)]
            if not chunk:
                return
            out: list[list[Any]] = []
            for cells in chunk:
                if all(c is None or c == "" for c in cells):
                    blank += 1  # a record only if data follows
                    continue
                out.extend([[None] * width for _ in range(blank)])
                blank = 0
                out.append(cells)
            if out:
                yield out

    def __enter__(self) -> _Sheet:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.wb is not None:
                self.wb.close()
        finally:
            self.raw.close()


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "date" if value.time() == dt.time(0) and value.tzinfo is None else "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, dt.timedelta):
        return "timedelta"
    return "text"


def _cell_type(values: list[Any]) -> pa.DataType:
    kinds = {_kind(v) for v in values if v is not None and v != ""}
    if kinds == {"int"}:
        return pa.int64()
    if kinds and kinds <= {"int", "float"}:
        return pa.float64()
    if kinds == {"bool"}:
        return pa.bool_()
    if kinds == {"date"}:
        return pa.date32()
    if kinds and kinds <= {"date", "datetime"}:
        return pa.timestamp("us")
    if kinds == {"time"}:
        return pa.time64("us")
    if kinds == {"timedelta"}:
        return pa.duration("us")
    return pa.string()


def _cell(value: Any, t: pa.DataType) -> Any:
    """A cell as its column's pyarrow conversion takes it (a misfit is left for it to refuse)."""
    if value is None or value == "":
        return None
    if pa.types.is_string(t):
        return cell_text(value)
    if pa.types.is_date(t) and isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else f"{value.isoformat()} (not a date)"
    if pa.types.is_timestamp(t) and type(value) is dt.date:
        return dt.datetime.combine(value, dt.time(0))
    if isinstance(value, bool) and not pa.types.is_boolean(t):
        return f"{value} (a boolean)"
    return value


def xlsx_schema(opener: Opener) -> pa.Schema:
    def work() -> pa.Schema:
        with _Sheet(opener) as sheet:
            sample: list[list[Any]] = []
            for records in sheet.records(INFER_RECORDS):
                sample.extend(records)
                if len(sample) >= INFER_RECORDS:
                    break
            sample = sample[:INFER_RECORDS]
            return pa.schema([pa.field(n, _cell_type([r[i] for r in sample])) for i, n in enumerate(sheet.names)])

    return guarded("xlsx", work)  # type: ignore[no-any-return]


def xlsx_batches(opener: Opener, schema: pa.Schema, block_rows: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    def batches() -> Iterator[tuple[int, pa.RecordBatch]]:
        with _Sheet(opener) as sheet:
            index = {n: i for i, n in enumerate(sheet.names)}
            missing = [f.name for f in schema if f.name not in index]
            if missing:
                raise unreadable("xlsx", f"the sheet has no column(s) {missing}")
            row = 0
            for records in sheet.records(block_rows):
                arrays = []
                for f in schema:
                    i = index[f.name]
                    values = [_cell(r[i], f.type) for r in records]
                    arrays.append(column_array("xlsx", f.name, values, f.type, row))
                yield row, pa.RecordBatch.from_arrays(arrays, schema=schema)
                row += len(records)

    return guarded_iter("xlsx", batches())
