"""Shared table checks for every tabular format (CSV, TSV, JSON records, JSON Lines, and
the binary formats' Arrow batches).

A :class:`TableChecker` is built from the labels a file declares (its header, or the keys
of its first record) and the optional declared :class:`TableSchema`. It reports header
findings at once and then checks records in one of two ways:

* :meth:`TableChecker.check_record` / :meth:`TableChecker.check_mapping` — one record at a
  time, with its exact location (row, line, byte offset). Text cells are parsed with the
  converters of :mod:`.values`, which mirror Apache Arrow's CSV converters, so the precise
  path and the Arrow path agree on what a valid value is.
* :meth:`TableChecker.batch_is_clean` — a whole typed Arrow table/batch at once with
  ``pyarrow.compute`` (imported when a batch first needs it: :func:`compute`). It reports
  nothing: it answers whether the batch is free of problems. Callers that know where the batch
  came from re-check a dirty batch with the precise path; callers that do not (Parquet, xlsx)
  call :meth:`TableChecker.check_batch`, which converts the batch to rows and reports findings
  by row.

Unique checks keep a bounded set of value hashes per file (:mod:`.unique`). A data contract's
measurements (``options.measurements``) are taken on the same batches and records (:mod:`.measures`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import pyarrow as pa

from dataproduct_mcp.domain.schema import ColumnSpec, ColumnType, TableSchema
from dataproduct_mcp.domain.validation import ColumnInfo, FindingCode
from dataproduct_mcp.validators.base import ValidationContext
from dataproduct_mcp.validators.measures import Bad, Measures, pattern_mask
from dataproduct_mcp.validators.unique import UniqueTracker
from dataproduct_mcp.validators.values import parse_json_value, parse_text

__all__ = ["TableChecker", "compute"]


def compute() -> ModuleType:
    """``pyarrow.compute``, imported on first use: the import builds a wrapper for every kernel
    (~0.1 s), and the clean batches of a file without constraints or nulls never need it."""
    import pyarrow.compute

    return pyarrow.compute


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
        measurements, cap = ctx.options.measurements, ctx.options.distinct_cap
        self.measures = ctx.measures = Measures(measurements, self.columns, cap) if measurements else None
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
            if self.measures is not None:
                self.measures.record(())
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
        values = [
            self._check_cell(c, cell or None, where, text=True) for c, cell in zip(self.columns, cells, strict=False)
        ]
        if self.measures is not None:
            self.measures.record(values)

    def check_mapping(
        self, record: Mapping[str, Any], *, row: int, line: int | None = None, byte_offset: int | None = None
    ) -> None:
        """Check one JSON record by key; absent keys are missing cells, unknown keys extra cells."""
        where = {"row": row, "line": line, "byte_offset": byte_offset}
        if not record:
            self.f.error(FindingCode.blank_row, "record is empty", **where)
            if self.measures is not None:
                self.measures.record(())
            return
        for key in record:
            if key not in self.by_label:
                self.f.error(FindingCode.extra_cell, f"key {key!r} is not a column", column_name=key, **where)
        values: list[Any] = []
        for col in self.columns:
            if col.label not in record:
                self.f.error(
                    FindingCode.missing_cell,
                    f"key {col.label!r} is missing",
                    column=col.index + 1,
                    column_name=col.label,
                    **where,
                )
                values.append(None)
            else:
                values.append(self._check_cell(col, record[col.label], where, text=False))
        if self.measures is not None:
            self.measures.record(values)

    def _check_cell(self, col: ColumnState, cell: Any, where: dict[str, Any], *, text: bool) -> Any:
        """Check one cell; returns its value (None when missing, :class:`Bad` when not of the type)."""
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
            return None
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
                return Bad(cell)
        if col.spec is not None:
            self._check_constraints(col, value, cell, where)
        return value

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
    def batch_is_clean(self, table: pa.Table | pa.RecordBatch, first_row: int, *, measure: bool = True) -> bool:
        """True if ``table`` (columns in file order, already converted to the column types)
        has no blank rows and meets every declared constraint. Reports nothing; on True the
        column state (nullability, unique values) is updated as if each row was checked, and
        the contract's measurements are taken on it (unless ``measure`` is False)."""
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
        if measure and self.measures is not None:
            self.measures.batch(table)
        return True

    @staticmethod
    def _has_blank_row(arrays: list[Any]) -> bool:
        pc = compute()
        mask = pc.is_null(arrays[0])
        for arr in arrays[1:]:
            mask = pc.and_(mask, pc.is_null(arr))
        return bool(pc.any(mask).as_py())

    def _arrow_constraints_hold(self, col: ColumnState, arr: Any) -> bool:
        spec = col.spec
        assert spec is not None
        try:
            if col.minimum is not None or col.maximum is not None:
                mm = compute().min_max(arr)
                lo, hi = mm["min"].as_py(), mm["max"].as_py()
                if col.minimum is not None and lo < col.minimum:
                    return False
                if col.maximum is not None and hi > col.maximum:
                    return False
            if col.enum is not None:
                allowed = pa.array(list(col.enum)).cast(arr.type)
                pc = compute()
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
        its first record. The contract's measurements are taken on the whole batch either way."""
        clean = self.batch_is_clean(table, first_row, measure=False)
        if self.measures is not None:
            self.measures.batch(table)
        if clean:
            return
        names = [c.label for c in self.columns]
        for i, record in enumerate(table.to_pylist()):
            values = list(record.values())
            row = dict(zip(names, values, strict=False))
            self.check_mapping_typed(row, row=first_row + i, measure=False)

    def check_mapping_typed(self, record: Mapping[str, Any], *, row: int, measure: bool = True) -> None:
        """Check already-typed values (Arrow/Parquet/xlsx); nulls are missing values."""
        where = {"row": row, "line": None, "byte_offset": None}
        if measure and self.measures is not None:
            self.measures.record([record.get(c.label) for c in self.columns])
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
    pc = compute()
    mm = pc.min_max(pc.utf8_length(arr))
    return not ((lo is not None and mm["min"].as_py() < lo) or (hi is not None and mm["max"].as_py() > hi))


def _pattern_holds(arr: Any, regex: re.Pattern[str]) -> bool:
    return bool(compute().all(pattern_mask(arr, regex)).as_py() is not False)
