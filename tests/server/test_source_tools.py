"""validate_file, validate_data_product and register_data_product on sources through the MCP
client: s3:// prefixes on a real S3-compatible server (moto), local globs, the cache, the errors."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args
from tests.s3 import REGION, S3Server

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.server.builder import build_server

pytestmark = pytest.mark.anyio


def parquet(n: int, start: int = 0) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(range(start, start + n), pa.int64()), "v": [0.5] * n}), buf)
    return buf.getvalue()


def s3_settings(s3: S3Server, tmp_path: Path, bucket: str, **extra: Any) -> dict[str, Any]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return {
        "data_dir": data,
        "allowed_roots": [str(tmp_path), f"s3://{bucket}/shared"],
        "s3_endpoint_url": s3.endpoint,
        "s3_region": REGION,
        "s3_access_key_id": s3.access_key,
        "s3_secret_access_key": s3.secret_key,
        "s3_connect_timeout_seconds": 2,
        "s3_request_timeout_seconds": 10,
        "s3_max_attempts": 2,
        "s3_read_block_bytes": 64 * 1024,
        **extra,
    }


@pytest.fixture
def bucket(s3: S3Server) -> str:
    name = s3.bucket()
    for region in ("eu", "us"):
        s3.put(f"{name}/shared/sales/region={region}/part-0.parquet", parquet(100, 0 if region == "eu" else 100))
    s3.put(f"{name}/private/secret.parquet", parquet(1))
    return name


@pytest.fixture
async def app(s3: S3Server, tmp_path: Path, bucket: str) -> AsyncIterator[Application]:
    application = Application.build(load_settings(**s3_settings(s3, tmp_path, bucket)))
    async with application:
        application.runtime.started = True
        yield application


@pytest.fixture
async def client(app: Application) -> AsyncIterator[Client]:
    async with Client(build_server(app)) as c:
        yield c


async def test_an_s3_prefix_validates_into_one_report_with_its_partitions(client: Client, bucket: str) -> None:
    report = (await call_ok(client, "validate_file", {"path": f"s3://{bucket}/shared/sales"}))["report"]
    assert report["valid"] and report["rows"] == 200 and report["format"] == "parquet"
    assert [c["name"] for c in report["columns"]] == ["id", "v", "region"]
    assert report["extra"]["source"] == {
        "kind": "directory",
        "storage": "s3",
        "root": f"s3://{bucket}/shared/sales",
        "files": 2,
    }
    assert report["path"] == f"s3://{bucket}/shared/sales"


async def test_a_repeated_call_is_cached_and_a_changed_object_is_never_stale(
    client: Client, app: Application, s3: S3Server, bucket: str
) -> None:
    path = f"s3://{bucket}/shared/sales"
    app.validation.clock = lambda: time.time() + 60  # the objects are a minute old: their mtimes can be trusted
    first = (await call_ok(client, "validate_file", {"path": path}))["report"]
    second = (await call_ok(client, "validate_file", {"path": path}))["report"]
    assert (first["cached"], second["cached"]) == (False, True) and second["sha256"] == first["sha256"]
    s3.put(f"{bucket}/shared/sales/region=us/part-0.parquet", parquet(150, 100))
    third = (await call_ok(client, "validate_file", {"path": path}))["report"]
    assert third["cached"] is False and third["rows"] == 250 and third["sha256"] != first["sha256"]


async def test_an_object_rewritten_within_the_second_with_the_same_size_is_not_served_stale(
    client: Client, s3: S3Server, bucket: str
) -> None:
    key = f"{bucket}/shared/one.csv"
    s3.put(key, b"id,name\n1,a\n2,b\n")
    first = (await call_ok(client, "validate_file", {"path": f"s3://{key}"}))["report"]
    s3.put(key, b"id,name\n1,a\n2,c\n")
    second = (await call_ok(client, "validate_file", {"path": f"s3://{key}"}))["report"]
    assert first["bytes"] == second["bytes"]  # same size, and (on S3) the same LastModified second
    assert second["cached"] is False and second["sha256"] != first["sha256"]


async def test_sources_outside_the_allowed_prefixes_are_path_not_allowed(client: Client, bucket: str) -> None:
    for path in (f"s3://{bucket}/private/secret.parquet", f"s3://{bucket}/shared/../private/", "s3://elsewhere/x"):
        err = await call_err(client, "validate_file", {"path": path})
        assert err["code"] == "path-not-allowed", path
    err = await call_err(client, "validate_file", {"path": f"s3://{bucket}/shared/missing/"})
    assert err["code"] == "file-not-found"


async def test_an_unreachable_endpoint_is_a_storage_unavailable_tool_error(
    s3: S3Server, tmp_path: Path, bucket: str
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(**s3_settings(s3, tmp_path, bucket, s3_endpoint_url=f"http://127.0.0.1:{port}"))
    async with Application.build(settings) as application, Client(build_server(application)) as c:
        with anyio.fail_after(60):
            err = await call_err(c, "validate_file", {"path": f"s3://{bucket}/shared/sales"})
    assert err["code"] == "storage-unavailable"
    assert s3.secret_key not in str(err)


async def test_a_product_whose_files_are_an_s3_prefix_and_a_local_glob_validates(
    client: Client, tmp_path: Path, bucket: str
) -> None:
    (tmp_path / "exports").mkdir()
    for i in range(3):
        (tmp_path / "exports" / f"day-{i}.csv").write_text(f"id,v\n{i},0.5\n")
    files = [{"path": f"s3://{bucket}/shared/sales/"}, {"path": str(tmp_path / "exports" / "*.csv")}]
    product = (await call_ok(client, "register_data_product", product_args(files=files)))["product"]
    with anyio.fail_after(60):
        task = (await call_ok(client, "validate_data_product", {"product_id": product["id"], "wait_seconds": 50}))[
            "task"
        ]
    assert task["status"] == "succeeded", task
    result = task["result"]
    assert result["valid"] is True and result["status"] == "validated"
    assert [(f["path"], f["valid"]) for f in result["files"]] == [(f["path"], True) for f in files]
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in result["files"])


async def test_register_refuses_a_file_outside_the_allowed_prefixes_naming_the_field(
    client: Client, bucket: str
) -> None:
    files = [{"path": f"s3://{bucket}/shared/sales/"}, {"path": f"s3://{bucket}/private/"}]
    err = await call_err(client, "register_data_product", product_args(files=files))
    assert err["code"] == "invalid-argument" and err["field"] == "files[1].path"


async def test_a_background_validation_of_a_prefix_puts_the_report_in_the_task(
    client: Client, app: Application, bucket: str
) -> None:
    task = (await call_ok(client, "validate_file", {"path": f"s3://{bucket}/shared/sales", "background": True}))["task"]
    with anyio.fail_after(60):
        await app.tasks.wait(app.default_tenant(), task["id"], timeout=60)
    done = await call_ok(client, "get_task", {"task_id": task["id"]})
    assert done["status"] == "succeeded" and done["result"]["rows"] == 200 and done["progress"] == 1.0
