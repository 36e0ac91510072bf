"""Cell values of the tabular formats: text and JSON values parsed as a column type, and
type inference from a sample.

:func:`parse_text` parses a text cell the way Apache Arrow's CSV converters do, so the
precise path and the Arrow path agree on what a valid value is; :func:`arrow_type_for` is
the Arrow type the CSV fast path converts a column to. :func:`parse_json_value` checks a
decoded JSON value. The checks that use them are in :mod:`.tabular`.

Type inference (no declared schema) samples the first records: a column whose sampled
non-empty values all fit a type except at most ``max(1, 10 %)`` of them (frictionless'
confidence of 0.9, and never fewer than one outlier, so one bad value among three is still
an outlier, not a reason to widen) *is* of that type, and every other value, anywhere in the
file, is a ``type-error`` at its row. The only widening allowed is integer → number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa

from dataproduct_mcp.domain.schema import ColumnType

__all__ = [
    "INFER_CONFIDENCE",
    "arrow_type_for",
    "infer_json_type",
    "infer_text_type",
    "parse_json_value",
    "parse_text",
]

INFER_CONFIDENCE = 0.9
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
