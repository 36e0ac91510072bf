"""validate_file with a data contract through the MCP client: quality rules as findings, the
contract summary, the errors of a bad request, the cache, background tasks, datasets (a local
directory and an s3:// prefix on a real S3-compatible server)."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from mcp import Client
from tests.helpers import call_err, call_ok
from tests.s3 import S3Server
from tests.server.test_source_tools import s3_settings

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import Settings, load_settings
from dataproduct_mcp.server.builder import build_server

pytestmark = pytest.mark.anyio


def contract(properties: list[dict[str, Any]], quality: list[dict[str, Any]] | None = None, **extra: Any) -> str:
    obj: dict[str, Any] = {"name": "orders", "properties": properties}
    if quality:
        obj["quality"] = quality
    doc = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "orders-contract",
        "version": "1.2.0",
        "status": "active",
        "schema": [obj],
        **extra,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def prop(name: str, logical: str = "string", *quality: dict[str, Any], **extra: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "logicalType": logical, **extra}
    if quality:
        p["quality"] = list(quality)
    return p


ORDERS = "id,status,region\n1,open,eu\n2,bogus,eu\n3,,us\n4,open,eu\n5,closed,us\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    return load_settings(data_dir=data, allowed_roots=[tmp_path], contract_distinct_cap=50)


@pytest.fixture
async def client(app: Application) -> AsyncIterator[Client]:
    async with Client(build_server(app)) as c:
        yield c


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


async def validate(client: Client, path: Path | str, text: str, **args: Any) -> dict[str, Any]:
    result = await call_ok(client, "validate_file", {"path": str(path), "contract": text, **args})
    report: dict[str, Any] = result["report"]
    return report


def found(findings: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [(f["code"], f["column_name"], f["value"]) for f in findings]


async def test_each_metric_fails_as_a_finding_with_its_column_and_value(client: Client, orders: Path) -> None:
    text = contract(
        [
            prop("id", "integer", {"metric": "duplicateValues", "mustBe": 0, "severity": "warning"}),
            prop(
                "status",
                "string",
                {"metric": "nullValues", "mustBeLessThan": 10, "unit": "percent"},
                {
                    "metric": "invalidValues",
                    "arguments": {"validValues": ["open", "closed"]},
                    "mustBeLessThan": 1,
                    "severity": "warning",
                },
                {"metric": "missingValues", "arguments": {"missingValues": [None, "n/a"]}, "mustBeLessThan": 2},
            ),
            prop("region", "string", {"metric": "invalidValues", "arguments": {"pattern": "[a-z]{2}"}, "mustBe": 0}),
        ],
        [
            {
                "metric": "duplicateValues",
                "arguments": {"properties": ["status", "region"]},
                "mustBeLessThan": 1,
                "name": "one order per status and region",
            },
            {"metric": "rowCount", "mustBeBetween": [10, 100]},
        ],
    )
    report = await validate(client, orders, text)
    assert report["valid"] is False
    assert found(report["errors"]) == [
        ("constraint-error", "status", "20"),  # nullValues 20 % >= 10 %
        ("constraint-error", None, "1"),  # (open, eu) twice
        ("constraint-error", None, "5"),  # rowCount
    ]
    assert report["error_count"] == 3
    # severity warning -> warnings; a passing rule (id has no duplicates, 1 missing < 2) -> nothing
    assert found(report["warnings"]) == [("constraint-error", "status", "1")]
    assert report["contract"] == {
        "id": "orders-contract",
        "version": "1.2.0",
        "table": "orders",
        "rules": 6,
        "checked": 6,
        "failed": 4,
        "not_checked": 0,
    }
    assert "contract" in report["checks"]


async def test_every_rule_passing_keeps_the_file_valid(client: Client, orders: Path) -> None:
    text = contract(
        [
            prop("id", "integer", {"metric": "duplicateValues", "mustBe": 0}, required=True),
            prop("status", "string", {"metric": "nullValues", "mustBeLessOrEqualTo": 20, "unit": "percent"}),
            prop("region", "string"),
        ],
        [{"metric": "rowCount", "mustBeGreaterThan": 0}],
    )
    report = await validate(client, orders, text)
    assert report["valid"] is True and report["errors"] == [] and report["warnings"] == []
    assert (report["contract"]["checked"], report["contract"]["failed"]) == (2, 0)  # the rest became constraints


async def test_zero_tolerance_rules_become_constraints_with_row_level_findings(client: Client, orders: Path) -> None:
    text = contract(
        [
            prop("id", "integer"),
            prop(
                "status",
                "string",
                {"metric": "nullValues", "mustBe": 0},
                {"metric": "invalidValues", "arguments": {"validValues": ["open", "closed"]}, "mustBe": 0},
            ),
            prop("region", "string", {"metric": "duplicateValues", "mustBe": 0}),
        ]
    )
    report = await validate(client, orders, text)
    assert [(e["code"], e["row"], e["column_name"]) for e in report["errors"]] == [
        ("constraint-error", 2, "status"),
        ("unique-error", 2, "region"),
        ("constraint-error", 3, "status"),
        ("unique-error", 4, "region"),
        ("unique-error", 5, "region"),
    ]
    assert report["contract"]["rules"] == 0


async def test_rules_this_server_cannot_run_are_not_checked_warnings(client: Client, orders: Path) -> None:
    text = contract(
        [prop("id", "integer"), prop("status"), prop("region")],
        [
            {"type": "sql", "query": "SELECT COUNT(*) FROM orders", "mustBeGreaterThan": 0},
            {
                "metric": "duplicateValues",
                "arguments": {"properties": ["id", "region"]},
                "mustBe": 0,
                "severity": "warning",
            },
        ],
    )
    report = await validate(client, orders, text)
    assert report["valid"] is True
    assert found(report["warnings"]) == [("schema-mismatch", None, None)]
    assert report["warnings"][0]["message"].startswith("not checked:")
    assert report["contract"]["not_checked"] == 1 and report["contract"]["checked"] == 1


async def test_a_duplicate_count_past_the_cap_is_not_checked_rather_than_wrong(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("id,status,region\n" + "".join(f"{i},open,r{i}\n" for i in range(200)))
    text = contract(
        [prop("id", "integer"), prop("status"), prop("region")],
        [{"metric": "duplicateValues", "arguments": {"properties": ["status", "region"]}, "mustBe": 0}],
    )
    report = await validate(client, path, text)  # the settings hold 50 distinct values at most
    assert report["valid"] is True
    assert found(report["warnings"]) == [("schema-mismatch", None, None)]
    assert report["contract"]["not_checked"] == 1


async def test_a_bad_contract_or_a_contract_with_a_schema_is_an_invalid_argument(client: Client, orders: Path) -> None:
    args = {"path": str(orders)}
    err = await call_err(client, "validate_file", {**args, "contract": "apiVersion: v3.1.0\nkind: [unclosed"})
    assert (err["code"], err["field"]) == ("invalid-argument", "contract")
    err = await call_err(client, "validate_file", {**args, "contract": "apiVersion: v3.1.0\nkind: DataContract\n"})
    assert (err["code"], err["field"]) == ("invalid-argument", "contract")
    text = contract([prop("id", "integer")])
    schema = {"columns": [{"name": "id", "type": "integer"}]}
    err = await call_err(client, "validate_file", {**args, "contract": text, "schema": schema})
    assert (err["code"], err["field"]) == ("invalid-argument", "contract")
    err = await call_err(client, "validate_file", {**args, "contract": text, "contract_table": "nope"})
    assert (err["code"], err["field"]) == ("invalid-argument", "contract_table")


async def test_the_cache_tells_contracts_apart(client: Client, orders: Path) -> None:
    strict = contract([prop("id", "integer"), prop("status"), prop("region")], [{"metric": "rowCount", "mustBe": 5}])
    loose = contract([prop("id", "integer"), prop("status"), prop("region")], [{"metric": "rowCount", "mustBe": 4}])
    first = await validate(client, orders, strict)
    again = await validate(client, orders, strict)
    other = await validate(client, orders, loose)
    plain = (await call_ok(client, "validate_file", {"path": str(orders)}))["report"]
    assert (first["cached"], again["cached"], other["cached"], plain["cached"]) == (False, True, False, False)
    assert (first["valid"], again["valid"], other["valid"], plain["valid"]) == (True, True, False, True)
    assert plain["contract"] is None


async def test_a_background_validation_carries_the_contract(client: Client, app: Application, orders: Path) -> None:
    text = contract([prop("id", "integer"), prop("status"), prop("region")], [{"metric": "rowCount", "mustBe": 4}])
    args = {"path": str(orders), "contract": text, "contract_table": "orders", "background": True}
    task = (await call_ok(client, "validate_file", args))["task"]
    assert app.tasks is not None
    with anyio.fail_after(30):
        await app.tasks.wait(app.default_tenant(), task["id"], timeout=30)
    done = await call_ok(client, "get_task", {"task_id": task["id"]})
    assert done["status"] == "succeeded" and done["params"]["contract"] == text
    assert done["result"]["valid"] is False and found(done["result"]["errors"]) == [("constraint-error", None, "5")]
    assert done["result"]["contract"]["failed"] == 1
    err = await call_err(client, "validate_file", {**args, "contract": "kind: ["})
    assert (err["code"], err["field"]) == ("invalid-argument", "contract")  # refused before a task exists


async def test_a_dataset_directory_counts_across_its_files(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "a.csv").write_text("id,status,region\n1,open,eu\n2,,us\n")
    (folder / "b.csv").write_text("id,status,region\n2,open,eu\n3,,eu\n")  # id 2 again, (open, eu) again
    text = contract(
        [
            prop("id", "integer", {"metric": "duplicateValues", "mustBe": 0, "severity": "warning"}),
            prop("status", "string", {"metric": "nullValues", "mustBeLessThan": 2}),
            prop("region"),
        ],
        [
            {"metric": "duplicateValues", "arguments": {"properties": ["status", "region"]}, "mustBe": 0},
            {"metric": "rowCount", "mustBe": 4},
        ],
    )
    report = await validate(client, folder, text)
    assert report["rows"] == 4
    assert found(report["errors"]) == [("constraint-error", "status", "2"), ("constraint-error", None, "1")]
    assert found(report["warnings"]) == [("constraint-error", "id", "1")]
    assert report["contract"]["checked"] == 4 and report["contract"]["failed"] == 3


def parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


async def test_an_s3_prefix_counts_across_its_objects(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    s3.put(f"{bucket}/shared/orders/part-0.parquet", parquet(pa.table({"id": [1, 2, 3], "status": ["a", None, "b"]})))
    s3.put(f"{bucket}/shared/orders/part-1.parquet", parquet(pa.table({"id": [3, 4], "status": [None, "zz"]})))
    text = contract(
        [
            prop("id", "integer", {"metric": "duplicateValues", "mustBe": 0, "severity": "warning"}),
            prop(
                "status",
                "string",
                {"metric": "nullValues", "mustBeLessThan": 30, "unit": "percent"},
                {"metric": "invalidValues", "arguments": {"validValues": ["a", "b"]}, "mustBe": 0},
            ),
        ],
        [{"metric": "rowCount", "mustBeGreaterOrEqualTo": 5}],
    )
    application = Application.build(load_settings(**s3_settings(s3, tmp_path, bucket)))
    async with application:
        application.runtime.started = True
        async with Client(build_server(application)) as client:
            application.validation.clock = lambda: time.time() + 60
            report = await validate(client, f"s3://{bucket}/shared/orders", text)
    assert report["rows"] == 5 and report["extra"]["source"]["files"] == 2
    assert [(e["code"], e["column_name"], e["row"], e["file"]) for e in report["errors"]] == [
        ("constraint-error", "status", 2, f"s3://{bucket}/shared/orders/part-1.parquet"),  # 'zz': a constraint
        ("constraint-error", "status", None, None),  # 2 nulls of 5 rows: 40 %
    ]
    assert found(report["warnings"]) == [("constraint-error", "id", "1")]  # id 3 in both objects
