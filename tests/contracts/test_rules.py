"""evaluate_rules: measured counts against thresholds; failures are constraint-error findings,
rules that were not checked are schema-mismatch warnings that say so."""

from __future__ import annotations

from typing import Any

import pytest
from tests.contracts.contract_factories import contract

from dataproduct_mcp.contracts import contract_checks, evaluate_rules, measurements_for
from dataproduct_mcp.contracts.rules import acceptance_covers, accepts
from dataproduct_mcp.domain.contract import (
    ContractStats,
    Measurement,
    Metric,
    Operator,
    QualityRule,
    RuleUnit,
    UncheckedRule,
)
from dataproduct_mcp.domain.validation import FindingCode

NULLS = Measurement(metric=Metric.null_values, columns=("email",))
ROWS = Measurement(metric=Metric.row_count)


def _rule(measurement: Measurement, op: str, threshold: Any, unit: str = "rows", **extra: Any) -> QualityRule:
    return QualityRule(
        location="schema[0].properties[1].quality[0]",
        measurement=measurement,
        operator=Operator(op),
        threshold=threshold,
        unit=RuleUnit(unit),
        **extra,
    )


@pytest.mark.parametrize(
    ("op", "threshold", "passing", "failing"),
    [
        ("mustBe", 0, [0], [1, 5]),
        ("mustNotBe", 3, [0, 2, 4], [3]),
        ("mustBeGreaterThan", 10, [11, 1000], [10, 0]),
        ("mustBeGreaterOrEqualTo", 10, [10, 11], [9]),
        ("mustBeLessThan", 10, [0, 9], [10, 11]),
        ("mustBeLessOrEqualTo", 10, [10], [11]),
        ("mustBeBetween", (5, 10), [5, 7, 10], [4, 11]),
        ("mustNotBeBetween", (5, 10), [4, 11], [5, 10]),
    ],
)
def test_each_operator_accepts_what_odcs_says(op: str, threshold: Any, passing: list[int], failing: list[int]) -> None:
    for value in passing:
        assert accepts(Operator(op), threshold, value), value
    for value in failing:
        assert not accepts(Operator(op), threshold, value), value


def _table(result: Any) -> dict[str, list[tuple[str, str | None, str | None]]]:
    def rows(findings: list[Any]) -> list[tuple[str, str | None, str | None]]:
        return [(f.code.value, f.column_name, f.value) for f in findings]

    return {"errors": rows(result.errors), "warnings": rows(result.warnings)}


def test_a_failed_rule_is_a_constraint_error_naming_column_and_measured_value() -> None:
    stats = ContractStats(rows=100)
    stats.record(NULLS, 3)
    result = evaluate_rules([_rule(NULLS, "mustBe", 0, severity="error")], stats)
    assert _table(result) == {"errors": [("constraint-error", "email", "3")], "warnings": []}
    assert result.checked == 1
    assert "schema[0].properties[1].quality[0]" in result.errors[0].message


def test_percent_rules_divide_by_the_row_count() -> None:
    stats = ContractStats(rows=200)
    stats.record(NULLS, 3)  # 1.5 %
    assert _table(evaluate_rules([_rule(NULLS, "mustBeLessThan", 1, "percent")], stats))["errors"] == [
        ("constraint-error", "email", "1.5")
    ]
    assert evaluate_rules([_rule(NULLS, "mustBeLessThan", 2, "percent")], stats).errors == []


def test_percent_of_no_rows_is_zero() -> None:
    stats = ContractStats(rows=0)
    stats.record(NULLS, 0)
    assert evaluate_rules([_rule(NULLS, "mustBe", 0, "percent")], stats).errors == []
    assert _table(evaluate_rules([_rule(NULLS, "mustBeGreaterThan", 0, "percent")], stats))["errors"] == [
        ("constraint-error", "email", "0")
    ]


def test_row_count_rules_use_the_rows_without_a_measurement() -> None:
    stats = ContractStats(rows=42)
    result = evaluate_rules([_rule(ROWS, "mustBeBetween", (100, 120)), _rule(ROWS, "mustBeGreaterThan", 10)], stats)
    assert _table(result) == {"errors": [("constraint-error", None, "42")], "warnings": []}
    assert result.checked == 2


