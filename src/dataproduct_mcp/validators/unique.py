"""Bounded-memory duplicate detection, over the whole file.

:class:`UniqueTracker` (``unique`` columns, which report each repeat at its row) keeps a set of
64-bit value hashes per column, at most ``UNIQUE_CAP`` entries for the whole file (about 70 MB at
the cap). When the cap is hit a warning says from which row uniqueness stopped being checked;
collisions of the 64-bit hash are possible in theory (about 1 in 10^7 at the cap) and would show
as a false ``unique-error``. The shared :class:`~dataproduct_mcp.validators.tabular.TableChecker`
owns one per file.

:class:`DistinctHashes` counts distinct values for a contract's ``duplicateValues`` rule, which
needs a count, not positions: :func:`hash_rows` hashes whole Arrow columns (one or several, a
row's tuple) with numpy, and the distinct hashes are kept as sorted ``uint64`` arrays, at most
``options.distinct_cap`` of them (8 bytes each; 32 MB at the default cap of 4 M, about three times
that while hashes wait and are merged). Past the cap the count is given up (``size`` is None: the rule
is reported as not checked, never with a wrong count). A 64-bit collision would make two values
one, so a count could be one too high: about 1 in 10^6 at the cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators.base import ValidationContext

__all__ = ["UNIQUE_CAP", "DistinctHashes", "UniqueTracker", "hash_rows"]

UNIQUE_CAP = 1_000_000


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


# -- counting distinct values (contract duplicateValues) ------------------------------------------
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x5BD1E9955BD1E995)  # the hash of a null inside a tuple
_TABLE_BITS = 16
_SAMPLE = 512  # values of a text batch looked at to decide whether it repeats itself


def _mix(x: np.ndarray, *, inplace: bool = False, floats: bool = False) -> np.ndarray:
    """splitmix64's finaliser, element-wise (uint64 arithmetic wraps); in place on ``x`` or on a
    copy, with one scratch array (fresh arrays per step cost page faults). ``floats``: ``x`` holds
    float64 values, mixed by their bits."""
    x = x if inplace else x.copy()
    if floats:
        x = x.view(np.uint64)
    tmp = np.empty_like(x)
    for shift, factor in ((30, _M1), (27, _M2), (31, None)):
        np.right_shift(x, np.uint64(shift), out=tmp)
        np.bitwise_xor(x, tmp, out=x)
        if factor is not None:
            np.multiply(x, factor, out=x)
    return x


with np.errstate(over="ignore"):
    _WEIGHTS = _mix(np.arange(1 << _TABLE_BITS, dtype=np.uint64) + _GOLDEN)  # one weight per byte position


def _weights(pos: np.ndarray) -> np.ndarray:
    w = _WEIGHTS[np.minimum(pos, (1 << _TABLE_BITS) - 1)]
    far = pos >= (1 << _TABLE_BITS)
    if far.any():  # the same function beyond the table
        w[far] = _mix(pos[far].astype(np.uint64) + _GOLDEN)
    return w


def _hash_strings(arr: pa.Array) -> np.ndarray:
    """A 64-bit hash of each string's UTF-8 bytes: the sum of (byte + 1) times a pseudo-random weight
    of its position, mixed with the length (vectorised over the array's data buffer)."""
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    _, offsets_buffer, data_buffer = arr.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    lengths = np.diff(offsets)
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(data_buffer, dtype=np.uint8)[start:end] if data_buffer is not None and end > start else None
    if data is None:
        return _mix(lengths.astype(np.uint64), inplace=True)
    starts = offsets[:-1] - start
    pos = np.arange(end - start, dtype=np.int64) - np.repeat(starts, lengths)
    terms = np.append((data.astype(np.uint64) + np.uint64(1)) * _weights(pos), np.uint64(0))
    sums = np.add.reduceat(terms, np.minimum(starts, len(terms) - 1))
    sums[lengths == 0] = 0
    return _mix(sums ^ (lengths.astype(np.uint64) * _M2), inplace=True)


def _hash_text(arr: pa.Array) -> np.ndarray:
    """:func:`_hash_strings` of a batch of text. When a sample of it repeats values, only its
    distinct strings are hashed (Arrow's dictionary encoding finds them at ~15 ns a value; hashing
    bytes costs ~17 ns a byte) and spread back to the rows; mostly distinct text is hashed as is."""
    if len(arr) < 4 * _SAMPLE:
        return _hash_strings(arr)
    import pyarrow.compute as pc

    if len(pc.unique(arr.slice(0, _SAMPLE))) > _SAMPLE // 2:
        return _hash_strings(arr)
    encoded = pc.dictionary_encode(arr)
    if not len(encoded.dictionary):
        return np.zeros(len(arr), dtype=np.uint64)  # all null
    indices = _values(encoded.indices, np.int32)  # null slots hold anything: clipped, then masked
    return np.take(_hash_strings(encoded.dictionary), indices, mode="clip")


def _values(arr: pa.Array, dtype: type[np.generic]) -> np.ndarray:
    """The value buffer of a fixed-width array, without a copy (null slots hold anything)."""
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + len(arr))[arr.offset :]


