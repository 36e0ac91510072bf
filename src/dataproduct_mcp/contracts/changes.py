"""Change records of a contract diff and the comparisons of single values they are built from.

A change is *breaking* when data that met the old contract may fail the new one, or a consumer
relying on the old contract may break: something removed, a type changed (other than widening
integer to number), a constraint or quality rule added or tightened, a key or name changed.
:func:`version_verdict` judges a version step against the changes (SemVer 2.0.0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from dataproduct_mcp.domain.contract_diff import Bump, Change, ChangeKind
from dataproduct_mcp.domain.products import semver_key

__all__ = ["Bump", "Change", "ChangeKind", "Changes", "version_verdict"]

_RANK = {"none": 0, "patch": 1, "minor": 2, "major": 3}


# Changes a consumer cannot see in the data: a patch release is enough for them.
METADATA_KINDS = frozenset({ChangeKind.description_changed, ChangeKind.metadata_changed, ChangeKind.version_changed})


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


class Changes:
    """Collects changes; the comparison helpers name the breaking direction once."""

    def __init__(self) -> None:
        self.items: list[Change] = []

    def add(self, kind: ChangeKind, path: str, breaking: bool, message: str) -> None:
        self.items.append(Change(kind=kind, path=path, breaking=breaking, message=message))

    def bound(self, path: str, old: Any, new: Any, *, lower: bool, what: str = "range") -> None:
        """A lower (``lower``) or upper bound: adding or moving it inwards tightens."""
        if old == new:
            return
        tight = ChangeKind.length_tightened if what == "length" else ChangeKind.range_tightened
        wide = ChangeKind.length_widened if what == "length" else ChangeKind.range_widened
        side = "lower" if lower else "upper"
        if old is None:
            self.add(tight, path, True, f"{side} bound {show(new)} added")
        elif new is None:
            self.add(wide, path, False, f"{side} bound {show(old)} removed")
        elif isinstance(old, str) != isinstance(new, str) or isinstance(old, bool) or isinstance(new, bool):
            self.add(ChangeKind.range_changed, path, True, f"{side} bound changed from {show(old)} to {show(new)}")
        else:
            tighter = new > old if lower else new < old
            self.add(tight if tighter else wide, path, tighter, f"{side} bound {show(old)} -> {show(new)}")

    def flag(self, path: str, old: bool, new: bool, added: ChangeKind, removed: ChangeKind, what: str) -> None:
        if old != new:
            kind = added if new else removed
            self.add(kind, path, new, f"{what} {'added' if new else 'removed'}")

    def values(self, path: str, old: list[Any] | None, new: list[Any] | None) -> None:
        """Allowed values: fewer (or a list where there was none) narrows."""
        if old == new:
            return
        if new is None:
            self.add(ChangeKind.valid_values_widened, path, False, "the list of valid values was removed")
            return
        new_keys = {show(v) for v in new}
        if old is None:
            self.add(ChangeKind.valid_values_narrowed, path, True, f"values are now limited to {show(new)}")
            return
        gone = [v for v in old if show(v) not in new_keys]
        if gone:
            self.add(ChangeKind.valid_values_narrowed, path, True, f"no longer valid: {show(gone)}")
        elif new_keys != {show(v) for v in old}:
            added = [v for v in new if show(v) not in {show(o) for o in old}]
            self.add(ChangeKind.valid_values_widened, path, False, f"also valid now: {show(added)}")

    def metadata(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any], keys: set[str]) -> None:
        """Keys that describe rather than constrain: any change is non-breaking (mappings such as
        ``description`` are compared key by key)."""
        for key in sorted(keys):
            a, b = old.get(key), new.get(key)
            if a == b:
                continue
            where = f"{path}.{key}" if path else key
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                self.metadata(where, a, b, set(a) | set(b))
                continue
            described = key in ("description", "businessName", "purpose", "usage", "limitations")
            kind = ChangeKind.description_changed if described else ChangeKind.metadata_changed
            self.add(kind, where, False, f"{key} changed from {show(a)} to {show(b)}")


def _bump(old: str, new: str) -> Literal["major", "minor", "patch", "none", "downgrade", "unknown"]:
    try:
        a, b = semver_key(old), semver_key(new)
    except ValueError:
        return "unknown"
    if b < a:
        return "downgrade"
    if b[0] > a[0]:
        return "major"
    if b[1] > a[1]:
        return "minor"
    return "patch" if b > a else "none"


def version_verdict(old: str, new: str, changes: list[Change]) -> dict[str, Any]:
    """required_bump, actual_bump, version_ok and verdict of a step from version ``old`` to ``new``."""
    breaking = [c for c in changes if c.breaking]
    changes = [c for c in changes if c.kind is not ChangeKind.version_changed]
    required: Bump = (
        "major"
        if breaking
        else ("minor" if any(c.kind not in METADATA_KINDS for c in changes) else ("patch" if changes else "none"))
    )
    actual = _bump(old, new)
    needed = required
    if required == "major" and actual != "unknown" and semver_key(old)[0] == 0:
        needed = "minor"  # SemVer 4: in 0.y.z anything may change, a minor step announces it
    ok = actual not in ("unknown", "downgrade") and _RANK[actual] >= _RANK[needed]
    step = f"{old} -> {new}"
    if actual == "unknown":
        verdict = f"the versions ({step}) are not both SemVer, so the step cannot be checked"
    elif actual == "downgrade":
        verdict = f"the version goes down ({step})"
    elif ok:
        verdict = f"the {actual} step {step} fits the changes (at least {needed} needed)" if changes else "no changes"
    else:
        what = f"{len(breaking)} breaking change(s)" if breaking else f"{len(changes)} change(s)"
        verdict = f"{what} but the version step is {actual} ({step}): a {needed} bump is required"
    return {"required_bump": required, "actual_bump": actual, "version_ok": ok, "verdict": verdict}
