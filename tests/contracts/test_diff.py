"""diff_contracts: every change named with its path, the breaking ones flagged, and the version
step judged against them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.contracts.contract_factories import contract
from tests.contracts.product_factories import ORDERS_SCHEMA, orders_product

from dataproduct_mcp.contracts import (
    diff_contracts,
    dump_contract,
    parse_contract,
    product_to_contract,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "contracts" / "valid"

BASE: list[dict[str, Any]] = [
    {"name": "id", "logicalType": "integer", "required": True, "primaryKey": True},
    {"name": "amount", "logicalType": "integer", "logicalTypeOptions": {"minimum": 0, "maximum": 100}},
    {
        "name": "unit",
        "logicalType": "string",
        "description": "Unit of the amount",
        "logicalTypeOptions": {"maxLength": 5},
        "quality": [{"metric": "invalidValues", "mustBe": 0, "arguments": {"validValues": ["kg", "lb"]}}],
    },
    {
        "name": "email",
        "logicalType": "string",
        "quality": [{"metric": "nullValues", "mustBeLessThan": 5, "unit": "percent"}],
    },
]


def _changed(edit: Any) -> list[dict[str, Any]]:
    props = copy.deepcopy(BASE)
    edit(props)
    return props


def _table(diff: Any) -> list[tuple[str, str, bool]]:
    return [(c.kind.value, c.path, c.breaking) for c in diff.changes if c.kind.value != "version-changed"]


def _prop(props: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(p for p in props if p["name"] == name)


CASES: list[tuple[str, Any, list[tuple[str, str, bool]]]] = [
    ("property removed", lambda p: p.pop(3), [("property-removed", "orders.email", True)]),
    ("optional property added", lambda p: p.append({"name": "note"}), [("property-added", "orders.note", False)]),
    (
        "required property added",
        lambda p: p.append({"name": "note", "required": True}),
        [("property-added", "orders.note", True)],
    ),
    (
        "type widened integer to number",
        lambda p: _prop(p, "amount").update(logicalType="number"),
        [("type-widened", "orders.amount.logicalType", False)],
    ),
    (
        "type changed",
        lambda p: _prop(p, "amount").update(logicalType="string", logicalTypeOptions={}),
        [
            ("type-changed", "orders.amount.logicalType", True),
            ("range-widened", "orders.amount.minimum", False),
            ("range-widened", "orders.amount.maximum", False),
        ],
    ),
    (
        "optional to required",
        lambda p: _prop(p, "email").update(required=True),
        [("required-added", "orders.email.required", True)],
    ),
    (
        "required to optional",
        lambda p: _prop(p, "id").update(required=False),  # still a primary key: still required
        [],
    ),
    ("unique added", lambda p: _prop(p, "email").update(unique=True), [("unique-added", "orders.email.unique", True)]),
    (
        "primary key moved",
        lambda p: (_prop(p, "id").pop("primaryKey"), _prop(p, "email").update(primaryKey=True)),
        [
            ("primary-key-changed", "orders.email.primaryKey", True),
            ("required-added", "orders.email.required", True),
            ("unique-added", "orders.email.unique", True),
            ("primary-key-changed", "orders.id.primaryKey", True),
            ("unique-removed", "orders.id.unique", False),
        ],
    ),
    (
        "valid values narrowed",
        lambda p: _prop(p, "unit")["quality"][0]["arguments"].update(validValues=["kg"]),
        [("valid-values-narrowed", "orders.unit.validValues", True)],
    ),
    (
        "valid values widened",
        lambda p: _prop(p, "unit")["quality"][0]["arguments"].update(validValues=["kg", "lb", "g"]),
        [("valid-values-widened", "orders.unit.validValues", False)],
    ),
    (
        "range tightened",
        lambda p: _prop(p, "amount")["logicalTypeOptions"].update(minimum=10),
        [("range-tightened", "orders.amount.minimum", True)],
    ),
    (
        "range widened",
        lambda p: _prop(p, "amount")["logicalTypeOptions"].update(maximum=1000),
        [("range-widened", "orders.amount.maximum", False)],
    ),
    (
        "exclusive bound is the same inclusive bound",
        lambda p: _prop(p, "amount").update(logicalTypeOptions={"exclusiveMinimum": -1, "maximum": 100}),
        [],
    ),
    (
        "exclusive bound of a number added",
        lambda p: _prop(p, "amount").update(
            logicalType="number", logicalTypeOptions={"exclusiveMinimum": 5, "maximum": 100}
        ),
        [
            ("type-widened", "orders.amount.logicalType", False),
            ("range-tightened", "orders.amount.minimum", True),
            ("range-tightened", "orders.amount.logicalTypeOptions.exclusiveMinimum", True),
        ],
    ),
    (
        "format added",
        lambda p: _prop(p, "amount")["logicalTypeOptions"].update(format="i64"),
        [("option-changed", "orders.amount.logicalTypeOptions.format", True)],
    ),
    (
        "length tightened",
        lambda p: _prop(p, "unit")["logicalTypeOptions"].update(maxLength=2),
        [("length-tightened", "orders.unit.maxLength", True)],
    ),
    (
        "length bound removed",
        lambda p: _prop(p, "unit").pop("logicalTypeOptions"),
        [("length-widened", "orders.unit.maxLength", False)],
    ),
    (
        "pattern added",
        lambda p: _prop(p, "unit")["logicalTypeOptions"].update(pattern="[a-z]+"),
        [("pattern-added", "orders.unit.pattern", True)],
    ),
    (
        "format changed",
        lambda p: _prop(p, "email").update(logicalTypeOptions={"format": "email"}),
        [("option-changed", "orders.email.logicalTypeOptions.format", True)],
    ),
    (
        "quality rule tightened",
        lambda p: _prop(p, "email")["quality"][0].update(mustBeLessThan=1),
        [("quality-rule-tightened", "orders.email.quality", True)],
    ),
    (
        "quality rule relaxed",
        lambda p: _prop(p, "email")["quality"][0].update(mustBeLessThan=10),
        [("quality-rule-relaxed", "orders.email.quality", False)],
    ),
    (
        "severity error spelled out",
        lambda p: _prop(p, "email")["quality"][0].update(severity="error"),
        [],  # no severity is error already
    ),
    (
        "quality rule added",
        lambda p: _prop(p, "amount").update(quality=[{"metric": "duplicateValues", "mustBeLessThan": 10}]),
        [("quality-rule-added", "orders.amount.quality", True)],
    ),
    (
        "sql rule added",
        lambda p: _prop(p, "amount").update(quality=[{"type": "sql", "query": "SELECT 1", "mustBe": 1}]),
        [("quality-rule-added", "orders.amount.quality", True)],
    ),
    (
        "text rule added",
        lambda p: _prop(p, "amount").update(quality=[{"type": "text", "description": "Checked by hand."}]),
        [("quality-rule-added", "orders.amount.quality", False)],
    ),
    (
        "quality rule removed",
        lambda p: _prop(p, "email").pop("quality"),
        [("quality-rule-removed", "orders.email.quality", False)],
    ),
    (
        "required said as a rule instead of a flag",
        lambda p: _prop(p, "id").update(required=False, quality=[{"metric": "nullValues", "mustBe": 0}]),
        [],
    ),
    (
        "description changed",
        lambda p: _prop(p, "unit").update(description="The unit"),
        [("description-changed", "orders.unit.description", False)],
    ),
    (
        "tags added",
        lambda p: _prop(p, "unit").update(tags=["units"]),
        [("metadata-changed", "orders.unit.tags", False)],
    ),
    (
        "physical name changed",
        lambda p: _prop(p, "unit").update(physicalName="unit_cd"),
        [("physical-name-changed", "orders.unit.physicalName", True)],
    ),
    (
        "properties reordered",
        lambda p: p.reverse(),
        [("properties-reordered", "orders.properties", True)],
    ),
]


@pytest.mark.parametrize(("case", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_change_is_named_and_classified(
    case: str, edit: Any, expected: list[tuple[str, str, bool]]
) -> None:
    diff = diff_contracts(contract(BASE), contract(_changed(edit), version="2.0.0"))
    assert sorted(_table(diff)) == sorted(expected)
    assert diff.breaking is any(b for _, _, b in expected)
    assert diff.breaking_count == sum(b for _, _, b in expected)


def test_a_severity_step_from_warning_to_error_tightens_the_rule_and_back_relaxes_it() -> None:
    warn = _changed(lambda p: _prop(p, "email")["quality"][0].update(severity="warning"))
    assert _table(diff_contracts(contract(warn), contract(BASE))) == [
        ("quality-rule-tightened", "orders.email.quality", True)
    ]
    assert _table(diff_contracts(contract(BASE), contract(warn))) == [
        ("quality-rule-relaxed", "orders.email.quality", False)
    ]


def test_schema_level_rules_and_objects() -> None:
    old = contract(BASE, quality=[{"metric": "rowCount", "mustBeGreaterThan": 100}])
    new = contract(BASE, quality=[{"metric": "rowCount", "mustBeGreaterThan": 1000}], version="2.0.0")
    assert _table(diff_contracts(old, new)) == [("quality-rule-tightened", "orders.quality", True)]
    renamed = contract(BASE, name="orders_v2", version="2.0.0")
    assert _table(diff_contracts(old, renamed)) == [
        ("schema-removed", "orders", True),
        ("schema-added", "orders_v2", False),
    ]


@pytest.mark.parametrize(
    ("old", "new", "edit", "bump", "ok"),
    [
        ("1.0.0", "2.0.0", lambda p: p.pop(3), "major", True),
        ("1.0.0", "1.1.0", lambda p: p.pop(3), "minor", False),
        ("1.0.0", "1.0.1", lambda p: p.pop(3), "patch", False),
        ("1.0.0", "1.0.0", lambda p: p.pop(3), "none", False),
        ("0.3.0", "0.4.0", lambda p: p.pop(3), "minor", True),  # SemVer 0.y.z: a minor step announces it
        ("1.0.0", "1.1.0", lambda p: p.append({"name": "note"}), "minor", True),
        ("1.0.0", "1.0.1", lambda p: p.append({"name": "note"}), "patch", False),
        ("1.0.0", "1.0.1", lambda p: _prop(p, "unit").update(description="x"), "patch", True),
        ("1.0.0", "1.0.0", lambda p: None, "none", True),
        ("2.0.0", "1.9.0", lambda p: None, "downgrade", False),
        ("v1", "v2", lambda p: None, "unknown", False),
    ],
)
def test_the_version_verdict(old: str, new: str, edit: Any, bump: str, ok: bool) -> None:
    diff = diff_contracts(contract(BASE, version=old), contract(_changed(edit), version=new))
    assert (diff.actual_bump, diff.version_ok) == (bump, ok)
    assert (diff.old_version, diff.new_version) == (old, new)


def test_required_bump_is_major_for_breaking_minor_for_additions_patch_for_wording() -> None:
    def required(edit: Any) -> str:
        return diff_contracts(contract(BASE), contract(_changed(edit))).required_bump

    assert required(lambda p: p.pop(3)) == "major"
    assert required(lambda p: p.append({"name": "note"})) == "minor"
    assert required(lambda p: _prop(p, "unit").update(description="x")) == "patch"
    assert required(lambda p: None) == "none"


def test_contract_level_metadata_and_identity_changes_are_not_breaking() -> None:
    old = contract(BASE, description={"purpose": "Orders."}, tags=["sales"])
    new = contract(BASE, description={"purpose": "All orders."}, tags=["sales", "eu"], domain="finance")
    assert sorted(_table(diff_contracts(old, new))) == [
        ("description-changed", "description.purpose", False),
        ("metadata-changed", "domain", False),
        ("metadata-changed", "tags", False),
    ]
    other = parse_contract(yaml.safe_dump({**contract(BASE).document, "id": "another-contract"}))
    assert _table(diff_contracts(contract(BASE), other)) == [("contract-id-changed", "id", False)]


def test_a_contract_compared_with_itself_has_no_changes() -> None:
    full = parse_contract((DATA / "odcs-full-example.odcs.yaml").read_bytes())
    diff = diff_contracts(full, full)
    assert (diff.changes, diff.breaking, diff.required_bump, diff.version_ok) == ([], False, "none", True)


def test_two_exports_of_a_product_diff_as_its_schema_changed() -> None:
    schema = copy.deepcopy(ORDERS_SCHEMA)
    schema["columns"][1]["enum"] = ["EUR"]  # currency narrowed
    schema["columns"].append({"name": "channel", "type": "string"})
    old = parse_contract(dump_contract(product_to_contract(orders_product())))
    new = parse_contract(dump_contract(product_to_contract(orders_product(schema=schema, version="1.5.0"))))
    diff = diff_contracts(old, new)
    assert _table(diff) == [
        ("valid-values-narrowed", "orders-1.currency.validValues", True),
        ("property-added", "orders-1.channel", False),
    ]
    assert (diff.required_bump, diff.actual_bump, diff.version_ok) == ("major", "minor", False)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (  # 5 itself is no longer allowed: tighter, though the inclusive bound checked here stays 5
            {"logicalType": "number", "logicalTypeOptions": {"minimum": 5}},
            {"logicalType": "number", "logicalTypeOptions": {"exclusiveMinimum": 5}},
            [("range-tightened", "orders.x.logicalTypeOptions.exclusiveMinimum", True)],
        ),
        (  # bounds this server cannot check are still compared as the contract states them
            {"logicalType": "date", "logicalTypeOptions": {"format": "dd/MM/yyyy", "maximum": "31/12/2020"}},
            {"logicalType": "date", "logicalTypeOptions": {"format": "dd/MM/yyyy", "maximum": "30/12/2020"}},
            [("range-tightened", "orders.x.logicalTypeOptions.maximum", True)],
        ),
        (  # the same constraint said another way is no change
            {"logicalType": "string", "logicalTypeOptions": {"pattern": "[0-9]+"}},
            {
                "logicalType": "string",
                "quality": [{"metric": "invalidValues", "mustBe": 0, "arguments": {"pattern": "[0-9]+"}}],
            },
            [],
        ),
    ],
)
def test_options_are_compared_as_checked_and_as_written_where_not_checked(
    old: dict[str, Any], new: dict[str, Any], expected: list[tuple[str, str, bool]]
) -> None:
    assert _table(diff_contracts(contract([{"name": "x", **old}]), contract([{"name": "x", **new}]))) == expected
