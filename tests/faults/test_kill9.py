"""kill -9 at random points during background validations and ORD publications, 10 trials, then a
clean restart: no acknowledged task is lost, every one succeeds with the right result, the
registry sees every publication exactly once (per idempotency key), and SQLite is consistent."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from tests.helpers import call_ok, product_args
from tests.ord.registry_fake import RegistryFake
from tests.procs import kill_hard, server_env, spawn_server

pytestmark = pytest.mark.anyio

TRIALS = 10
ROWS = 40_000


@pytest.fixture
async def registry() -> AsyncIterator[RegistryFake]:
    fake = await RegistryFake().start()
    yield fake
    await fake.stop()


def write_csv(path: Path, rows: int) -> Path:
    with path.open("w") as fh:
        fh.write("id,name,amount\n")
        fh.writelines(f"{i},name-{i},{i * 0.5}\n" for i in range(1, rows + 1))
    return path


async def submit_some_work(url: str, trial: int, csv: Path, acknowledged: dict[str, dict[str, Any]]) -> None:
    """Register a product, queue validations and a publication; record what the server acknowledged."""
    async with Client(url + "/mcp") as client:
        product = (await call_ok(client, "register_data_product", product_args(f"trial-{trial}")))["product"]
        for _ in range(2):
            task = (await call_ok(client, "validate_file", {"path": str(csv), "background": True}))["task"]
            acknowledged[task["id"]] = {"kind": "validate-file"}
        out = await call_ok(client, "publish_to_ord", {"product_id": product["id"]})
        if out["task"] is not None:
            acknowledged[out["task"]["id"]] = {"kind": "publish-ord", "product": product["id"]}


async def test_random_kill_9_loses_nothing_and_delivers_each_publication_once(
    tmp_path: Path, registry: RegistryFake
) -> None:
    rnd = random.Random(20261123)
    csv = write_csv(tmp_path / "data.csv", ROWS)
    env = server_env(tmp_path) | {
        "DPMCP_ORD_REGISTRY_URL": registry.url,
        "DPMCP_CACHE_MAX_BYTES": "0",  # every validation really reads the file
        "DPMCP_TASK_LEASE_SECONDS": "2",  # a killed worker's lease expires quickly
        "DPMCP_ORD_OUTBOX_SWEEP_SECONDS": "0.5",
        "DPMCP_RATE_LIMIT": "off",
    }
    acknowledged: dict[str, dict[str, Any]] = {}
    with anyio.fail_after(240):
        for trial in range(TRIALS):
            proc, url = spawn_server(["--port", "0", "--no-auth"], env)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(submit_some_work, url, trial, csv, acknowledged)
                    await anyio.sleep(rnd.uniform(0.05, 0.8))  # the kill lands anywhere in the work
                    kill_hard(proc)
                    tg.cancel_scope.cancel()  # the client's calls die with the server
            finally:
                if proc.poll() is None:
                    kill_hard(proc)

        proc, url = spawn_server(["--port", "0", "--no-auth"], env)
        try:
            async with Client(url + "/mcp") as client:
                deadline = time.monotonic() + 150
                while True:
                    tasks: list[dict[str, Any]] = []
                    cursor = None
                    while True:
                        args = {"limit": 100} | ({"cursor": cursor} if cursor else {})
                        page = await call_ok(client, "list_tasks", args)
                        tasks += page["items"]
                        cursor = page["next_cursor"]
                        if cursor is None:
                            break
                    if all(t["status"] in ("succeeded", "failed", "cancelled") for t in tasks):
                        break
                    assert time.monotonic() < deadline, [t["status"] for t in tasks]
                    await anyio.sleep(0.2)
                results = {
                    task_id: await call_ok(client, "get_task", {"task_id": task_id})
                    for task_id, meta in acknowledged.items()
                    if meta["kind"] == "validate-file" and task_id in {t["id"] for t in tasks}
                }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stderr is not None:
                proc.stderr.close()

    by_id = {t["id"]: t for t in tasks}
    assert acknowledged, "no work was acknowledged before the kills"
    for task_id, meta in acknowledged.items():
        task = by_id.get(task_id)
        assert task is not None, f"acknowledged {meta['kind']} task {task_id} was lost"
        assert task["status"] == "succeeded", task
        if meta["kind"] == "validate-file":
            result = results[task_id]["result"]
            assert result["valid"] is True and result["rows"] == ROWS
    assert all(n == 1 for n in registry.accepted.values()), registry.accepted
    published = {m["product"] for m in acknowledged.values() if m["kind"] == "publish-ord"}
    delivered = {key.split(":")[0] for key in registry.accepted}
    assert published <= delivered
    with sqlite3.connect(tmp_path / "data" / "dataproduct.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
