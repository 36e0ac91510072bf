"""product_to_odps: Bitol ODPS v1.0.0 YAML that validates against the bundled official schema."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from tests.contracts.product_factories import orders_product
from tests.ord.ord_factories import make_product

from dataproduct_mcp.contracts import contract_id_for, odps_document, odps_problems, product_to_odps
from dataproduct_mcp.contracts.documents import load_document
from dataproduct_mcp.contracts.odps import odps_validator

EXPORT = Path(__file__).resolve().parents[1] / "data" / "contracts" / "export"
SCHEMAS = resources.files("dataproduct_mcp.contracts.schemas")
CUSTOMERS_REF = "customer.dpmcp:dataProduct:customers:v1"


def _customers(**overrides: Any) -> Any:
    return make_product(7, **{"name": "customers", "schema": {"columns": [{"name": "id"}]}, **overrides})


def test_the_bundled_schema_is_the_approved_odps_v1_0_0_copy_named_in_the_notice() -> None:
    data = SCHEMAS.joinpath("odps-v1.0.0.schema.json").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    notice = SCHEMAS.joinpath("NOTICE").read_text(encoding="utf-8")
    assert digest in notice
    assert "Apache License" in SCHEMAS.joinpath("LICENSE").read_text(encoding="utf-8")
    schema = odps_validator().schema
    assert schema["properties"]["apiVersion"]["enum"] == ["v0.9.0", "v1.0.0"]
    assert schema["properties"]["team"] == {"$ref": "#/$defs/Team"}  # v1.0.0: the ODCS v3.1.0 team object


def test_the_odps_export_is_byte_stable_and_valid() -> None:
    text = product_to_odps(orders_product(), upstream={CUSTOMERS_REF: _customers()})
    assert text == (EXPORT / "orders.odps.yaml").read_text(encoding="utf-8")
    assert odps_problems(load_document(text, field="product")) == []


def test_the_document_names_the_product_its_ports_and_its_contract() -> None:
    product = orders_product()
    doc = odps_document(product, upstream={CUSTOMERS_REF: _customers()})
    assert (doc["apiVersion"], doc["kind"], doc["id"], doc["name"], doc["status"]) == (
        "v1.0.0",
        "DataProduct",
        product.id,
        "orders-1",
        "active",
    )
    assert (doc["domain"], doc["tenant"], doc["team"]) == ("sales", "local", {"name": "Sales Data Team"})
    assert doc["inputPorts"] == [{"name": "customers", "version": "1.4.2", "contractId": contract_id_for(_customers())}]
    assert doc["outputPorts"] == [
        {
            "name": "orders-1",
            "version": "1.4.2",
            "description": "Sales orders, one row per line item.",
            "contractId": contract_id_for(product),
        }
    ]


def test_input_ports_that_cannot_be_odps_ports_are_listed_not_dropped() -> None:
    product = orders_product()
    doc = odps_document(product, upstream={CUSTOMERS_REF: _customers(schema=None)})
    assert "inputPorts" not in doc
    custom = {c["property"]: c["value"] for c in doc["customProperties"]}
    assert custom["unresolvedInputPorts"] == [
        {"ref": CUSTOMERS_REF, "reason": "the upstream product has no schema, so no contract"},
        {"ref": "00000000-0000-4000-8000-000000000099", "reason": "not found"},
    ]
    assert odps_problems(doc) == []


def test_a_product_without_a_schema_has_an_output_port_without_a_contract() -> None:
    doc = odps_document(orders_product(schema=None, input_ports=[]))
    assert doc["outputPorts"] == [
        {"name": "orders-1", "version": "1.4.2", "description": "Sales orders, one row per line item."}
    ]
    assert "unresolvedInputPorts" not in {c["property"] for c in doc["customProperties"]}
    assert odps_problems(doc) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": "draft", "release_status": "beta", "tags": [], "short_description": None},
        {"status": "deleted", "description": None, "homepage": None, "labels": {}},
        {"release_status": "deprecated", "contributors": ["Ann", "Bo"], "publisher": "ACME"},
    ],
)
def test_varied_products_give_valid_odps(overrides: dict[str, Any]) -> None:
    assert odps_problems(load_document(product_to_odps(orders_product(**overrides)))) == []


@pytest.mark.parametrize(
    ("edit", "location"),
    [
        (lambda d: d.pop("id"), "(document)"),
        (lambda d: d.update(apiVersion="v2.0.0"), "apiVersion"),
        (lambda d: d.update(team=[{"name": "x"}]), "team"),
        (lambda d: d["outputPorts"][0].pop("version"), "outputPorts[0]"),
        (lambda d: d.update(productCreatedTs="yesterday"), "productCreatedTs"),
        (lambda d: d.update(extra=1), "(document)"),
    ],
)
def test_the_bundled_schema_rejects_what_odps_v1_0_0_does_not_allow(edit: Any, location: str) -> None:
    doc = odps_document(orders_product())
    edit(doc)
    assert location in [p["location"] for p in odps_problems(doc)]
