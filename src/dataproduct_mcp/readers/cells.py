"""Arrow values as JSON-safe Python values (the data views' rows, min/max and top values).

Blocking code over pyarrow. Top-level temporal columns are converted vectorised (Arrow's
``strftime``: nanoseconds survive, unlike ``datetime``); everything else goes through
``to_pylist`` and :class:`Cells`, which applies the rules below and remembers whether it cut
anything:

- date → ``"2024-05-01"``; timestamp → ``"2024-05-01T12:00:00.000000"`` (``+00:00`` when zoned);
  time → ``"12:00:00.000"``; duration → ``"PT1.5S"``;
- decimal → its string (no float rounding); NaN / ±inf → ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
- binary → ``{"$base64": "...", "length": n}`` (the first ``limit * 3 // 4`` bytes, ``"truncated": true``
  when cut);
- a string longer than ``limit`` characters → its first ``limit`` characters followed by ``…``;
- lists keep their first ``MAX_ITEMS`` items (then ``"…"``); structs are objects; maps are
  ``[[key, value], ...]``.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MAX_ITEMS", "PREVIEW_CHARS", "PROFILE_CHARS", "Cells", "python_values"]

PREVIEW_CHARS = 1000  # a preview cell's string is cut after this many characters
PROFILE_CHARS = 200  # a min, max or top value's string is cut after this many characters
MAX_ITEMS = 100  # items of one list value kept

_DURATION_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def _iso_zone(text: str | None) -> str | None:
    # strftime's %z is +0000; ISO 8601 extended format wants +00:00
    return None if text is None else f"{text[:-2]}:{text[-2:]}"


def python_values(arr: pa.Array) -> list[Any]:
    """The values of ``arr`` as Python objects, temporal types already as ISO 8601 strings."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            return pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S").to_pylist()
        texts = pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S%z").to_pylist()
        return [_iso_zone(x) for x in texts]
    if pa.types.is_date(t):
        return pc.strftime(arr, format="%Y-%m-%d").to_pylist()
    if pa.types.is_time(t):
        return arr.cast(pa.string()).to_pylist()
    if pa.types.is_duration(t):
        digits = _DURATION_DIGITS[t.unit]
        ticks = arr.cast(pa.int64()).to_pylist()
        return [None if v is None else f"PT{Decimal(v).scaleb(-digits).normalize():f}S" for v in ticks]
    try:
        return arr.to_pylist()
    except (pa.ArrowException, ValueError):  # e.g. nanosecond timestamps nested in a struct
        return [None if not s.is_valid else str(s) for s in arr]


class Cells:
    """Converts Python values (from :func:`python_values`) to JSON-safe ones, cutting long strings
    and binary at ``limit``; ``truncated`` tells whether anything was cut."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.truncated = False

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | int):
            return v
        if isinstance(v, str):
            if len(v) > self.limit:
                self.truncated = True
                return v[: self.limit] + "…"
            return v
        if isinstance(v, float):
            if math.isnan(v):
                return "NaN"
            if math.isinf(v):
                return "Infinity" if v > 0 else "-Infinity"
            return v
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, bytes | bytearray | memoryview):
            data = bytes(v)
            keep = max(1, self.limit * 3 // 4)
            out: dict[str, Any] = {"$base64": base64.b64encode(data[:keep]).decode("ascii"), "length": len(data)}
            if len(data) > keep:
                self.truncated = True
                out["truncated"] = True
            return out
        if isinstance(v, dt.datetime | dt.date | dt.time):
            return v.isoformat()
        if isinstance(v, dt.timedelta):
            return f"PT{Decimal(v.days * 86400 + v.seconds) + Decimal(v.microseconds).scaleb(-6):f}S"
        if isinstance(v, dict):
            return {str(k): self.value(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            items = [self.value(x) for x in v[:MAX_ITEMS]]
            if len(v) > MAX_ITEMS:
                self.truncated = True
                items.append("…")
            return items
        return self.value(str(v))

    def column(self, arr: pa.Array) -> list[Any]:
        return [self.value(v) for v in python_values(arr)]
