"""import_contract, export_contract, diff_contracts, export_odps and the contract resources, through the
in-process MCP client on both backends: contracts stored beside products, schemas derived from them,
breaking changes named, ODPS input ports resolved through lineage, results within the budget."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from mcp import Client
from tests.helpers import call_err, call_ok, product_args

from dataproduct_mcp.app import Application
from dataproduct_mcp.contracts import odps_problems, parse_contract

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]

CONTRACT_ID = "5f0c8f0e-7f0b-4a59-9d8e-2d1c3b4a5e6f"


def contract_doc(version: str = "1.0.0", *, amount_max: float = 1000, extra: list[Any] | None = None) -> dict[str, Any]:
    props: list[dict[str, Any]] = [
        {"name": "id", "logicalType": "integer", "required": True, "unique": True},
        {"name": "amount", "logicalType": "number", "logicalTypeOptions": {"minimum": 0, "maximum": amount_max}},
        {
            "name": "status",
            "logicalType": "string",
            "quality": [
                {"metric": "invalidValues", "arguments": {"validValues": ["open", "paid"]}, "mustBeLessThan": 5},
                {"type": "sql", "query": "SELECT COUNT(*) FROM orders", "mustBeGreaterThan": 0},
            ],
        },
    ]
    props.extend(extra or [])
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": CONTRACT_ID,
        "version": version,
        "status": "active",
        "name": "orders",
        "schema": [
            {"name": "orders", "properties": props, "quality": [{"metric": "rowCount", "mustBeGreaterThan": 0}]}
        ],
    }


def contract_text(**kw: Any) -> str:
    return yaml.safe_dump(contract_doc(**kw), sort_keys=False)


async def register(client: Client, name: str = "orders", **kw: Any) -> dict[str, Any]:
    return (await call_ok(client, "register_data_product", product_args(name, **kw)))["product"]


async def test_import_contract_attaches_it_and_makes_its_columns_the_product_schema(client: Client) -> None:
    product = await register(client)
    out = await call_ok(client, "import_contract", {"product_id": product["id"], "contract": contract_text()})
    attached = out["contract"]
    assert (attached["id"], attached["version"], attached["api_version"], attached["table"]) == (
        CONTRACT_ID,
        "1.0.0",
        "v3.1.0",
        "orders",
    )
    assert attached["rules"] == 2 and attached["unchecked"] == out["unchecked_total"] == 1
    assert out["unchecked"][0]["what"].startswith("quality rule of type sql")
    assert out["changes"] is None  # the product had no schema, so no contract to compare with
    stored = out["product"]
    assert stored["revision"] == product["revision"] + 1 and stored["contract"]["sha256"] == attached["sha256"]
    assert [(c["name"], c["type"]) for c in stored["schema"]["columns"]] == [
        ("id", "integer"),
        ("amount", "number"),
        ("status", "string"),
    ]
    assert stored["schema"]["columns"][0]["required"] and stored["schema"]["columns"][0]["unique"]
    assert stored["schema"]["columns"][1]["maximum"] == 1000
    fetched = await call_ok(client, "get_data_product", {"id": product["id"]})
    assert fetched["contract"] == stored["contract"]
    again = await call_ok(client, "import_contract", {"product_id": product["id"], "contract": contract_text()})
    assert again["product"]["revision"] == stored["revision"]  # the same contract again changes nothing


async def test_export_contract_gives_back_the_attached_document_or_one_generated_from_the_product(
    client: Client,
) -> None:
    product = await register(client, schema={"columns": [{"name": "id", "type": "integer", "required": True}]})
    generated = await call_ok(client, "export_contract", {"product_id": product["id"]})
    assert generated["source"] == "generated" and generated["format"] == "yaml"
    assert parse_contract(generated["text"]).schema_objects[0]["properties"][0]["name"] == "id"
    assert (await call_err(client, "export_contract", {"product_id": product["id"], "source": "attached"}))[
        "field"
    ] == "source"
    await call_ok(client, "import_contract", {"product_id": product["id"], "contract": contract_text()})
    attached = await call_ok(client, "export_contract", {"product_id": product["id"], "format": "json"})
    assert attached["source"] == "attached" and attached["contract_id"] == CONTRACT_ID
    assert json.loads(attached["text"]) == contract_doc()
    still = await call_ok(client, "export_contract", {"product_id": product["id"], "source": "generated"})
    assert still["source"] == "generated" and still["contract_id"] == CONTRACT_ID  # the product's contract id


async def test_importing_a_new_version_names_its_breaking_changes(client: Client) -> None:
    product = await register(client)
    await call_ok(client, "import_contract", {"product_id": product["id"], "contract": contract_text()})
    tighter = contract_text(version="1.1.0", amount_max=10, extra=[{"name": "region", "required": True}])
    out = await call_ok(client, "import_contract", {"product_id": product["id"], "contract": tighter})
    changes = out["changes"]
    kinds = {(c["kind"], c["path"]) for c in changes["diff"]["changes"] if c["breaking"]}
    assert ("range-tightened", "orders.amount.maximum") in kinds
    assert ("property-added", "orders.region") in kinds
    assert changes["diff"]["required_bump"] == "major" and changes["diff"]["version_ok"] is False
    assert out["product"]["contract"]["version"] == "1.1.0"


async def test_diff_contracts_compares_two_texts_or_a_text_with_a_products_contract(client: Client) -> None:
    out = await call_ok(
        client, "diff_contracts", {"old": contract_text(), "new": contract_text(version="2.0.0", amount_max=10)}
    )
    assert out["diff"]["breaking"] and out["diff"]["version_ok"] and out["truncated"] is False
    assert out["changes_total"] == len(out["diff"]["changes"]) >= 2
    assert out["diff"]["changes"][0]["breaking"]  # breaking changes come first
    product = await register(client)
    await call_ok(client, "import_contract", {"product_id": product["id"], "contract": contract_text()})
    same = await call_ok(client, "diff_contracts", {"product_id": product["id"], "new": contract_text()})
    assert same["diff"]["changes"] == [] and same["diff"]["required_bump"] == "none"
    both = await call_err(client, "diff_contracts", {"old": contract_text(), "new": "x", "product_id": product["id"]})
    neither = await call_err(client, "diff_contracts", {"new": contract_text()})
    assert both["code"] == neither["code"] == "invalid-argument"
    bad_old = await call_err(client, "diff_contracts", {"old": "apiVersion: [", "new": contract_text()})
    assert (bad_old["code"], bad_old["field"]) == ("invalid-argument", "old")


async def test_bad_contracts_are_invalid_arguments_naming_the_contract(client: Client) -> None:
    product = await register(client)
    not_yaml = await call_err(client, "import_contract", {"product_id": product["id"], "contract": "a: [1, 2"})
    assert (not_yaml["code"], not_yaml["field"]) == ("invalid-argument", "contract") and "line" in not_yaml
    doc = contract_doc()
    doc["schema"][0]["properties"][0]["logicalType"] = "int"
    off_schema = await call_err(
        client, "import_contract", {"product_id": product["id"], "contract": yaml.safe_dump(doc)}
    )
    assert off_schema["field"] == "contract" and off_schema["location"] == "schema[0].properties[0].logicalType"
    doc = contract_doc()
    doc["schema"].append({"name": "lines", "properties": [{"name": "sku", "logicalType": "string"}]})
    two = await call_err(client, "import_contract", {"product_id": product["id"], "contract": yaml.safe_dump(doc)})
    assert (two["code"], two["field"]) == ("invalid-argument", "table")
    picked = await call_ok(
        client, "import_contract", {"product_id": product["id"], "contract": yaml.safe_dump(doc), "table": "lines"}
    )
    assert [c["name"] for c in picked["product"]["schema"]["columns"]] == ["sku"]
    stale = await call_err(
        client,
        "import_contract",
        {"product_id": product["id"], "contract": contract_text(), "expected_revision": 1},
    )
    assert stale["code"] == "conflict"
    unknown = "00000000-0000-4000-8000-0000000000aa"
    assert (await call_err(client, "import_contract", {"product_id": unknown, "contract": contract_text()}))[
        "code"
    ] == "not-found"
    fetched = await call_ok(client, "get_data_product", {"id": product["id"]})
    assert fetched["contract"]["table"] == "lines"  # the failed calls changed nothing


async def test_a_new_schema_detaches_the_contract(client: Client) -> None:
    product = await register(client)
    out = await call_ok(client, "import_contract", {"product_id": product["id"], "contract": contract_text()})
    revision = out["product"]["revision"]
    renamed = await call_ok(
        client,
        "update_data_product",
        {"id": product["id"], "patch": {"title": "Orders"}, "expected_revision": revision},
    )
    assert renamed["contract"]["id"] == CONTRACT_ID  # other fields keep it
    changed = await call_ok(
        client,
        "update_data_product",
        {
            "id": product["id"],
            "patch": {"schema": {"columns": [{"name": "id", "type": "string"}]}},
            "expected_revision": renamed["revision"],
        },
    )
    assert changed["contract"] is None
    exported = await call_ok(client, "export_contract", {"product_id": product["id"]})
    assert exported["source"] == "generated"


async def test_export_odps_resolves_input_ports_and_passes_the_official_schema(client: Client) -> None:
    upstream = await register(client, "raw-orders")
    await call_ok(client, "import_contract", {"product_id": upstream["id"], "contract": contract_text()})
    bare = await register(client, "no-schema")
    missing = "customer.dpmcp:dataProduct:missing:v1"
    product = await register(client, "orders-daily", input_ports=[upstream["ord_id"], bare["id"], missing])
    out = await call_ok(client, "export_odps", {"product_id": product["id"]})
    doc = yaml.safe_load(out["text"])
    assert odps_problems(doc) == []
    assert doc["inputPorts"] == [{"name": "raw-orders", "version": "1.0.0", "contractId": CONTRACT_ID}]
    reasons = {u["ref"]: u["reason"] for u in out["unresolved_input_ports"]}
    assert reasons[missing] == "not-found" and "no schema" in reasons[bare["id"]]


async def test_contract_resources_read_documents_larger_than_a_tool_result(client: Client, app: Application) -> None:
    product = await register(client)
    many = [{"name": f"c{i:03d}", "logicalType": "string", "description": "x" * 300} for i in range(60)]
    text = contract_text(extra=many)
    await call_ok(client, "import_contract", {"product_id": product["id"], "contract": text})
    app.contracts.max_result_bytes = 8 * 1024
    too_big = await call_err(client, "export_contract", {"product_id": product["id"]})
    assert too_big["code"] == "too-large" and "/contract" in too_big["suggestion"]
    resource = await client.read_resource(f"dataproduct://products/{product['id']}/contract")
    body = resource.contents[0].text  # type: ignore[union-attr]
    assert len(body) > 8 * 1024 and parse_contract(body).id == CONTRACT_ID
    odps = await client.read_resource(f"dataproduct://products/{product['id']}/odps")
    assert odps_problems(yaml.safe_load(odps.contents[0].text)) == []  # type: ignore[union-attr]


async def test_a_schema_object_too_wide_for_a_product_is_too_large_and_a_deleted_product_has_no_contract(
    client: Client,
) -> None:
    product = await register(client)
    wide = [{"name": f"c{i:03d}", "logicalType": "string"} for i in range(300)]
    err = await call_err(
        client, "import_contract", {"product_id": product["id"], "contract": contract_text(extra=wide)}
    )
    assert err["code"] == "too-large" and err["limit"] == 32 * 1024
    out = await call_ok(client, "import_contract", {"product_id": product["id"], "contract": contract_text()})
    await call_ok(client, "delete_data_product", {"id": product["id"], "expected_revision": out["product"]["revision"]})
    for tool in ("export_contract", "export_odps"):
        assert (await call_err(client, tool, {"product_id": product["id"]}))["code"] == "not-found"


async def test_validate_data_product_checks_files_against_the_attached_contracts_rules(
    client: Client, tmp_path: Any
) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("id,amount,status\n1,10.5,open\n2,20,paid\n3,0,open\n")
    bad.write_text("id,amount,status\n" + "".join(f"{i},1,lost\n" for i in range(1, 8)))
    product = await register(client, files=[{"path": str(good)}, {"path": str(bad)}])
    await call_ok(client, "import_contract", {"product_id": product["id"], "contract": contract_text()})
    out = await call_ok(client, "validate_data_product", {"product_id": product["id"], "wait_seconds": 60})
    task = out["task"]
    assert task["status"] == "succeeded", task
    result = task["result"]
    assert result["contract"] == {"id": CONTRACT_ID, "version": "1.0.0", "table": "orders"}
    by_path = {f["path"]: f for f in result["files"]}
    # 7 invalid statuses break "invalidValues < 5"; the good file passes every rule.
    assert by_path[str(good)]["valid"] and by_path[str(good)]["contract_rules_failed"] == 0
    assert not by_path[str(bad)]["valid"] and by_path[str(bad)]["contract_rules_failed"] == 1
    assert result["valid"] is False and result["status"] == "draft"
    report = await call_ok(client, "validate_file", {"path": str(bad), "contract": contract_text()})
    codes = {(e["code"], e.get("column_name")) for e in report["report"]["errors"]}
    assert ("constraint-error", "status") in codes
