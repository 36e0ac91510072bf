"""product_to_contract: a valid ODCS v3.1.0 document, byte-stable, that parses back to the
product's own schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.contracts.product_factories import orders_product

from dataproduct_mcp.contracts import (
    contract_checks,
    contract_id_for,
    dump_contract,
    parse_contract,
    product_to_contract,
)
from dataproduct_mcp.contracts.parse import odcs_validator
from dataproduct_mcp.domain.schema import ColumnType, TableSchema
from dataproduct_mcp.errors import InvalidArgument

EXPORT = Path(__file__).resolve().parents[1] / "data" / "contracts" / "export"


@pytest.mark.parametrize(("fmt", "golden"), [("yaml", "orders.odcs.yaml"), ("json", "orders.odcs.json")])
def test_the_export_of_a_product_is_byte_stable(fmt: str, golden: str) -> None:
    text = dump_contract(product_to_contract(orders_product()), fmt)  # type: ignore[arg-type]
    assert text == (EXPORT / golden).read_text(encoding="utf-8")
    assert dump_contract(product_to_contract(orders_product()), fmt) == text  # type: ignore[arg-type]


def test_the_export_validates_against_the_official_odcs_schema() -> None:
    doc = product_to_contract(orders_product())
    assert [e.message for e in odcs_validator().iter_errors(doc)] == []
    assert doc["apiVersion"] == "v3.1.0" and doc["kind"] == "DataContract"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_the_export_parses_back_to_the_products_schema(fmt: str) -> None:
    product = orders_product()
    checks = contract_checks(parse_contract(dump_contract(product_to_contract(product), fmt)))  # type: ignore[arg-type]
    assert checks.schema_ == product.schema_
    assert checks.rules == []  # every constraint is a column constraint again
    assert (checks.contract_id, checks.contract_version, checks.table) == (
        contract_id_for(product),
        "1.4.2",
        "orders-1",
    )


def test_the_contract_carries_the_products_identity_and_description() -> None:
    doc = product_to_contract(orders_product())
    assert (doc["name"], doc["version"], doc["tenant"], doc["domain"], doc["team"]) == (
        "orders-1",
        "1.4.2",
        "local",
        "sales",  # the domain label
        {"name": "Sales Data Team"},
    )
    assert doc["description"] == {
        "purpose": "Sales orders, one row per line item.",
        "usage": "Every sales order line item with prices and currencies. Refreshed nightly.",
    }
    custom = {c["property"]: c["value"] for c in doc["customProperties"]}
    assert custom["ordId"] == "customer.dpmcp:dataProduct:orders-1:v1"
    assert custom["license"] == "CC-BY-4.0"
    assert [c["property"] for c in doc["customProperties"]] == sorted(custom)


def test_the_domain_is_the_owner_without_a_domain_label() -> None:
    assert product_to_contract(orders_product(labels={}))["domain"] == "Sales Data Team"


@pytest.mark.parametrize(
    ("status", "release", "expected"),
    [
        ("draft", "beta", "draft"),
        ("validated", "beta", "active"),
        ("published", "active", "active"),
        ("published", "deprecated", "deprecated"),
        ("deprecated", "active", "deprecated"),
        ("published", "sunset", "retired"),
        ("deleted", "active", "retired"),
    ],
)
def test_the_status_follows_the_products_lifecycle(status: str, release: str, expected: str) -> None:
    assert product_to_contract(orders_product(status=status, release_status=release))["status"] == expected


def test_a_product_without_a_schema_exports_a_contract_without_one() -> None:
    doc = product_to_contract(orders_product(schema=None))
    assert "schema" not in doc
    contract = parse_contract(dump_contract(doc))
    with pytest.raises(InvalidArgument) as caught:
        contract_checks(contract)
    assert caught.value.field == "contract"


def test_contract_ids_are_stable_per_product_and_distinct_between_products() -> None:
    a, b = orders_product(), orders_product(id="00000000-0000-4000-8000-000000000002")
    assert contract_id_for(a) == contract_id_for(orders_product(version="2.0.0")) != contract_id_for(b)


def test_a_naive_creation_time_is_taken_as_utc() -> None:
    doc = product_to_contract(orders_product(created_at=datetime(2025, 3, 1, 12, 0)))
    assert doc["contractCreatedTs"] == "2025-03-01T12:00:00Z"
    aware = product_to_contract(orders_product(created_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC)))
    assert aware["contractCreatedTs"] == "2025-03-01T12:00:00Z"


def test_dump_contract_refuses_other_formats() -> None:
    with pytest.raises(ValueError):
        dump_contract({}, "xml")  # type: ignore[arg-type]


def test_multi_line_descriptions_survive_the_round_trip() -> None:
    product = orders_product(description="First line.\nSecond line:\n  - indented\n")
    doc = product_to_contract(product)
    assert parse_contract(dump_contract(doc)).document["description"]["usage"] == product.description
    assert json.loads(dump_contract(doc, "json"))["description"]["usage"] == product.description


_NAMES = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)
_PATTERNS = st.sampled_from(["[A-Z]{3}", r"\d+", "a|b", "^x.*$"])


@st.composite
def _column(draw: st.DrawFn, name: str) -> dict[str, Any]:
    ctype = draw(st.sampled_from(list(ColumnType)))
    col: dict[str, Any] = {
        "name": name,
        "type": ctype.value,
        "required": draw(st.booleans()),
        "unique": draw(st.booleans()),
    }
    if ctype in (ColumnType.integer, ColumnType.number):
        bounds = st.integers(-1000, 1000) if ctype is ColumnType.integer else st.floats(-1e6, 1e6)
        low, high = sorted([draw(bounds), draw(bounds)])
        col.update(minimum=draw(st.none() | st.just(low)), maximum=draw(st.none() | st.just(high)))
        col["enum"] = draw(st.none() | st.lists(st.integers(-5, 5), min_size=1, max_size=3, unique=True))
    elif ctype in (ColumnType.date, ColumnType.datetime):
        days = sorted(draw(st.lists(st.dates(), min_size=2, max_size=2)))
        text = [d.isoformat() + ("T00:00:00" if ctype is ColumnType.datetime else "") for d in days]
        col.update(minimum=draw(st.none() | st.just(text[0])), maximum=draw(st.none() | st.just(text[1])))
    elif ctype is ColumnType.string:
        low_len, high_len = sorted([draw(st.integers(0, 50)), draw(st.integers(0, 50))])
        col.update(min_length=draw(st.none() | st.just(low_len)), max_length=draw(st.none() | st.just(high_len)))
        col["enum"] = draw(st.none() | st.lists(st.text(max_size=5), min_size=1, max_size=3, unique=True))
        col["minimum"] = draw(st.none() | st.just("a"))  # no ODCS key: travels as dpmcpConstraints
    else:
        col["enum"] = draw(st.none() | st.just([True]))
    col["pattern"] = draw(st.none() | _PATTERNS)
    if ctype is not ColumnType.string and draw(st.booleans()):
        col["max_length"] = draw(st.integers(0, 20))  # lengths on a non-string column: dpmcpConstraints
    return {k: v for k, v in col.items() if v is not None}


@st.composite
def _schemas(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(_NAMES, min_size=1, max_size=6, unique=True))
    return {"columns": [draw(_column(n)) for n in names]}


@settings(max_examples=150, deadline=None)
@given(schema=_schemas())
def test_any_product_schema_round_trips_through_an_odcs_contract(schema: dict[str, Any]) -> None:
    product = orders_product(schema=schema)
    doc = product_to_contract(product)
    assert [e.message for e in odcs_validator().iter_errors(doc)] == []
    for fmt in ("yaml", "json"):
        checks = contract_checks(parse_contract(dump_contract(doc, fmt)))  # type: ignore[arg-type]
        assert checks.schema_ == TableSchema.model_validate(schema)
        assert checks.rules == []