def _hash_column(arr: pa.Array) -> np.ndarray:
    """A 64-bit hash of every value of ``arr`` (null slots give arbitrary values: mask them).
    Read straight from the buffers where the type allows: a pyarrow call per batch costs more
    than the hashing of a small batch."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return _hash_text(arr)
    if pa.types.is_timestamp(t) and t.unit != "us":
        arr, t = arr.cast(pa.timestamp("us"), safe=False), pa.timestamp("us")
    if t == pa.int64() or pa.types.is_timestamp(t):
        return _values(arr, np.int64).view(np.uint64)  # the value itself: no two integers collide
    if t == pa.float64():
        return _mix(_values(arr, np.float64) + 0.0, inplace=True, floats=True)  # -0.0 is 0.0
    if pa.types.is_date32(t):
        return _values(arr, np.int32).astype(np.int64).view(np.uint64)
    if pa.types.is_floating(t):
        return _hash_column(arr.cast(pa.float64()))
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return _hash_column(arr.cast(pa.int64(), safe=False))
    return _hash_strings(arr.cast(pa.string()))  # decimals, dates of another kind: by their text


def hash_rows(columns: Sequence[pa.Array], *, drop_nulls: bool) -> np.ndarray:
    """A 64-bit key per row of ``columns`` (equal-length arrays, one value type each): equal rows
    have equal keys, and distinct rows distinct ones but for 64-bit collisions (none among the
    integers of one column, which are their own key). With ``drop_nulls`` (one column: only its
    non-null values count) null rows are left out; otherwise a null is a value of the tuple."""
    with np.errstate(over="ignore"):
        combined: np.ndarray | None = None
        for arr in columns:
            h = _hash_column(arr)
            if arr.null_count and not drop_nulls:
                h = np.where(arr.is_null().to_numpy(zero_copy_only=False), _NULL, h)
            if combined is None:
                combined = h
            else:
                combined = _mix(combined, inplace=combined is not h and combined.flags.writeable)
                np.bitwise_xor(combined, h, out=combined)
        assert combined is not None
        if drop_nulls and columns[0].null_count:
            assert len(columns) == 1
            combined = combined[columns[0].is_valid().to_numpy(zero_copy_only=False)]
        return combined


def _sorted_unique(values: np.ndarray, *, runs: bool = False) -> np.ndarray:
    """Distinct values, sorted, of a fresh array (sorted in place: numpy's ``unique`` is slower
    than a sort for uint64). ``runs``: two sorted runs, which a stable sort (timsort) merges in
    linear time."""
    values.sort(kind="stable" if runs else "quicksort")
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values if keep.all() else values[keep]


class DistinctHashes:
    """The distinct row hashes of one ``duplicateValues`` measurement, at most ``cap`` of them
    (module docstring). Hashes wait unsorted until there are more of them than of the merged ones
    (and half the cap), then are sorted and merged: at most about twice the cap is held,
    and each hash is merged O(log n) times. ``values`` counts the rows (or non-null values) added."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.values = 0
        self.exhausted = False
        self._merged = np.empty(0, dtype=np.uint64)
        self._pending: list[np.ndarray] = []
        self._pending_size = 0

    def add(self, hashes: np.ndarray) -> None:
        self.values += len(hashes)
        if self.exhausted or not len(hashes):
            return
        self._pending.append(hashes)
        self._pending_size += len(hashes)
        if self._pending_size > max(len(self._merged), self.cap // 2, 1 << 16):
            self._merge()

    def union(self, other: DistinctHashes) -> None:
        """Add what ``other`` (of another file of a dataset) holds."""
        self.values += other.values
        if other.exhausted or other.size is None:
            self.exhausted = True
            self._drop()
        elif not self.exhausted:
            self._pending.append(other._merged)
            self._pending_size += len(other._merged)
            self._merge()

    def _merge(self) -> None:
        """Sort what is pending, then merge it with the sorted distinct hashes held."""
        pending = _sorted_unique(np.concatenate(self._pending)) if self._pending else self._merged[:0]
        merged = _sorted_unique(np.concatenate([self._merged, pending]), runs=True) if len(self._merged) else pending
        self._pending, self._pending_size = [], 0
        if len(merged) > self.cap:
            self.exhausted = True
            self._drop()
        else:
            self._merged = merged

    def _drop(self) -> None:
        self._merged = np.empty(0, dtype=np.uint64)
        self._pending, self._pending_size = [], 0

    @property
    def size(self) -> int | None:
        """Distinct values held, or None past the cap (the count is not taken)."""
        if self._pending and not self.exhausted:
            self._merge()
        return None if self.exhausted else len(self._merged)

    @property
    def duplicates(self) -> int | None:
        size = self.size
        return None if size is None else self.values - size
