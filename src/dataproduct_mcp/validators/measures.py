"""The counts a data contract's quality rules need (``nullValues``, ``missingValues``,
``invalidValues``, ``duplicateValues``; see :mod:`dataproduct_mcp.domain.contract` for what each
counts), taken by the shared :class:`~dataproduct_mcp.validators.tabular.TableChecker` in the
same pass as the other checks, so every tabular format has them from one implementation.

The checker hands over each batch it accepts whole (:meth:`Measures.batch`: ``pyarrow.compute``
over the columns, cast first to the column's Arrow type, the one the CSV fast path converts it
to) and each record it checks one at a time (:meth:`Measures.record`: the parsed values are
buffered and go through the same code as an Arrow batch), so a value is counted once, the same
way, whichever path it took. A value that is not of its column's type (a ``type-error``) is an
invalid value, and a missing one when its text is one of the missing values; it is never null
and never a duplicate (its row is left out of a tuple of several columns). Duplicates are
counted in bounded memory (:class:`~dataproduct_mcp.validators.unique.DistinctHashes`); a
measurement this file cannot take (a column it lacks, values that do not convert, the distinct
cap) is left out of the counts, and the rule is then reported as not checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataproduct_mcp.domain.contract import ContractStats, Measurement, Metric
from dataproduct_mcp.domain.schema import ColumnType
from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators.base import FormatResult, ValidationContext
from dataproduct_mcp.validators.unique import DistinctHashes, hash_rows
from dataproduct_mcp.validators.values import arrow_type_for, parse_text

if TYPE_CHECKING:
    from dataproduct_mcp.validators.tabular import ColumnState

__all__ = ["Bad", "Measured", "Measures", "measured_of", "pattern_mask"]

_FLUSH_ROWS = 1 << 15  # records buffered by the precise path before they are counted as a batch
_RE2_OK: dict[str, bool] = {}
_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


def _pc() -> Any:
    import pyarrow.compute

    return pyarrow.compute


def pattern_mask(arr: pa.Array, regex: re.Pattern[str]) -> pa.Array:
    """Whether each value fully matches ``regex`` (null for nulls): RE2 in Arrow when the pattern
    is RE2 syntax, Python's ``re`` otherwise; values that are not text are matched as ``str(v)``."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        anchored = f"^(?:{regex.pattern})$"
        if _RE2_OK.get(anchored, True):
            try:
                mask = _pc().match_substring_regex(arr, anchored)
                _RE2_OK[anchored] = True
                return mask
            except pa.ArrowException:
                _RE2_OK[anchored] = False  # not RE2 syntax: Python's re below
    full: Callable[[str], Any] = regex.fullmatch
    return pa.array(
        [None if v is None else full(v if isinstance(v, str) else str(v)) is not None for v in arr.to_pylist()],
        pa.bool_(),
    )


