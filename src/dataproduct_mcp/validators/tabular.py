"""Shared table checks for every tabular format (CSV, TSV, JSON records, JSON Lines, and
the binary formats' Arrow batches).

A :class:`TableChecker` is built from the labels a file declares (its header, or the keys
of its first record) and the optional declared :class:`TableSchema`. It reports header
findings at once and then checks records in one of two ways:

* :meth:`TableChecker.check_record` / :meth:`TableChecker.check_mapping` — one record at a
  time, with its exact location (row, line, byte offset). Text cells are parsed with the
  converters below, which mirror Apache Arrow's CSV converters, so the precise path and
  the Arrow path agree on what a valid value is.
* :meth:`TableChecker.batch_is_clean` — a whole typed Arrow table/batch at once with
  ``pyarrow.compute``. It reports nothing: it answers whether the batch is free of
  problems. Callers that know where the batch came from re-check a dirty batch with the
  precise path; callers that do not (Parquet, xlsx) call :meth:`TableChecker.check_batch`,
  which converts the batch to rows and reports findings by row.

Type inference (no declared schema) samples the first records: a column whose sampled
non-empty values all fit a type except at most ``max(1, 10 %)`` of them (frictionless'
confidence of 0.9, and never fewer than one outlier, so one bad value among three is still
an outlier, not a reason to widen) *is* of that type, and every other value, anywhere in the
file, is a ``type-error`` at its row. The only widening allowed is integer → number.

Unique checks keep a bounded set of 64-bit value hashes (:class:`UniqueTracker`, at most
``UNIQUE_CAP`` entries for the whole file, about 70 MB at the cap). When the cap is hit a
warning says from which row uniqueness stopped being checked; collisions of the 64-bit
hash are possible in theory (about 1 in 10^7 at the cap) and would show as a false
``unique-error``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dataproduct_mcp.domain.schema import ColumnSpec, ColumnType, TableSchema
from dataproduct_mcp.domain.validation import ColumnInfo, FindingCode
from dataproduct_mcp.validators.base import ValidationContext

__all__ = [
    "INFER_CONFIDENCE",
    "UNIQUE_CAP",
    "TableChecker",
    "UniqueTracker",
    "arrow_type_for",
    "infer_json_type",
    "infer_text_type",
    "parse_text",
]

INFER_CONFIDENCE = 0.9
UNIQUE_CAP = 1_000_000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_INT_RE = re.compile(r"[ \t]*(-?(?:0[xX][0-9a-fA-F]+|\d+))[ \t]*\Z")
_NUM_RE = re.compile(
    r"[ \t]*([+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan))[ \t]*\Z", re.IGNORECASE
)
_DATE_RE = re.compile(r"[ \t]*(\d{4})-(\d{2})-(\d{2})[ \t]*\Z")
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?\Z"
)
_TRUE = frozenset({"1", "True", "TRUE", "true"})
_FALSE = frozenset({"0", "False", "FALSE", "false"})


def _parse_datetime(text: str) -> datetime | None:
    m = _DATETIME_RE.match(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        value = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro)
    except ValueError:
        return None
    if zone:
        if zone == "Z":
            tz = UTC
        else:
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            tz = timezone(-offset if zone[0] == "-" else offset)
        value = value.replace(tzinfo=tz)
    return value


def parse_text(text: str, ctype: ColumnType) -> tuple[bool, Any]:
    """Parse one non-empty text cell as ``ctype`` the way Arrow's CSV reader does.
    Returns ``(ok, value)``."""
    if ctype is ColumnType.string:
        return True, text
    if ctype is ColumnType.integer:
        m = _INT_RE.match(text)
        if m is None:
            return False, None
        value = int(m.group(1), 0) if "x" in m.group(1).lower() else int(m.group(1))
        return (_INT64_MIN <= value <= _INT64_MAX), value
    if ctype is ColumnType.number:
        m = _NUM_RE.match(text)
        return (True, float(m.group(1))) if m else (False, None)
    if ctype is ColumnType.boolean:
        if text in _TRUE:
            return True, True
        return (True, False) if text in _FALSE else (False, None)
    if ctype is ColumnType.date:
        m = _DATE_RE.match(text)
        if m is None:
            return False, None
        try:
            return True, date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return False, None
    moment = _parse_datetime(text)
    return (moment is not None), moment


def parse_json_value(value: Any, ctype: ColumnType) -> tuple[bool, Any]:
    """Check a decoded JSON value against ``ctype`` (dates and datetimes are ISO strings)."""
    if ctype is ColumnType.string:
        return isinstance(value, str), value
    if ctype is ColumnType.integer:
        return (isinstance(value, int) and not isinstance(value, bool)), value
    if ctype is ColumnType.number:
        return (isinstance(value, int | float) and not isinstance(value, bool)), value
    if ctype is ColumnType.boolean:
        return isinstance(value, bool), value
    if not isinstance(value, str):
        return False, None
    return parse_text(value, ctype) if ctype is ColumnType.datetime else _parse_strict_date(value)


def _parse_strict_date(text: str) -> tuple[bool, Any]:
    return parse_text(text, ColumnType.date) if text == text.strip() else (False, None)


_TEXT_CANDIDATES = (ColumnType.integer, ColumnType.number, ColumnType.boolean, ColumnType.date, ColumnType.datetime)


def _needed(n: int) -> int:
    """How many of ``n`` sampled values must fit a type for the column to have it."""
    outliers = max(1, math.floor((1 - INFER_CONFIDENCE) * n + 1e-9))
    return max(n - outliers, n // 2 + 1)


def infer_text_type(values: Sequence[str | None]) -> ColumnType:
    """The narrowest type that all non-empty values but a few outliers have (module docstring)."""
    present = [v for v in values if v]
    if not present:
        return ColumnType.string
    need = _needed(len(present))
    for ctype in _TEXT_CANDIDATES:
        ok = 0
        for i, v in enumerate(present):
            ok += parse_text(v, ctype)[0]
            if ok + (len(present) - i - 1) < need:
                break
        if ok >= need:
            if ctype is ColumnType.integer and ok < len(present):
                if all(parse_text(v, ColumnType.number)[0] for v in present):
                    return ColumnType.number  # the outliers are decimals: a number column
            return ctype
    return ColumnType.string


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


def infer_json_type(values: Sequence[Any]) -> ColumnType | None:
    """Inferred type of a JSON column, or None when its values are nested (not checked)."""
    present = [v for v in values if v is not None]
    if not present:
        return ColumnType.string
    kinds = [_json_kind(v) for v in present]
    need = _needed(len(present))
    counts = {k: kinds.count(k) for k in set(kinds)}
    if counts.get("integer", 0) >= need:
        return ColumnType.integer
    if counts.get("integer", 0) + counts.get("number", 0) >= need:
        return ColumnType.number
    if counts.get("boolean", 0) >= need:
        return ColumnType.boolean
    if counts.get("string", 0) >= need:
        strings = [v for v in present if isinstance(v, str)]
        for ctype in (ColumnType.date, ColumnType.datetime):
            if sum(parse_json_value(v, ctype)[0] for v in strings) >= need:
                return ctype
        return ColumnType.string
    return None


def arrow_type_for(ctype: ColumnType, *, tz: str | None = None) -> pa.DataType:
    """The Arrow type the CSV fast path converts a column of ``ctype`` to."""
    return {
        ColumnType.string: pa.string(),
        ColumnType.integer: pa.int64(),
        ColumnType.number: pa.float64(),
        ColumnType.boolean: pa.bool_(),
        ColumnType.date: pa.date32(),
        ColumnType.datetime: pa.timestamp("us", tz=tz),
    }[ctype]


class UniqueTracker:
    """Bounded memory duplicate detection over the whole file (see the module docstring)."""

    def __init__(self, ctx: ValidationContext, cap: int | None = None) -> None:
        self.ctx = ctx
        self.cap = UNIQUE_CAP if cap is None else cap
        self.seen: dict[int, set[int]] = {}
        self.size = 0
        self.exhausted = False

    def key(self, value: Any) -> int:
        return hash(value)

    def add(self, column: int, value: Any, row: int) -> bool:
        """Record ``value``; False if it was seen before in ``column``."""
        seen = self.seen.setdefault(column, set())
        k = self.key(value)
        if k in seen:
            return False
        if not self.exhausted:
            if self.size >= self.cap:
                self.exhausted = True
                self.ctx.findings.warning(
                    FindingCode.unique_error,
                    f"unique check stopped: more than {self.cap} distinct values held; "
                    f"duplicates from row {row} on are not detected",
                    row=row,
                )
                return True
            seen.add(k)
            self.size += 1
        return True

    def batch_has_duplicates(self, column: int, values: list[Any]) -> bool:
        seen = self.seen.get(column, set())
        keys = [self.key(v) for v in values if v is not None]
        return len(set(keys)) != len(keys) or any(k in seen for k in keys)

    def add_batch(self, column: int, values: list[Any], first_row: int) -> None:
        for i, v in enumerate(values):
            if v is not None:
                self.add(column, v, first_row + i)


class ColumnState:
    """One file column: its label, position, declared spec and effective type."""

    def __init__(self, index: int, label: str, spec: ColumnSpec | None, ctype: ColumnType | None) -> None:
        self.index = index  # 0-based position in the file
        self.label = label
        self.spec = spec
        self.type = ctype  # None: not checked (nested JSON values)
        self.tz: str | None = None
        self.nullable = False
        self.regex = re.compile(spec.pattern) if spec is not None and spec.pattern else None
        self.enum: frozenset[Any] | None = None
        self.minimum: Any = None
        self.maximum: Any = None
        if spec is not None:
            self._prepare_bounds(spec)

    def _prepare_bounds(self, spec: ColumnSpec) -> None:
        ctype = self.type or ColumnType.string
        if spec.enum is not None:
            values = set()
            for v in spec.enum:
                ok, parsed = parse_text(str(v), ctype) if isinstance(v, str) else (True, v)
                values.add(parsed if ok else v)
            self.enum = frozenset(values)
        for attr in ("minimum", "maximum"):
            bound = getattr(spec, attr)
            if isinstance(bound, str) and ctype in (ColumnType.date, ColumnType.datetime):
                ok, parsed = parse_text(bound, ctype)
                bound = parsed if ok else None
            setattr(self, attr, bound)

    @property
    def declared(self) -> bool:
        return self.spec is not None

    def info(self) -> ColumnInfo:
        return ColumnInfo(name=self.label, type=self.type.value if self.type else "any", nullable=self.nullable)


class TableChecker:
    """Header and record checks shared by every tabular format."""

    def __init__(
        self,
        ctx: ValidationContext,
        labels: Sequence[str],
        schema: TableSchema | None,
        types: Sequence[ColumnType | None] | None = None,
        *,
        header_line: int | None = 1,
    ) -> None:
        self.ctx = ctx
        self.f = ctx.findings
        self.labels = list(labels)
        self.schema = schema
        self.unique = UniqueTracker(ctx)
        self.width = len(self.labels)
        specs: dict[str, ColumnSpec] = {c.name: c for c in schema.columns} if schema else {}
        self.columns: list[ColumnState] = []
        for i, label in enumerate(self.labels):
            spec = specs.get(label)
            ctype = spec.type if spec is not None else (types[i] if types is not None else ColumnType.string)
            self.columns.append(ColumnState(i, label, spec, ctype))
        self.by_label = {c.label: c for c in reversed(self.columns)}
        self._check_header(header_line)

    # -- header -----------------------------------------------------------------------
    def _check_header(self, line: int | None) -> None:
        self.ctx.check("header")
        seen: dict[str, int] = {}
        for i, label in enumerate(self.labels, start=1):
            if not label.strip():
                self.f.error(FindingCode.blank_header, "header label is blank", line=line, column=i)
            elif label in seen:
                self.f.error(
                    FindingCode.duplicate_label,
                    f"label {label!r} repeats column {seen[label]}",
                    line=line,
                    column=i,
                    column_name=label,
                )
            else:
                seen[label] = i
        if self.schema is None:
            return
        self.ctx.check("schema")
        names = [c.name for c in self.schema.columns]
        for name in names:
            if name not in seen:
                self.f.error(FindingCode.missing_label, f"schema column {name!r} is not in the file", column_name=name)
        for label, i in seen.items():
            if label not in names:
                self.f.error(
                    FindingCode.extra_label,
                    f"column {label!r} is not in the schema",
                    line=line,
                    column=i,
                    column_name=label,
                )
        present = [label for label in seen if label in names]
        if present != [n for n in names if n in seen]:
            self.f.error(
                FindingCode.schema_mismatch,
                "columns are not in the order of the schema: " + ", ".join(present),
                line=line,
            )

    # -- one record -------------------------------------------------------------------
    def check_record(
        self, cells: Sequence[str | None], *, row: int, line: int | None = None, byte_offset: int | None = None
    ) -> None:
        """Check one text record (CSV/TSV); empty strings are missing values."""
        where = {"row": row, "line": line, "byte_offset": byte_offset}
        if all(not c for c in cells):
            self.f.error(FindingCode.blank_row, "row is blank", **where)
            return
        n = len(cells)
        for col in self.columns[n:]:
            self.f.error(
                FindingCode.missing_cell,
                f"row has {n} cells, the header {self.width}",
                column=col.index + 1,
                column_name=col.label,
                **where,
            )
        for j in range(self.width, n):
            self.f.error(
                FindingCode.extra_cell,
                f"row has {n} cells, the header {self.width}",
                column=j + 1,
                value=cells[j],
                **where,
            )
        for col, cell in zip(self.columns, cells, strict=False):
            self._check_cell(col, cell or None, where, text=True)

    def check_mapping(
        self, record: Mapping[str, Any], *, row: int, line: int | None = None, byte_offset: int | None = None
    ) -> None:
        """Check one JSON record by key; absent keys are missing cells, unknown keys extra cells."""
        where = {"row": row, "line": line, "byte_offset": byte_offset}
        if not record:
            self.f.error(FindingCode.blank_row, "record is empty", **where)
            return
        for key in record:
            if key not in self.by_label:
                self.f.error(FindingCode.extra_cell, f"key {key!r} is not a column", column_name=key, **where)
        for col in self.columns:
            if col.label not in record:
                self.f.error(
                    FindingCode.missing_cell,
                    f"key {col.label!r} is missing",
                    column=col.index + 1,
                    column_name=col.label,
                    **where,
                )
            else:
                self._check_cell(col, record[col.label], where, text=False)

    def _check_cell(self, col: ColumnState, cell: Any, where: dict[str, Any], *, text: bool) -> None:
        if cell is None:
            col.nullable = True
            if col.spec is not None and col.spec.required:
                self.f.error(
                    FindingCode.constraint_error,
                    "required value is missing",
                    column=col.index + 1,
                    column_name=col.label,
                    **where,
                )
            return
        value = cell
        if col.type is not None:
            ok, value = parse_text(cell, col.type) if text else parse_json_value(cell, col.type)
            if not ok and col.type is ColumnType.integer and not col.declared:
                ok, value = parse_text(cell, ColumnType.number) if text else parse_json_value(cell, ColumnType.number)
                if ok:  # the only widening: integer -> number
                    col.type = ColumnType.number
            if not ok:
                self.f.error(
                    FindingCode.type_error,
                    f"value is not of type {col.type.value}",
                    column=col.index + 1,
                    column_name=col.label,
                    value=cell,
                    **where,
                )
                return
        if col.spec is not None:
            self._check_constraints(col, value, cell, where)

    def _check_constraints(self, col: ColumnState, value: Any, raw: Any, where: dict[str, Any]) -> None:
        spec = col.spec
        assert spec is not None
        loc = {"column": col.index + 1, "column_name": col.label, "value": raw, **where}
        problems: list[str] = []
        text = raw if isinstance(raw, str) else str(raw)
        try:
            if col.minimum is not None and value < col.minimum:
                problems.append(f"below minimum {spec.minimum}")
            if col.maximum is not None and value > col.maximum:
                problems.append(f"above maximum {spec.maximum}")
        except TypeError:
            problems.append("not comparable with the declared bounds")
        if col.enum is not None and value not in col.enum:
            problems.append("not one of the allowed values")
        if col.regex is not None and col.regex.fullmatch(text) is None:
            problems.append(f"does not match pattern {spec.pattern}")
        if spec.min_length is not None and len(text) < spec.min_length:
            problems.append(f"shorter than {spec.min_length} characters")
        if spec.max_length is not None and len(text) > spec.max_length:
            problems.append(f"longer than {spec.max_length} characters")
        for problem in problems:
            self.f.error(FindingCode.constraint_error, f"value is {problem}", **loc)
        if spec.unique and not self.unique.add(col.index, value, where["row"]):
            self.f.error(FindingCode.unique_error, "value repeats an earlier row", **loc)

    # -- Arrow batches ----------------------------------------------------------------
    def batch_is_clean(self, table: pa.Table | pa.RecordBatch, first_row: int) -> bool:
        """True if ``table`` (columns in file order, already converted to the column types)
        has no blank rows and meets every declared constraint. Reports nothing; on True the
        column state (nullability, unique values) is updated as if each row was checked."""
        if table.num_rows == 0:
            return True
        arrays = [table.column(i) for i in range(min(table.num_columns, self.width))]
        nulls = [a.null_count for a in arrays]
        if all(nulls) and self._has_blank_row(arrays):
            return False
        pending_unique: list[tuple[int, list[Any]]] = []
        for col, arr, n_null in zip(self.columns, arrays, nulls, strict=False):
            spec = col.spec
            if spec is None:
                continue
            if spec.required and n_null:
                return False
            if n_null == len(arr):
                continue
            if not self._arrow_constraints_hold(col, arr):
                return False
            if spec.unique:
                values = arr.to_pylist()
                if self.unique.batch_has_duplicates(col.index, values):
                    return False
                pending_unique.append((col.index, values))
        for index, values in pending_unique:
            self.unique.add_batch(index, values, first_row)
        for col, n_null in zip(self.columns, nulls, strict=False):
            col.nullable = col.nullable or n_null > 0
        return True

    @staticmethod
    def _has_blank_row(arrays: list[Any]) -> bool:
        mask = pc.is_null(arrays[0])
        for arr in arrays[1:]:
            mask = pc.and_(mask, pc.is_null(arr))
        return bool(pc.any(mask).as_py())

    def _arrow_constraints_hold(self, col: ColumnState, arr: Any) -> bool:
        spec = col.spec
        assert spec is not None
        try:
            if col.minimum is not None or col.maximum is not None:
                mm = pc.min_max(arr)
                lo, hi = mm["min"].as_py(), mm["max"].as_py()
                if col.minimum is not None and lo < col.minimum:
                    return False
                if col.maximum is not None and hi > col.maximum:
                    return False
            if col.enum is not None:
                allowed = pa.array(list(col.enum)).cast(arr.type)
                if not pc.all(pc.is_in(arr, value_set=allowed, skip_nulls=True)).as_py():
                    return False
            needs_text = col.regex is not None or spec.min_length is not None or spec.max_length is not None
            if needs_text:
                text = arr if pa.types.is_string(arr.type) else None
                if text is None:
                    return False  # lengths/patterns of non-text values: let the precise path decide
                if not _lengths_hold(text, spec.min_length, spec.max_length):
                    return False
                if col.regex is not None and not _pattern_holds(text, col.regex):
                    return False
        except (pa.ArrowException, TypeError, ValueError):
            return False
        return True

    # -- rows for formats without a precise path --------------------------------------
    def check_batch(self, table: pa.Table | pa.RecordBatch, first_row: int) -> None:
        """Check an Arrow batch row by row (for formats whose rows have no line/offset, e.g.
        Parquet or xlsx); fast when the batch is clean. ``first_row`` is the 1-based row of
        its first record."""
        if self.batch_is_clean(table, first_row):
            return
        names = [c.label for c in self.columns]
        for i, record in enumerate(table.to_pylist()):
            values = list(record.values())
            row = dict(zip(names, values, strict=False))
            self.check_mapping_typed(row, row=first_row + i)

    def check_mapping_typed(self, record: Mapping[str, Any], *, row: int) -> None:
        """Check already-typed values (Arrow/Parquet/xlsx); nulls are missing values."""
        where = {"row": row, "line": None, "byte_offset": None}
        if all(v is None for v in record.values()):
            self.f.error(FindingCode.blank_row, "row is blank", **where)
            return
        for col in self.columns:
            value = record.get(col.label)
            if value is None:
                self._check_cell(col, None, where, text=False)
            elif col.spec is not None:
                self._check_constraints(col, value, value, where)

    def column_infos(self) -> list[ColumnInfo]:
        return [c.info() for c in self.columns]


def _lengths_hold(arr: Any, lo: int | None, hi: int | None) -> bool:
    if lo is None and hi is None:
        return True
    mm = pc.min_max(pc.utf8_length(arr))
    return not ((lo is not None and mm["min"].as_py() < lo) or (hi is not None and mm["max"].as_py() > hi))


_RE2_OK: dict[str, bool] = {}


def _pattern_holds(arr: Any, regex: re.Pattern[str]) -> bool:
    anchored = f"^(?:{regex.pattern})$"
    if _RE2_OK.get(anchored, True):
        try:
            matched = pc.match_substring_regex(arr, anchored)
            _RE2_OK[anchored] = True
            return bool(pc.all(matched).as_py() is not False)
        except pa.ArrowException:
            _RE2_OK[anchored] = False  # not RE2 syntax: check with Python's re below
    full: Callable[[str], Any] = regex.fullmatch
    return all(v is None or full(v) is not None for v in arr.to_pylist())