@pytest.mark.parametrize(
    ("severity", "where"), [("info", "warnings"), ("warning", "warnings"), ("error", "errors"), (None, "errors")]
)
def test_a_rule_of_severity_info_or_warning_fails_as_a_warning(severity: str | None, where: str) -> None:
    stats = ContractStats(rows=10)
    stats.record(NULLS, 1)
    table = _table(evaluate_rules([_rule(NULLS, "mustBe", 0, severity=severity)], stats))
    assert table[where] == [("constraint-error", "email", "1")]
    assert table["errors" if where == "warnings" else "warnings"] == []


def test_rules_that_were_not_checked_or_not_measured_are_schema_mismatch_warnings() -> None:
    unchecked = UncheckedRule(location="schema[0].quality[0]", what="quality rule of type sql", reason="no SQL")
    result = evaluate_rules([unchecked, _rule(NULLS, "mustBe", 0)], ContractStats(rows=10))  # nulls not measured
    assert _table(result) == {
        "errors": [],
        "warnings": [("schema-mismatch", None, None), ("schema-mismatch", "email", None)],
    }
    assert result.checked == 0
    assert all(f.message.startswith("not checked:") for f in result.warnings)


def test_measurements_are_shared_between_rules_that_need_the_same_count() -> None:
    rules = [
        _rule(NULLS, "mustBeLessThan", 5),
        _rule(NULLS, "mustBeLessThan", 1, "percent"),
        _rule(ROWS, "mustBeGreaterThan", 0),
        UncheckedRule(location="x", what="y", reason="z"),
    ]
    assert measurements_for(rules) == [NULLS]


def test_a_contract_end_to_end_from_rules_to_findings() -> None:
    checks = contract_checks(
        contract(
            [
                {"name": "id", "logicalType": "integer", "primaryKey": True},
                {
                    "name": "unit",
                    "logicalType": "string",
                    "quality": [
                        {"metric": "invalidValues", "mustBeLessThan": 5, "arguments": {"validValues": ["kg", "lb"]}},
                        {"metric": "nullValues", "mustBeLessOrEqualTo": 10, "unit": "percent", "severity": "warning"},
                        {"type": "sql", "query": "SELECT 1", "mustBe": 1},
                    ],
                },
            ],
            quality=[{"metric": "rowCount", "mustBeGreaterOrEqualTo": 100}],
        )
    )
    stats = ContractStats(rows=50)
    for m in checks.measurements:
        stats.record(m, {"invalidValues": 7, "nullValues": 10}[m.metric.value])
    result = evaluate_rules(checks.rules, stats)
    assert _table(result) == {
        "errors": [("constraint-error", "unit", "7"), ("constraint-error", None, "50")],
        "warnings": [("constraint-error", "unit", "20"), ("schema-mismatch", "unit", None)],
    }
    assert {f.code for f in result.errors} == {FindingCode.constraint_error}


def test_stats_refuse_negative_counts() -> None:
    with pytest.raises(ValueError):
        ContractStats(rows=1).record(NULLS, -1)
    with pytest.raises(ValueError):
        ContractStats(rows=-1)


@pytest.mark.parametrize(
    ("old", "new", "unit", "covered"),
    [
        (("mustBeLessThan", 10), ("mustBeLessThan", 20), "rows", True),
        (("mustBeLessThan", 20), ("mustBeLessThan", 10), "rows", False),
        (("mustBeLessThan", 1), ("mustBe", 0), "rows", True),  # the same on whole counts
        (("mustBe", 0), ("mustBeLessThan", 1), "rows", True),
        (("mustBeLessThan", 1), ("mustBe", 0), "percent", False),  # 0.5 % was fine, is not now
        (("mustBeLessOrEqualTo", 100), ("mustBeGreaterOrEqualTo", 0), "percent", True),
        (("mustBeBetween", (10, 20)), ("mustBeBetween", (5, 25)), "rows", True),
        (("mustBeBetween", (5, 25)), ("mustBeBetween", (10, 20)), "rows", False),
        (("mustNotBe", 3), ("mustNotBeBetween", (2, 4)), "rows", False),
        (("mustNotBeBetween", (2, 4)), ("mustNotBe", 3), "rows", True),
        (("mustBeGreaterThan", 1000000), ("mustBeGreaterOrEqualTo", 1000000), "rows", True),
        (("mustBeGreaterOrEqualTo", 1000000), ("mustBeGreaterThan", 1000000), "rows", False),
    ],
)
def test_a_new_threshold_covers_the_old_one_exactly_when_nothing_old_is_rejected(
    old: tuple[str, Any], new: tuple[str, Any], unit: str, covered: bool
) -> None:
    assert acceptance_covers((Operator(new[0]), new[1]), (Operator(old[0]), old[1]), RuleUnit(unit)) is covered