class Bad:
    """A value that is not of its column's type, as the precise path hands it over."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw


@dataclass
class Measured:
    """What one file (or a dataset) measured: the counts, and the distinct hashes behind each
    ``duplicateValues`` count (kept so that a dataset counts duplicates across its files)."""

    stats: ContractStats
    distinct: dict[str, DistinctHashes] = field(default_factory=dict)

    def final(self) -> ContractStats:
        """The stats with the duplicate counts (those within the cap)."""
        stats = self.stats.model_copy(deep=True)
        for key, hashes in self.distinct.items():
            duplicates = hashes.duplicates
            if duplicates is not None:
                stats.counts[key] = duplicates
        return stats

    def add(self, other: Measured) -> None:
        """Sum ``other`` (another file of the dataset) into this; a count missing in either is gone."""
        self.stats.rows += other.stats.rows
        self.stats.counts = {
            k: v + other.stats.counts[k] for k, v in self.stats.counts.items() if k in other.stats.counts
        }
        for key in list(self.distinct):
            if key in other.distinct:
                self.distinct[key].union(other.distinct[key])
            else:
                del self.distinct[key]


class _Measure:
    """One measurement over its columns (``columns`` are positions in the file)."""

    def __init__(self, m: Measurement, columns: list[ColumnState], cap: int) -> None:
        self.m = m
        self.columns = [c.index for c in columns]
        self.count = 0
        self.ok = True
        ctype = columns[0].type or ColumnType.string
        # an empty cell of a text format is null: '' among the missing values counts nulls too
        # (as the contract mapping makes missingValues [''] that must be 0 a `required`)
        self.with_null = m.values is not None and (None in m.values or "" in m.values)
        self.typed: list[Any] | None = None
        self.texts: frozenset[str] = frozenset()
        if m.values is not None:
            self.typed = [_typed(v, ctype) for v in m.values if v is not None]
            self.typed = [v for v in self.typed if v is not _UNTYPED]
            self.texts = frozenset(str(v) for v in m.values if v is not None)
        self.allowed: dict[pa.DataType, pa.Array | None] = {}
        self.regex = re.compile(m.pattern) if m.pattern is not None else None
        self.distinct = DistinctHashes(cap) if m.metric is Metric.duplicate_values else None

    def _in_values(self, arr: pa.Array) -> pa.Array:
        """Whether each value is one of ``typed`` (false for nulls)."""
        if arr.type not in self.allowed:
            try:
                self.allowed[arr.type] = pa.array(self.typed, type=arr.type)
            except _ERRORS:
                self.allowed[arr.type] = None
        allowed = self.allowed[arr.type]
        if allowed is not None:
            return _pc().is_in(arr, value_set=allowed, skip_nulls=True)
        values = set(self.typed or ())
        return pa.array([v is not None and v in values for v in arr.to_pylist()], pa.bool_())

    def take(self, arrays: list[pa.Array], bad: list[list[tuple[int, Any]]]) -> None:
        """Count over ``arrays`` (this measurement's columns); ``bad`` lists, per column, the
        (position, text) of values that were not of the column's type (nulls in ``arrays``)."""
        pc = _pc()
        metric = self.m.metric
        arr, bad0 = arrays[0], bad[0]
        if metric is Metric.null_values:
            self.count += arr.null_count - len(bad0)
        elif metric is Metric.missing_values:
            if self.with_null:
                self.count += arr.null_count - len(bad0)
            if self.typed:
                self.count += _true(self._in_values(arr))
            self.count += sum(1 for _, raw in bad0 if str(raw) in self.texts)
        elif metric is Metric.invalid_values:
            ok: pa.Array | None = self._in_values(arr) if self.typed is not None else None
            if self.regex is not None:
                matched = pattern_mask(arr, self.regex)
                ok = matched if ok is None else pc.and_(ok, matched)
            assert ok is not None
            self.count += len(arr) - arr.null_count - _true(ok) + len(bad0)
        else:
            assert self.distinct is not None
            if self.distinct.exhausted:
                return  # past the cap: the count is given up
            positions = sorted({p for column in bad for p, _ in column})
            if positions:
                keep = [True] * len(arr)
                for p in positions:
                    keep[p] = False
                mask = pa.array(keep, pa.bool_())
                arrays = [a.filter(mask) for a in arrays]
            self.distinct.add(hash_rows(arrays, drop_nulls=len(arrays) == 1))


_UNTYPED = object()


def _typed(value: Any, ctype: ColumnType) -> Any:
    """A contract's value as a value of the column (text parsed as the type; _UNTYPED if it is not one)."""
    if ctype is ColumnType.string:
        return value if isinstance(value, str) else str(value)
    if isinstance(value, str):
        ok, parsed = parse_text(value, ctype)
        return parsed if ok else _UNTYPED
    return value


def _true(mask: pa.Array) -> int:
    return int(_pc().sum(mask).as_py() or 0)


class Measures:
    """The measurements of one file over the checker's columns (module docstring)."""

    def __init__(self, measurements: Sequence[Measurement], columns: Sequence[ColumnState], cap: int) -> None:
        by_label = {c.label: c for c in reversed(columns)}
        self.columns = list(columns)
        self.measures: list[_Measure] = []
        for m in measurements:
            if m.metric is Metric.row_count:
                continue
            cols = [by_label.get(name) for name in m.columns]
            if cols and all(c is not None for c in cols):
                self.measures.append(_Measure(m, [c for c in cols if c is not None], cap))
        self.needed = sorted({i for measure in self.measures for i in measure.columns})
        self._buffer: dict[int, list[Any]] = {i: [] for i in self.needed}
        self._bad: dict[int, list[tuple[int, Any]]] = {i: [] for i in self.needed}
        self._rows = 0

    def drop(self, labels: set[str]) -> None:
        """Stop measuring on ``labels`` (typed files whose column is of another type than declared)."""
        gone = {c.index for c in self.columns if c.label in labels}
        for measure in self.measures:
            if gone.intersection(measure.columns):
                measure.ok = False

    def _canonical(self, index: int, arr: Any) -> pa.Array:
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        col = self.columns[index]
        target = arrow_type_for(col.type, tz=col.tz) if col.type is not None else None
        if target is not None and arr.type != target:
            arr = _pc().cast(arr, target, safe=False)
        return arr

    def batch(self, table: pa.Table | pa.RecordBatch) -> None:
        """Count a whole batch (columns in file order, as the checker received it)."""
        if not self.measures or not table.num_rows:
            return
        for rb in table.to_batches() if isinstance(table, pa.Table) else [table]:
            self._take({i: rb.column(i) for i in self.needed if i < rb.num_columns}, {})

    def _take(self, arrays: dict[int, Any], bad: dict[int, list[tuple[int, Any]]]) -> None:
        canonical: dict[int, pa.Array | None] = {}
        for i, arr in arrays.items():
            try:
                canonical[i] = self._canonical(i, arr)
            except _ERRORS:
                canonical[i] = None
        for measure in self.measures:
            if not measure.ok:
                continue
            cols = [canonical.get(i) for i in measure.columns]
            if any(c is None for c in cols):
                measure.ok = False  # a column missing from this batch, or values that do not convert
                continue
            try:
                measure.take([c for c in cols if c is not None], [bad.get(i, []) for i in measure.columns])
            except _ERRORS:
                measure.ok = False

    def record(self, values: Sequence[Any]) -> None:
        """Count one record checked on its own (values by file position: parsed, None, or :class:`Bad`)."""
        if not self.measures:
            return
        n = len(values)
        for i in self.needed:
            v = values[i] if i < n else None
            if isinstance(v, Bad):
                self._bad[i].append((self._rows, v.raw))
                v = None
            self._buffer[i].append(v)
        self._rows += 1
        if self._rows >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Count the buffered records as one batch."""
        if not self._rows:
            return
        arrays: dict[int, Any] = {}
        for i in self.needed:
            col = self.columns[i]
            target = arrow_type_for(col.type, tz=col.tz) if col.type is not None else None
            try:
                arrays[i] = pa.array(self._buffer[i], type=target)
            except _ERRORS:
                try:
                    arrays[i] = pa.array(self._buffer[i])  # then cast to the column's type
                except _ERRORS:
                    pass  # values that do not convert: the measurements on the column are not taken
        bad = {i: list(v) for i, v in self._bad.items() if v}
        self._take(arrays, bad)
        self._buffer = {i: [] for i in self.needed}
        self._bad = {i: [] for i in self.needed}
        self._rows = 0

    def result(self, rows: int) -> Measured:
        """The counts of the whole file of ``rows`` rows."""
        self.flush()
        measured = Measured(stats=ContractStats(rows=rows))
        for measure in self.measures:
            if not measure.ok:
                continue
            if measure.distinct is not None:
                measured.distinct[measure.m.key] = measure.distinct
            else:
                measured.stats.record(measure.m, measure.count)
        return measured


def measured_of(ctx: ValidationContext, result: FormatResult) -> Measured | None:
    """The contract's counts of a file read to its end (else None: its rules are not checked). A
    format without a table checker (XML), or a file without one of the columns, has no counts but
    the row count."""
    if "stopped" in result.extra or FindingCode.format_error in ctx.findings.error_codes:
        return None  # not read to the end, or rows skipped: the counts would be of part of the file
    if ctx.measures is None:
        return Measured(stats=ContractStats(rows=result.rows))
    measured: Measured = ctx.measures.result(result.rows)
    return measured
