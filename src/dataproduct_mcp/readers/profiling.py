"""Per-column figures over a stream of record batches, in bounded memory (blocking code).

Each :class:`ColumnProfiler` sees one column batch by batch; every figure is computed vectorised
by ``pyarrow.compute`` on the batch and merged into a small running state:

- nulls, count: ``null_count``;
- min / max: ``min_max`` per batch, merged as a two-value Arrow array (any orderable type);
- mean / stddev (integer and floating point): per-batch mean and variance merged with Chan's
  parallel formula (numerically stable);
- distinct: exact — the batch's ``unique`` values merged into a running unique array — until
  ``EXACT_DISTINCT_CAP`` values (or ``EXACT_DISTINCT_BYTES``); then an Apache DataSketches
  HyperLogLog sketch (``lg_k = HLL_LG_K``: relative standard error 1.6 %) fed each batch's unique
  values (only distinct values per batch cross into Python);
- temporal values are keyed by their integer ticks for both (ISO strings only in the result);
- top values: a mergeable Misra-Gries summary of ``SUMMARY_SIZE`` counters. Each batch's
  ``value_counts`` is reduced to its ``SUMMARY_SIZE`` largest (minus the next largest, the
  Misra-Gries step) and added in; when the summary overflows, the same step shrinks it. Every
  count is a lower bound, under by at most ``max_error`` (the sum of what the steps subtracted;
  0 while the column has at most ``SUMMARY_SIZE`` distinct values per batch and overall).

Nested columns (lists, structs, maps) get count and nulls only.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from dataproduct_mcp.domain.dataviews import ColumnProfile, TopValue
from dataproduct_mcp.readers.cells import Cells, python_values

__all__ = [
    "EXACT_DISTINCT_CAP",
    "HLL_LG_K",
    "SUMMARY_SIZE",
    "ColumnProfiler",
    "MisraGries",
    "from_physical",
    "physical",
]

EXACT_DISTINCT_CAP = 16_384
EXACT_DISTINCT_BYTES = 1024 * 1024
KEY_CHARS = 256  # a longer string (or binary) value is kept in the summary as its prefix and a digest
HLL_LG_K = 12
SUMMARY_SIZE = 1024
NUM_STD_DEV = 2  # the distinct bounds: ~95 %


class Cut(NamedTuple):
    """A long value's key in the summary: bounded memory whatever the cells hold."""

    prefix: str | bytes
    digest: str


def _key(v: Any) -> Any:
    if isinstance(v, str | bytes) and len(v) > KEY_CHARS:
        data = v.encode() if isinstance(v, str) else v
        return Cut(v[:KEY_CHARS], hashlib.blake2b(data, digest_size=16).hexdigest())
    return v


def _unkey(v: Any) -> Any:
    """A summary key as the value to show: a cut value shows its prefix (cut again by the cells)."""
    if isinstance(v, Cut):
        return v.prefix + "…" if isinstance(v.prefix, str) else v.prefix
    return v


class MisraGries:
    """A mergeable Misra-Gries summary of at most ``size`` counters (lower-bound counts)."""

    def __init__(self, size: int = SUMMARY_SIZE) -> None:
        self.size = size
        self.counts: dict[Any, int] = {}
        self.max_error = 0

    def add_counts(self, values: pa.Array, counts: pa.Array) -> None:
        """Add one batch's exact ``value_counts`` (already without nulls)."""
        if len(counts) > self.size:
            keep = pc.select_k_unstable(counts, k=self.size + 1, sort_keys=[("dummy", "descending")])
            values, counts = values.take(keep), counts.take(keep)
            keys = [_key(v) for v in python_values(values)]
            pairs = sorted(zip(keys, counts.to_pylist(), strict=True), key=lambda p: -p[1])
            cut = pairs[-1][1]
            self.max_error += cut
            pairs = [(v, c - cut) for v, c in pairs[:-1] if c > cut]
        else:
            pairs = list(zip([_key(v) for v in python_values(values)], counts.to_pylist(), strict=True))
        for value, count in pairs:
            self.counts[value] = self.counts.get(value, 0) + count
        if len(self.counts) > self.size:
            cut = sorted(self.counts.values(), reverse=True)[self.size]
            self.max_error += cut
            self.counts = {v: c - cut for v, c in self.counts.items() if c > cut}

    def top(self, k: int) -> list[tuple[Any, int]]:
        ranked = sorted(self.counts.items(), key=lambda p: (-p[1], str(p[0])))[:k]
        return [(_unkey(v), c) for v, c in ranked]


def _nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t)


def _temporal(t: pa.DataType) -> bool:
    return pa.types.is_temporal(t)


def physical(arr: pa.Array) -> pa.Array:
    """A temporal array as its integer ticks (zero-copy): cheap keys for the sketch and the summary."""
    t = arr.type
    if _temporal(t):
        return arr.view(pa.int32() if t.bit_width == 32 else pa.int64())
    return arr


def from_physical(values: list[Any], t: pa.DataType) -> list[Any]:
    """Keys made by :func:`physical` back as the Python values of type ``t`` (ISO strings for temporal)."""
    if not _temporal(t):
        return values
    ticks = pa.array(values, pa.int32() if t.bit_width == 32 else pa.int64())
    return python_values(ticks.view(t))


