"""contract_checks: ODCS properties become this server's column constraints, whole-file quality
rules become typed rules, and whatever has no counterpart is listed as not checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.contracts.contract_factories import columns, contract

from dataproduct_mcp.contracts import contract_checks, parse_contract
from dataproduct_mcp.domain.contract import Measurement, Metric, Operator, QualityRule, RuleUnit, UncheckedRule
from dataproduct_mcp.errors import InvalidArgument

DATA = Path(__file__).resolve().parents[1] / "data" / "contracts" / "valid"


def _official(name: str, table: str | None = None) -> Any:
    return contract_checks(parse_contract((DATA / name).read_bytes()), table)


def _rules(checks: Any) -> list[tuple[str, str, str | None]]:
    """(location, kind, column) of each rule: 'rule:<metric>' or 'unchecked'."""
    out = []
    for r in checks.rules:
        kind = f"rule:{r.measurement.metric.value}" if isinstance(r, QualityRule) else "unchecked"
        out.append((r.location, kind, r.column))
    return out


def test_the_official_all_data_types_example_maps_to_these_columns() -> None:
    checks = _official("odcs-all-data-types.odcs.yaml")
    assert (checks.table, checks.location, checks.contract_version) == ("transactions_tbl", "schema[0]", "1.0.0")
    assert columns(checks.schema_) == [
        ("account_id", "string", {"pattern": "ACC[0-9]{8}", "min_length": 11, "max_length": 11}),
        ("txn_ref_date", "date", {"minimum": "2020-01-02", "maximum": "2021-01-01"}),  # exclusiveMinimum + 1 day
        ("txn_timestamp", "datetime", {"minimum": "2020-01-01 00:00:00", "maximum": "2021-01-01 00:00:00"}),
        ("amount", "number", {"minimum": 0.0}),
        ("age", "integer", {"minimum": 18.0, "maximum": 99.0}),  # exclusiveMaximum 100
        ("is_open", "boolean", {}),
        ("latest_txns", "string", {}),
        ("customer_details", "string", {}),
    ]
    assert _rules(checks) == [
        ("schema[0].properties[3].logicalTypeOptions.format", "unchecked", "amount"),  # f32
        ("schema[0].properties[6]", "unchecked", "latest_txns"),  # array
        ("schema[0].properties[7]", "unchecked", "customer_details"),  # object
    ]


def test_the_official_full_example_maps_keys_rules_and_relationships() -> None:
    tbl = _official("odcs-full-example.odcs.yaml", "tbl")
    assert columns(tbl.schema_) == [
        ("transaction_reference_date", "date", {}),
        ("rcvr_id", "string", {"required": True, "unique": True}),  # the only primary key
        ("rcvr_cntry_code", "string", {"required": True}),  # nullValues mustBe 0
    ]
    assert _rules(tbl) == [
        ("schema[0].properties[1].relationships[0]", "unchecked", "rcvr_id"),
        ("schema[0].quality[0]", "rule:rowCount", None),
        ("schema[0].relationships[0]", "unchecked", None),
    ]
    (row_count,) = [r for r in tbl.rules if isinstance(r, QualityRule)]
    assert (row_count.operator, row_count.threshold, row_count.unit) == (
        Operator.must_be_greater_than,
        1_000_000,
        RuleUnit.rows,
    )
    receivers = _official("odcs-full-example.odcs.yaml", "receivers_master")  # by physicalName
    assert receivers.table == "receivers"
    assert columns(receivers.schema_)[:2] == [
        ("id", "string", {"required": True, "unique": True}),
        ("country_code", "string", {"required": True}),  # part of a composite key: not unique alone
    ]
    composite = [r for r in receivers.rules if isinstance(r, QualityRule)]
    assert [(r.measurement, r.operator, r.threshold) for r in composite] == [
        (Measurement(metric=Metric.duplicate_values, columns=("id", "country_code")), Operator.must_be, 0)
    ]


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ({"logicalType": "timestamp"}, ("datetime", {})),
        ({"logicalType": "timestamp", "logicalTypeOptions": {"format": "yyyy-MM-dd'T'HH:mm:ssXXX"}}, ("datetime", {})),
        ({"logicalType": "date", "logicalTypeOptions": {"format": "yyyy-MM-dd HH:mm:ss"}}, ("datetime", {})),
        ({"logicalType": "date", "logicalTypeOptions": {"format": "dd/MM/yyyy"}}, ("string", {})),
        (
            {"logicalType": "date", "logicalTypeOptions": {"format": "dd/MM/yyyy", "minimum": "01/01/2020"}},
            ("string", {}),
        ),
        (
            {"logicalType": "date", "logicalTypeOptions": {"exclusiveMinimum": "2024-01-01", "minimum": "2024-01-05"}},
            ("date", {"minimum": "2024-01-05"}),
        ),
        (
            {
                "logicalType": "timestamp",
                "logicalTypeOptions": {"minimum": "2024-01-01T10:00:00", "exclusiveMinimum": "2024-01-01 09:00:00"},
            },
            ("datetime", {"minimum": "2024-01-01T10:00:00"}),  # compared as moments, not as text
        ),
        ({"logicalType": "time"}, ("string", {})),
        ({"physicalType": "VARCHAR(20)"}, ("string", {})),
        ({"physicalType": "bigint"}, ("integer", {})),
        ({"physicalType": "DECIMAL(10,2)"}, ("number", {})),
        ({"physicalType": "boolean"}, ("boolean", {})),
        ({"physicalType": "timestamp with time zone"}, ("datetime", {})),
        ({"physicalType": "date"}, ("date", {})),
        ({"physicalType": "geography"}, ("string", {})),
        ({}, ("string", {})),
        (
            {"logicalType": "integer", "logicalTypeOptions": {"format": "u8"}},
            ("integer", {"minimum": 0.0, "maximum": 255.0}),
        ),
        (
            {"logicalType": "integer", "logicalTypeOptions": {"format": "i16", "minimum": 0, "exclusiveMaximum": 10.5}},
            ("integer", {"minimum": 0.0, "maximum": 10.0}),
        ),
        ({"logicalType": "integer", "logicalTypeOptions": {"exclusiveMinimum": -1}}, ("integer", {"minimum": 0.0})),
        ({"logicalType": "number", "logicalTypeOptions": {"exclusiveMinimum": 0}}, ("number", {"minimum": 0.0})),
        (
            {"logicalType": "date", "logicalTypeOptions": {"exclusiveMaximum": "2024-03-01"}},
            ("date", {"maximum": "2024-02-29"}),
        ),
        ({"logicalType": "string", "required": True, "unique": True}, ("string", {"required": True, "unique": True})),
        ({"logicalType": "string", "primaryKey": True}, ("string", {"required": True, "unique": True})),
    ],
)
def test_types_and_options_map_to_column_specs(prop: dict[str, Any], expected: tuple[str, dict[str, Any]]) -> None:
    checks = contract_checks(contract([{"name": "c", **prop}]))
    assert columns(checks.schema_) == [("c", *expected)]


@pytest.mark.parametrize(
    ("prop", "what"),
    [
        ({"logicalType": "date", "logicalTypeOptions": {"format": "dd/MM/yyyy"}}, "type of 'c'"),
        ({"logicalType": "time"}, "type of 'c'"),
        ({"physicalType": "geography"}, "type of 'c'"),
        ({"logicalType": "number", "logicalTypeOptions": {"exclusiveMinimum": 0}}, "exclusiveMinimum 0"),
        ({"logicalType": "number", "logicalTypeOptions": {"multipleOf": 0.5}}, "logicalTypeOptions.multipleOf 0.5"),
        ({"logicalType": "string", "logicalTypeOptions": {"format": "email"}}, "logicalTypeOptions.format 'email'"),
        ({"logicalType": "integer", "logicalTypeOptions": {"format": "u64"}}, "format u64"),
        ({"logicalType": "timestamp", "logicalTypeOptions": {"timezone": True}}, "logicalTypeOptions.timezone True"),
        ({"logicalType": "date", "logicalTypeOptions": {"minimum": "last monday"}}, "minimum 'last monday'"),
        (
            {"logicalType": "date", "logicalTypeOptions": {"format": "dd/MM/yyyy", "maximum": "31/12/2020"}},
            "maximum '31/12/2020'",
        ),
        ({"logicalType": "time", "logicalTypeOptions": {"minimum": "09:00:00"}}, "minimum '09:00:00'"),
        ({"logicalType": "object", "properties": [{"name": "x"}]}, "nested properties of 'c'"),
    ],
)
def test_what_has_no_check_here_is_listed_as_unchecked(prop: dict[str, Any], what: str) -> None:
    checks = contract_checks(contract([{"name": "c", **prop}]))
    assert what in [r.what for r in checks.rules if isinstance(r, UncheckedRule)]
    assert all(r.column == "c" for r in checks.rules)


def _rule(**rule: Any) -> dict[str, Any]:
    return {"name": "c", "logicalType": "string", "quality": [rule]}


@pytest.mark.parametrize(
    ("rule", "constraints"),
    [
        ({"metric": "nullValues", "mustBe": 0}, {"required": True}),
        ({"metric": "nullValues", "mustBeLessThan": 1}, {"required": True}),
        ({"metric": "nullValues", "mustBeLessOrEqualTo": 0, "unit": "percent"}, {"required": True}),
        ({"metric": "missingValues", "mustBe": 0}, {"required": True}),  # default missing values: null and ''
        ({"metric": "duplicateValues", "mustBe": 0}, {"unique": True}),
        (
            {"metric": "invalidValues", "mustBe": 0, "arguments": {"validValues": ["a", None, "b"]}},
            {"enum": ["a", "b"]},
        ),
        ({"metric": "invalidValues", "mustBe": 0, "arguments": {"pattern": "^[a-z]+$"}}, {"pattern": "^[a-z]+$"}),
        (
            {"metric": "invalidValues", "mustBe": 0, "arguments": {"validValues": ["a"], "pattern": "a"}},
            {"enum": ["a"], "pattern": "a"},
        ),
    ],
)
def test_zero_tolerance_rules_become_column_constraints(rule: dict[str, Any], constraints: dict[str, Any]) -> None:
    checks = contract_checks(contract([_rule(**rule)]))
    assert columns(checks.schema_) == [("c", "string", constraints)]
    assert checks.rules == []


@pytest.mark.parametrize(
    ("rule", "measurement", "operator", "threshold", "unit"),
    [
        (
            {"metric": "nullValues", "mustBeLessThan": 1, "unit": "percent"},
            ("nullValues", None, None),
            "mustBeLessThan",
            1,
            "percent",
        ),
        ({"metric": "nullValues", "mustBe": 0, "severity": "warning"}, ("nullValues", None, None), "mustBe", 0, "rows"),
        (
            {"metric": "missingValues", "mustBeLessThan": 100, "arguments": {"missingValues": [None, "", "N/A"]}},
            ("missingValues", (None, "", "N/A"), None),
            "mustBeLessThan",
            100,
            "rows",
        ),
        (
            {"metric": "missingValues", "mustBe": 0, "arguments": {"missingValues": ["N/A"]}},
            ("missingValues", ("N/A",), None),
            "mustBe",
            0,
            "rows",
        ),
        (
            {
                "metric": "invalidValues",
                "mustBeLessOrEqualTo": 5,
                "unit": "percent",
                "arguments": {"validValues": ["", None, "n/a"]},
            },
            ("invalidValues", ("", None, "n/a"), None),
            "mustBeLessOrEqualTo",
            5,
            "percent",
        ),
        (
            {"metric": "duplicateValues", "mustBeLessThan": 10},
            ("duplicateValues", None, None),
            "mustBeLessThan",
            10,
            "rows",
        ),
        (
            {"metric": "rowCount", "mustNotBeBetween": [1, 9]},
            ("rowCount", None, None),
            "mustNotBeBetween",
            (1, 9),
            "rows",
        ),
        (
            {"type": "library", "metric": "nullValues", "mustNotBe": 3},
            ("nullValues", None, None),
            "mustNotBe",
            3,
            "rows",
        ),
    ],
)
def test_tolerant_rules_stay_file_level_rules(
    rule: dict[str, Any], measurement: tuple[Any, ...], operator: str, threshold: Any, unit: str
) -> None:
    checks = contract_checks(contract([_rule(**rule)]))
    (mapped,) = checks.rules
    assert isinstance(mapped, QualityRule)
    metric, values, pattern = measurement
    columns_ = () if metric == "rowCount" else ("c",)
    assert mapped.measurement == Measurement(metric=Metric(metric), columns=columns_, values=values, pattern=pattern)
    assert (mapped.operator.value, mapped.threshold, mapped.unit.value) == (operator, threshold, unit)
    assert mapped.location == "schema[0].properties[0].quality[0]"
    assert checks.measurements == ([] if metric == "rowCount" else [mapped.measurement])


def test_a_second_enum_rule_on_the_same_column_stays_a_rule() -> None:
    rules = [
        {"metric": "invalidValues", "mustBe": 0, "arguments": {"validValues": ["a", "b"]}},
        {"metric": "invalidValues", "mustBe": 0, "arguments": {"validValues": ["b", "c"]}},
    ]
    checks = contract_checks(contract([{"name": "c", "quality": rules}]))
    assert columns(checks.schema_) == [("c", "string", {"enum": ["a", "b"]})]
    assert [r.location for r in checks.rules] == ["schema[0].properties[0].quality[1]"]


@pytest.mark.parametrize(
    ("rule", "what"),
    [
        ({"type": "text", "description": "The email address was verified."}, "text quality rule"),
        ({"type": "sql", "query": "SELECT COUNT(*) FROM {object}", "mustBeLessThan": 3600}, "quality rule of type sql"),
        (
            {"type": "custom", "engine": "soda", "implementation": "type: duplicate_percent"},
            "quality rule for engine 'soda'",
        ),
        ({"description": "no metric at all"}, "quality rule without a metric"),
        ({"metric": "nullValues", "mustBe": 0, "unit": "bytes"}, "nullValues rule with unit 'bytes'"),
        ({"metric": "nullValues", "mustBe": "none"}, "nullValues rule"),
        ({"metric": "rowCount", "mustBe": 50, "unit": "percent"}, "rowCount rule in percent"),
        ({"metric": "invalidValues", "mustBe": 0}, "invalidValues rule"),
        ({"metric": "missingValues", "mustBe": 0, "arguments": {"missingValues": [["x"]]}}, "missingValues rule"),
    ],
)
def test_rules_that_are_not_evaluated_say_so(rule: dict[str, Any], what: str) -> None:
    checks = contract_checks(contract([_rule(**rule)]))
    (unchecked,) = checks.rules
    assert isinstance(unchecked, UncheckedRule)
    assert (unchecked.what, unchecked.location, unchecked.column) == (what, "schema[0].properties[0].quality[0]", "c")
    assert checks.measurements == []


def test_schema_level_rules_need_a_row_count_or_named_properties() -> None:
    quality = [
        {"metric": "rowCount", "mustBeGreaterOrEqualTo": 1},
        {"metric": "duplicateValues", "mustBe": 0, "arguments": {"properties": ["tenant", "id"]}},
        {"metric": "nullValues", "mustBe": 0},
    ]
    checks = contract_checks(contract([{"name": "tenant"}, {"name": "id"}], quality=quality))
    assert _rules(checks) == [
        ("schema[0].quality[0]", "rule:rowCount", None),
        ("schema[0].quality[1]", "rule:duplicateValues", None),
        ("schema[0].quality[2]", "unchecked", None),
    ]
    assert checks.rules[1].measurement.columns == ("tenant", "id")  # type: ignore[union-attr]


def test_a_contract_with_several_objects_needs_a_table_name() -> None:
    contract_ = parse_contract((DATA / "odcs-full-example.odcs.yaml").read_bytes())
    with pytest.raises(InvalidArgument) as caught:
        contract_checks(contract_)
    assert caught.value.field == "table"
    with pytest.raises(InvalidArgument) as caught:
        contract_checks(contract_, "no_such_table")
    assert caught.value.field == "table"


def test_a_contract_without_schema_or_properties_cannot_check_a_file() -> None:
    bare = parse_contract("apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\n")
    with pytest.raises(InvalidArgument) as caught:
        contract_checks(bare)
    assert (caught.value.field, caught.value.context["location"]) == ("contract", "schema")
    with pytest.raises(InvalidArgument) as caught:
        contract_checks(contract([]))
    assert (caught.value.field, caught.value.context["location"]) == ("contract", "schema[0].properties")


@pytest.mark.parametrize(
    ("logical", "options"),
    [
        ("string", {"minLength": 5, "maxLength": 2}),
        ("date", {"minimum": "2024-02-01", "maximum": "2024-01-01"}),
        ("timestamp", {"minimum": "2024-01-01T10:00:00", "maximum": "2024-01-01 09:00:00"}),
        ("integer", {"minimum": 5, "exclusiveMaximum": 5}),
    ],
)
def test_contradictory_constraints_are_invalid_argument_at_the_property(logical: str, options: dict[str, Any]) -> None:
    broken = contract([{"name": "ok"}, {"name": "c", "logicalType": logical, "logicalTypeOptions": options}])
    with pytest.raises(InvalidArgument) as caught:
        contract_checks(broken)
    assert (caught.value.field, caught.value.context["location"]) == ("contract", "schema[0].properties[1]")
