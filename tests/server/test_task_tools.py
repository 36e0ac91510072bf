"""Task tools through an in-process MCP client in both protocol eras: validate_data_product, get/list/cancel,
progress notifications, the task resource, and tenant isolation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.tasks import TaskStatus
from dataproduct_mcp.services.task_runner import TaskContext

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]  # SQLite and PostgreSQL (tests/pg.py)

SCHEMA = {"columns": [{"name": "id", "type": "integer", "required": True}, {"name": "name", "type": "string"}]}


def write_csv(path: Path, rows: int, bad_row: int | None = None) -> Path:
    lines = ["id,name"]
    for i in range(1, rows + 1):
        lines.append(f"{'x' if i == bad_row else i},name-{i}")
    path.write_text("\n".join(lines) + "\n")
    return path


async def register_with_files(client: Client, tmp_path: Path, *, bad: bool = False) -> dict[str, Any]:
    good = write_csv(tmp_path / "good.csv", 50)
    other = write_csv(tmp_path / "other.csv", 20, bad_row=7 if bad else None)
    args = product_args(files=[{"path": str(good)}, {"path": str(other), "format": "csv"}], schema=SCHEMA)
    return (await call_ok(client, "register_data_product", args))["product"]


async def test_validate_data_product_validates_every_file_and_moves_the_status(client: Client, tmp_path: Path) -> None:
    product = await register_with_files(client, tmp_path)
    with anyio.fail_after(30):
        task = (await call_ok(client, "validate_data_product", {"product_id": product["id"], "wait_seconds": 20}))[
            "task"
        ]
    assert task["status"] == "succeeded", task
    result = task["result"]
    assert result["valid"] is True and result["status"] == "validated" and result["revision"] == 2
    assert [(f["path"].rsplit("/", 1)[-1], f["valid"], f["error_count"]) for f in result["files"]] == [
        ("good.csv", True, 0),
        ("other.csv", True, 0),
    ]
    assert all(len(f["sha256"]) == 64 for f in result["files"])
    stored = await call_ok(client, "get_data_product", {"id": product["id"]})
    assert stored["status"] == "validated" and stored["revision"] == 2
    assert stored["last_validation"]["task_id"] == task["id"] and stored["last_validation"]["valid"] is True


async def test_an_invalid_or_missing_file_sends_the_product_back_to_draft(client: Client, tmp_path: Path) -> None:
    product = await register_with_files(client, tmp_path, bad=True)
    updated = await call_ok(
        client,
        "update_data_product",
        {
            "id": product["id"],
            "patch": {"files": [*product["files"], {"path": str(tmp_path / "gone.csv")}]},
            "expected_revision": 1,
        },
    )
    with anyio.fail_after(30):
        task = (await call_ok(client, "validate_data_product", {"product_id": product["id"], "wait_seconds": 20}))[
            "task"
        ]
    result = task["result"]
    assert (task["status"], result["valid"], result["status"]) == ("succeeded", False, "draft")
    by_name = {f["path"].rsplit("/", 1)[-1]: f for f in result["files"]}
    assert by_name["other.csv"]["valid"] is False and by_name["other.csv"]["error_count"] >= 1
    assert by_name["gone.csv"]["error"]["code"] == "file-not-found"
    stored = await call_ok(client, "get_data_product", {"id": product["id"]})
    assert stored["revision"] == updated["revision"] + 1 and stored["status"] == "draft"


async def test_validate_data_product_returns_a_queued_task_at_once_and_get_task_follows_it(
    client: Client, app: Application, tmp_path: Path
) -> None:
    product = await register_with_files(client, tmp_path)
    task = (await call_ok(client, "validate_data_product", {"product_id": product["id"]}))["task"]
    assert task["status"] in ("queued", "running") and task["kind"] == "validate-product"
    assert app.tasks is not None
    with anyio.fail_after(30):
        await app.tasks.wait(app.default_tenant(), task["id"], timeout=30)
    got = await call_ok(client, "get_task", {"task_id": task["id"]})
    assert got["status"] == "succeeded" and got["params"] == {"product_id": product["id"]}
    listing = await call_ok(client, "list_tasks", {"kind": "validate-product"})
    assert listing["total"] == 1 and listing["items"][0]["id"] == task["id"] and "result" not in listing["items"][0]
    resource = await client.read_resource(f"dataproduct://tasks/{task['id']}")
    assert json.loads(resource.contents[0].text)["status"] == "succeeded"  # type: ignore[union-attr]


async def test_unknown_products_and_tasks_are_not_found(client: Client) -> None:
    assert (await call_err(client, "validate_data_product", {"product_id": "nope"}))["code"] == "not-found"
    assert (await call_err(client, "get_task", {"task_id": "nope"}))["code"] == "not-found"
    assert (await call_err(client, "cancel_task", {"task_id": "nope"}))["code"] == "not-found"
    assert (await call_err(client, "list_tasks", {"limit": 0}))["code"] == "invalid-argument"
    assert (await call_err(client, "list_tasks", {"cursor": "garbage"}))["code"] == "invalid-argument"
    assert (await call_err(client, "validate_data_product", {"product_id": "x", "wait_seconds": 301}))[
        "code"
    ] == "invalid-argument"


async def test_another_tenants_task_is_not_found(client: Client, app: Application) -> None:
    assert app.tasks is not None and app.task_runner is not None
    gate = anyio.Event()

    async def hold(ctx: TaskContext, params: dict[str, Any]) -> None:
        await gate.wait()

    app.tasks.register_kind("hold-for-test", hold)
    foreign = await app.tasks.submit("someone-else", "hold-for-test", {})
    try:
        for tool in ("get_task", "cancel_task"):
            assert (await call_err(client, tool, {"task_id": foreign.id}))["code"] == "not-found"
        assert (await call_ok(client, "list_tasks", {}))["total"] == 0
    finally:
        gate.set()
        await app.tasks.cancel("someone-else", foreign.id)


async def test_waiting_sends_progress_notifications_and_cancel_task_stops_running_work(
    client: Client, app: Application, tmp_path: Path
) -> None:
    assert app.tasks is not None
    started = anyio.Event()

    async def slow_validation(ctx: TaskContext, params: dict[str, Any]) -> None:
        ctx.report(0.25, "a quarter")
        started.set()
        while True:
            ctx.checkpoint()
            await anyio.sleep(0.01)

    # Replace the real kind by a controllable one with the same name (the tool submits this kind).
    app.tasks.kinds.pop("validate-product")
    app.tasks.register_kind("validate-product", slow_validation)
    product = await register_with_files(client, tmp_path)
    notes: list[tuple[float, float | None, str | None]] = []
    quarter = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))
        if progress == 0.25:
            quarter.set()

    async def cancel_when_started() -> None:
        await started.wait()
        await quarter.wait()  # the client saw the running task's progress
        listing = await call_ok(client, "list_tasks", {"status": "running"})
        task_id = listing["items"][0]["id"]
        requested = (await call_ok(client, "cancel_task", {"task_id": task_id}))["task"]
        assert requested["cancel_requested"] is True

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_started)
            result = await client.call_tool(
                "validate_data_product",
                {"product_id": product["id"], "wait_seconds": 25},
                progress_callback=on_progress,
            )
    assert not result.is_error and result.structured_content is not None
    task = result.structured_content["task"]
    assert task["status"] == TaskStatus.cancelled.value
    assert (0.25, 1.0, "a quarter") in notes
    # The product is untouched: a cancelled validation has no effect.
    assert (await call_ok(client, "get_data_product", {"id": product["id"]}))["revision"] == 1


async def test_server_status_shows_the_task_workers_and_the_callers_task_counts(client: Client, tmp_path: Path) -> None:
    product = await register_with_files(client, tmp_path)
    task = (await call_ok(client, "validate_data_product", {"product_id": product["id"], "wait_seconds": 20}))["task"]
    assert task["status"] == "succeeded"
    status = await call_ok(client, "get_server_status", {})
    assert status["tasks"] == {"validate-product": {"succeeded": 1}}
    workers = status["components"]["tasks"]
    assert workers["status"] == "ok" and workers["detail"]["workers"] == 2
    assert "validate-file" in workers["detail"]["kinds"]