def _sketchable(values: list[Any]) -> list[int | float | str]:
    out: list[int | float | str] = []
    for v in values:
        if isinstance(v, bytes):
            out.append(v.hex())
        elif isinstance(v, int | float | str):
            out.append(v)
        else:
            out.append(str(v))
    return out


class ColumnProfiler:
    def __init__(self, field: pa.Field) -> None:
        self.field = field
        t = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        self.type = t
        self.nested = _nested(t)
        self.numeric = pa.types.is_integer(t) or pa.types.is_floating(t)
        self.rows = 0
        self.nulls = 0
        self.extremes: pa.Array | None = None
        self.n = 0  # non-null values in the mean/variance state
        self.mean = 0.0
        self.m2 = 0.0
        self.uniques: pa.Array | None = physical(pa.array([], t)) if not self.nested else None
        self.sketch: Any = None
        self.summary = MisraGries()
        self.note: str | None = "nested type: only count and nulls are profiled" if self.nested else None

    def update(self, column: pa.Array) -> None:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        self.rows += len(column)
        self.nulls += column.null_count
        if self.note is not None:
            return
        try:
            self._figures(column)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
            self.note = f"{self.type}: only count and nulls are profiled (no ordering or hashing for it)"

    def _figures(self, column: pa.Array) -> None:
        values = column.drop_null() if column.null_count else column
        if len(values) == 0:
            return
        mm = pc.min_max(values)
        pair = pa.array([mm["min"], mm["max"]], self.type)
        both = pair if self.extremes is None else pa.concat_arrays([self.extremes, pair])
        merged = pc.min_max(both)
        self.extremes = pa.array([merged["min"], merged["max"]], self.type)
        if self.numeric:
            self._moments(values)
        keys = physical(values)  # temporal values as ticks: no string per value
        vc = pc.value_counts(keys)  # one hash pass gives both the batch's distinct values and their counts
        unique = vc.field("values")
        self._distinct(unique)
        self.summary.add_counts(unique, vc.field("counts"))

    def _moments(self, values: pa.Array) -> None:
        floats = values.cast(pa.float64())
        n_b = len(floats)
        mean_b = pc.mean(floats).as_py()
        m2_b = pc.variance(floats, ddof=0).as_py() * n_b
        if mean_b is None or m2_b is None:
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    def _distinct(self, unique: pa.Array) -> None:
        if self.sketch is not None:
            self._feed(python_values(unique))
            return
        assert self.uniques is not None
        merged = pc.unique(pa.concat_arrays([self.uniques, unique]))
        if len(merged) <= EXACT_DISTINCT_CAP and merged.nbytes <= EXACT_DISTINCT_BYTES:
            self.uniques = merged
            return
        import datasketches

        self.sketch = datasketches.hll_sketch(HLL_LG_K)
        self.uniques = None
        self._feed(python_values(merged))

    def _feed(self, values: list[Any]) -> None:
        update = self.sketch.update
        if values and isinstance(values[0], int | float | str) and not isinstance(values[0], bool):
            try:
                deque(map(update, values), maxlen=0)  # the loop in C: half the time of a for loop
                return
            except TypeError:
                pass  # mixed Python types (rare): the slow path below (HLL ignores values seen twice)
        deque(map(update, _sketchable(values)), maxlen=0)

    def result(self, scanned: int, top: int, cells: Cells) -> ColumnProfile:
        count = self.rows - self.nulls
        out = ColumnProfile(
            name=self.field.name,
            type=str(self.field.type),
            count=count,
            nulls=self.nulls,
            null_fraction=round(self.nulls / scanned, 6) if scanned else 0.0,
        )
        if self.note is not None:
            out.note = self.note
            return out
        if self.extremes is not None:
            low, high = python_values(self.extremes)
            out.min, out.max = cells.value(low), cells.value(high)
        if self.numeric and self.n:
            out.mean = _finite(self.mean)
            out.stddev = _finite(math.sqrt(self.m2 / self.n)) if self.m2 >= 0 else None
        if self.sketch is not None:
            estimate = round(self.sketch.get_estimate())
            low_b = math.floor(self.sketch.get_lower_bound(NUM_STD_DEV))
            high_b = math.ceil(self.sketch.get_upper_bound(NUM_STD_DEV))
            out.distinct_estimate, out.distinct_method = estimate, "hll"
            out.distinct_bounds = [low_b, high_b]
            out.distinct_relative_error = round((high_b - low_b) / 2 / estimate, 5) if estimate else 0.0
        elif self.uniques is not None:
            exact = len(self.uniques)
            out.distinct_estimate, out.distinct_method = exact, "exact"
            out.distinct_bounds, out.distinct_relative_error = [exact, exact], 0.0
        pairs = self.summary.top(top)
        values = from_physical([v for v, _ in pairs], self.type)
        out.top_values = [TopValue(value=cells.value(v), count=c) for v, (_, c) in zip(values, pairs, strict=True)]
        out.top_values_max_error = self.summary.max_error
        return out


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
