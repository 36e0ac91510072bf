"""ODCS v3.1 ``quality`` entries as typed rules (see :mod:`dataproduct_mcp.domain.contract`).

Library rules (``type: library``, or no type and a ``metric``) with a known metric, unit ``rows``
or ``percent`` and a numeric threshold become :class:`QualityRule`; everything else (``text``,
``sql``, ``custom``, a deprecated ``rule`` name, another unit, a non-numeric ``mustBe``, a metric
at a level where it has no column) becomes an :class:`UncheckedRule` that says why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from dataproduct_mcp.contracts.documents import location_of
from dataproduct_mcp.domain.contract import Measurement, Metric, Operator, QualityRule, RuleUnit, UncheckedRule

__all__ = ["DEFAULT_MISSING_VALUES", "is_zero_tolerance", "quality_rule", "rule_identity"]

DEFAULT_MISSING_VALUES: tuple[None, str] = (None, "")
_PAIR_OPERATORS = (Operator.must_be_between, Operator.must_not_be_between)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _operator(rule: Mapping[str, Any]) -> tuple[Operator, float | tuple[float, float]] | str:
    """The rule's one operator and threshold, or why there is none we can use."""
    given = [op for op in Operator if op.value in rule]
    if len(given) != 1:
        return "it needs exactly one comparison operator"
    op = given[0]
    raw = rule[op.value]
    if op in _PAIR_OPERATORS:
        pair = [_number(v) for v in raw] if isinstance(raw, list) and len(raw) == 2 else [None]
        if None in pair:
            return f"{op.value} needs two numbers"
        low, high = pair
        assert low is not None and high is not None
        return op, (low, high)
    x = _number(raw)
    return (op, x) if x is not None else f"{op.value} {raw!r} is not a number"


def _scalars(values: Any) -> tuple[Any, ...] | None:
    if not isinstance(values, list) or any(isinstance(v, dict | list) for v in values):
        return None
    return tuple(values)


def quality_rule(
    rule: Mapping[str, Any], path: Sequence[Any], *, column: str | None, level: str = "property"
) -> QualityRule | UncheckedRule:
    """One ODCS quality entry at ``path`` (of a property named ``column``, or of a schema object)."""
    location = location_of(path)

    def unchecked(what: str, reason: str) -> UncheckedRule:
        return UncheckedRule(location=location, what=what, reason=reason, column=column)

    kind = rule.get("type", "library")
    if kind == "text":
        return unchecked("text quality rule", "it describes quality in words; there is nothing to measure")
    if kind == "sql":
        return unchecked("quality rule of type sql", "this server runs no SQL against files")
    if kind == "custom":
        return unchecked(f"quality rule for engine {rule.get('engine')!r}", "custom engines are not run here")
    metric_name = rule.get("metric")
    if metric_name is None:
        what = f"quality rule {rule.get('rule')!r}" if "rule" in rule else "quality rule without a metric"
        return unchecked(what, "only the ODCS v3.1 library metrics are evaluated (give `metric`)")
    try:
        metric = Metric(metric_name)
    except ValueError:
        return unchecked(f"metric {metric_name!r}", "not an ODCS v3.1 library metric")
    try:
        unit = RuleUnit(rule.get("unit", "rows"))
    except ValueError:
        return unchecked(f"{metric.value} rule with unit {rule.get('unit')!r}", "only rows and percent are measured")
    operator = _operator(rule)
    if isinstance(operator, str):
        return unchecked(f"{metric.value} rule", operator)
    arguments: Mapping[str, Any] = rule["arguments"] if isinstance(rule.get("arguments"), Mapping) else {}
    if metric is Metric.row_count:
        if unit is RuleUnit.percent:
            return unchecked("rowCount rule in percent", "a row count has no percentage")
        measurement = Measurement(metric=metric)
    elif level == "schema":
        names = arguments.get("properties")
        if metric is Metric.duplicate_values and isinstance(names, list) and names:
            measurement = Measurement(metric=metric, columns=tuple(str(n) for n in names))
        else:
            return unchecked(
                f"schema-level {metric.value} rule",
                "give it arguments.properties (duplicateValues), or move it to the property it is about",
            )
    else:
        assert column is not None
        if metric in (Metric.null_values, Metric.duplicate_values):
            measurement = Measurement(metric=metric, columns=(column,))
        elif metric is Metric.missing_values:
            values = _scalars(arguments.get("missingValues", list(DEFAULT_MISSING_VALUES)))
            if values is None:
                return unchecked("missingValues rule", "arguments.missingValues must be a list of plain values")
            measurement = Measurement(metric=metric, columns=(column,), values=values)
        else:
            values = _scalars(arguments["validValues"]) if "validValues" in arguments else None
            pattern = arguments.get("pattern")
            if ("validValues" in arguments and values is None) or (
                pattern is not None and not isinstance(pattern, str)
            ):
                return unchecked("invalidValues rule", "validValues must be a list of plain values, pattern a string")
            if values is None and pattern is None:
                return unchecked("invalidValues rule", "it needs arguments.validValues or arguments.pattern")
            measurement = Measurement(metric=metric, columns=(column,), values=values, pattern=pattern)
    op, threshold = operator
    return QualityRule(
        location=location,
        measurement=measurement,
        operator=op,
        threshold=threshold,
        unit=unit,
        name=rule.get("name") if isinstance(rule.get("name"), str) else None,
        description=rule.get("description") if isinstance(rule.get("description"), str) else None,
        severity=rule.get("severity") if isinstance(rule.get("severity"), str) else None,
    )


def is_zero_tolerance(rule: QualityRule) -> bool:
    """Whether the rule allows no offending value at all (then it is a column constraint): a
    count that must be 0, at most 0, or below 1 row; severity error or none. (A between pair
    must hold two different numbers, so no between rule is zero-tolerance.)"""
    if (rule.severity or "error").lower() != "error":
        return False
    op, t = rule.operator, rule.threshold
    if isinstance(t, tuple):
        return False
    if op in (Operator.must_be, Operator.must_be_less_or_equal_to):
        return t == 0
    return op is Operator.must_be_less_than and rule.unit is RuleUnit.rows and 0 < t <= 1


def rule_identity(rule: Mapping[str, Any]) -> str:
    """What a quality entry is about, independent of its threshold and wording (for diffs)."""
    kind = rule.get("type", "library")
    fields: dict[str, Any] = {"type": kind}
    if kind == "text":
        fields["description"] = rule.get("description")
    elif kind == "sql":
        fields["query"] = rule.get("query")
    elif kind == "custom":
        fields.update(engine=rule.get("engine"), implementation=rule.get("implementation"))
    else:
        fields.update(metric=rule.get("metric", rule.get("rule")), arguments=rule.get("arguments"))
    fields["unit"] = rule.get("unit", "rows")
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
