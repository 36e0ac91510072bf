"""Bounded-memory duplicate detection for ``unique`` columns, over the whole file.

:class:`UniqueTracker` keeps a set of 64-bit value hashes per column, at most ``UNIQUE_CAP``
entries for the whole file (about 70 MB at the cap). When the cap is hit a warning says from
which row uniqueness stopped being checked; collisions of the 64-bit hash are possible in theory
(about 1 in 10^7 at the cap) and would show as a false ``unique-error``. The shared
:class:`~dataproduct_mcp.validators.tabular.TableChecker` owns one per file.
"""

from __future__ import annotations

from typing import Any

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators.base import ValidationContext

__all__ = ["UNIQUE_CAP", "UniqueTracker"]

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
