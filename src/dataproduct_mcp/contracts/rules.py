"""Evaluating contract quality rules on a validator's measurements, and the comparison
operators' semantics (shared with the breaking-change rules of :mod:`.diff`).

A rule passes when its measured value lies in the set its operator accepts: ``mustBe: 0`` is
``{0}``, ``mustBeLessThan: 5`` is ``(-inf, 5)``, ``mustBeBetween: [a, b]`` is ``[a, b]`` (both
ends inclusive, as in SQL ``BETWEEN``), ``mustNotBeBetween: [a, b]`` everything outside ``[a, b]``.
Values are counts of rows (``unit: rows``, the default: whole numbers from 0) or percentages of
the rows (``unit: percent``: 0 to 100).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dataproduct_mcp.domain.contract import (
    ContractStats,
    Measurement,
    Metric,
    Operator,
    QualityRule,
    RuleUnit,
    UncheckedRule,
)
from dataproduct_mcp.domain.validation import Finding, FindingCode

__all__ = ["RuleEvaluation", "accepts", "acceptance_covers", "evaluate_rules", "measurements_for"]

Interval = tuple[float, bool, float, bool]  # low, low inclusive, high, high inclusive
_INF = math.inf
_WARNING_SEVERITIES = frozenset({"info", "warning"})


def _intervals(operator: Operator, threshold: float | tuple[float, float]) -> list[Interval]:
    if isinstance(threshold, tuple):
        low, high = threshold
        if operator is Operator.must_be_between:
            return [(low, True, high, True)]
        if operator is Operator.must_not_be_between:
            return [(-_INF, False, low, False), (high, False, _INF, False)]
        raise ValueError(f"{operator} takes one number, not a pair")
    x = float(threshold)
    table: dict[Operator, list[Interval]] = {
        Operator.must_be: [(x, True, x, True)],
        Operator.must_not_be: [(-_INF, False, x, False), (x, False, _INF, False)],
        Operator.must_be_greater_than: [(x, False, _INF, False)],
        Operator.must_be_greater_or_equal_to: [(x, True, _INF, False)],
        Operator.must_be_less_than: [(-_INF, False, x, False)],
        Operator.must_be_less_or_equal_to: [(-_INF, False, x, True)],
    }
    if operator not in table:
        raise ValueError(f"{operator} takes a pair of numbers")
    return table[operator]


def _in(interval: Interval, value: float) -> bool:
    low, low_in, high, high_in = interval
    return (low < value or (low_in and low == value)) and (value < high or (high_in and value == high))


def accepts(operator: Operator, threshold: float | tuple[float, float], value: float) -> bool:
    """Whether a measured ``value`` passes ``operator`` with ``threshold``."""
    return any(_in(i, value) for i in _intervals(operator, threshold))


def _domain(intervals: list[Interval], unit: RuleUnit) -> list[Interval]:
    """Intervals restricted to what a measurement can be: whole counts from 0, or 0-100 percent.
    Count intervals become closed integer ranges, so ``< 1`` and ``= 0`` compare as equal."""
    out: list[Interval] = []
    for low, low_in, high, high_in in intervals:
        if unit is RuleUnit.rows:
            first = 0.0 if low < 0 else float(math.ceil(low) if low_in else math.floor(low) + 1)
            last = high if math.isinf(high) else float(math.floor(high) if high_in else math.ceil(high) - 1)
            if last >= first:
                out.append((first, True, last, True))
        else:
            lo, li = (low, low_in) if low > 0 else (0.0, True)
            hi, hin = (high, high_in) if high < 100 else (100.0, True)
            if lo < hi or (lo == hi and li and hin):
                out.append((lo, li, hi, hin))
    return out


def _contains(outer: Interval, inner: Interval) -> bool:
    o_lo, o_li, o_hi, o_hi_in = outer
    i_lo, i_li, i_hi, i_hi_in = inner
    low_ok = o_lo < i_lo or (o_lo == i_lo and (o_li or not i_li))
    high_ok = i_hi < o_hi or (i_hi == o_hi and (o_hi_in or not i_hi_in))
    return low_ok and high_ok


def acceptance_covers(
    new: tuple[Operator, float | tuple[float, float]], old: tuple[Operator, float | tuple[float, float]], unit: RuleUnit
) -> bool:
    """True if every measurement the ``old`` rule accepts the ``new`` one accepts too (the rule was
    not tightened). Intervals of one operator are disjoint and never touch, so an old interval is
    covered exactly when one new interval contains it."""
    outer = _domain(_intervals(*new), unit)
    return all(any(_contains(o, i) for o in outer) for i in _domain(_intervals(*old), unit))


@dataclass
class RuleEvaluation:
    """Findings of a contract's rules: failed rules are ``constraint-error`` findings (among the
    warnings when the rule's ODCS severity is info or warning); rules that were not checked are
    ``schema-mismatch`` warnings saying so."""

    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    checked: int = 0  # rules whose measured value was compared with the threshold


def _subject(m: Measurement) -> str:
    if m.metric is Metric.row_count:
        return "rowCount"
    if len(m.columns) == 1:
        return f"{m.metric.value} of {m.columns[0]}"
    return f"{m.metric.value} of ({', '.join(m.columns)})"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def _requirement(rule: QualityRule) -> str:
    t = rule.threshold
    shown = f"[{_number(t[0])}, {_number(t[1])}]" if isinstance(t, tuple) else _number(t)
    return f"{rule.operator.value} {shown}"


def measurements_for(rules: Iterable[QualityRule | UncheckedRule]) -> list[Measurement]:
    """The counts a validator must take for ``rules`` (each once; rowCount needs none beyond the rows)."""
    seen: dict[str, Measurement] = {}
    for rule in rules:
        if isinstance(rule, QualityRule) and rule.measurement.metric is not Metric.row_count:
            seen.setdefault(rule.measurement.key, rule.measurement)
    return list(seen.values())


def evaluate_rules(rules: Sequence[QualityRule | UncheckedRule], stats: ContractStats) -> RuleEvaluation:
    """Compare each rule's measured value with its threshold (module docstring)."""
    result = RuleEvaluation()
    for rule in rules:
        if isinstance(rule, UncheckedRule):
            result.warnings.append(
                Finding(
                    code=FindingCode.schema_mismatch,
                    message=f"not checked: {rule.what} at {rule.location}: {rule.reason}",
                    column=None,
                    column_name=rule.column,
                    value=None,
                )
            )
            continue
        count = stats.count(rule.measurement)
        if count is None:
            result.warnings.append(
                Finding(
                    code=FindingCode.schema_mismatch,
                    message=f"not checked: {_subject(rule.measurement)} ({rule.location}): not measured in this file",
                    column=None,
                    column_name=rule.column,
                    value=None,
                )
            )
            continue
        value = float(count) if rule.unit is RuleUnit.rows else (count * 100.0 / stats.rows if stats.rows else 0.0)
        result.checked += 1
        if accepts(rule.operator, rule.threshold, value):
            continue
        unit = "rows" if rule.unit is RuleUnit.rows else "%"
        named = f" {rule.name!r}" if rule.name else ""
        finding = Finding(
            code=FindingCode.constraint_error,
            message=(
                f"quality rule{named} failed: {_subject(rule.measurement)} is {_number(value)} {unit},"
                f" the contract requires {_requirement(rule)} {unit} ({rule.location})"
            ),
            column=None,
            column_name=rule.column,
            value=_number(value),
        )
        (result.warnings if (rule.severity or "").lower() in _WARNING_SEVERITIES else result.errors).append(finding)
    return result
