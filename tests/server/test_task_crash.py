"""kill -9 a real `serve --transport http` process while background validations run; restart it on the
same database: every task ends `succeeded` with the right result and none took effect twice.

The effect counter is the product revision: a validate-product task bumps it exactly once (its
outcome is recorded once per task id), so after the crash and the rerun every product must be at
revision 2. The kill lands mid-way: some tasks are running and some still queued.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from tests.helpers import call_ok, product_args

pytestmark = pytest.mark.anyio

EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))
ROWS = 600_000  # ~23 MB: long enough per validation to be interrupted, short enough for CI
# Enough queued work (14 uncached validations of 23 MB on 2 workers, each checking a unique column)
# that a fast, idle machine is still busy when the kill lands.
PRODUCTS = 5
FILE_TASKS = 4
SCHEMA = {
    "columns": [
        {"name": "id", "type": "integer", "required": True, "minimum": 1, "unique": True},
        {"name": "name", "type": "string", "pattern": "name-[0-9]+"},
        {"name": "amount", "type": "number"},
        {"name": "day", "type": "date"},
    ]
}


def write_big_csv(path: Path) -> Path:
    with path.open("w") as fh:
        fh.write("id,name,amount,day\n")
        fh.writelines(f"{i},name-{i},{i * 1.5},2024-01-{i % 28 + 1:02d}\n" for i in range(1, ROWS + 1))
    return path


@contextmanager
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    env.update(
        {
            "DPMCP_DATA_DIR": str(tmp_path / "data"),
            "DPMCP_ALLOWED_ROOTS": str(tmp_path),
            "DPMCP_CACHE_MAX_BYTES": "0",  # every task really reads its files
            "DPMCP_TASK_WORKERS": "2",
            "DPMCP_TASK_LEASE_SECONDS": "5",
        }
    )
    proc = subprocess.Popen(
        [EXE, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", "0", "--no-auth"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = None
        for line in proc.stderr:  # bounded: EOF if the process fails to start
            if match := re.search(r"listening on (http://\S+)/mcp", line):
                url = match.group(1)
                break
        assert url, "server did not announce its address"
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
        yield proc, url + "/mcp"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


async def all_tasks(client: Client) -> list[dict[str, Any]]:
    return (await call_ok(client, "list_tasks", {"limit": 100}))["items"]


async def test_tasks_survive_kill_9_and_finish_exactly_once_in_effect(tmp_path: Path) -> None:
    big = write_big_csv(tmp_path / "big.csv")
    copy = tmp_path / "copy.csv"
    copy.write_bytes(big.read_bytes())
    files = [{"path": str(big)}, {"path": str(copy)}]
    products: list[str] = []
    file_tasks: list[str] = []
    with anyio.fail_after(120):
        with server(tmp_path) as (proc, url):
            async with Client(url) as client:
                for i in range(PRODUCTS):
                    args = product_args(f"big-{i}", files=files, schema=SCHEMA)
                    products.append((await call_ok(client, "register_data_product", args))["product"]["id"])
                submitted = [
                    (await call_ok(client, "validate_data_product", {"product_id": pid}))["task"]["id"]
                    for pid in products
                ]
                for _ in range(FILE_TASKS):
                    result = await call_ok(
                        client, "validate_file", {"path": str(big), "schema": SCHEMA, "background": True}
                    )
                    file_tasks.append(result["task"]["id"])
                # Wait (bounded) until work is really under way: a task is running.
                while True:
                    tasks = await all_tasks(client)
                    if any(t["status"] == "running" for t in tasks):
                        break
                    assert not all(t["status"] == "succeeded" for t in tasks), "finished before the kill"
                    await anyio.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        before = {t["id"]: t["status"] for t in tasks}
        assert "running" in before.values()

        with server(tmp_path) as (proc, url):
            async with Client(url) as client:
                while True:  # every task resumes and finishes (bounded by fail_after)
                    tasks = await all_tasks(client)
                    if all(t["status"] in ("succeeded", "failed", "cancelled") for t in tasks):
                        break
                    await anyio.sleep(0.1)
                by_id = {t["id"]: t for t in tasks}
                assert len(by_id) == len(submitted) + len(file_tasks)
                assert {t["status"] for t in tasks} == {"succeeded"}, tasks
                # The interrupted ones ran again (attempt 2); none more than that.
                assert any(by_id[tid]["attempts"] == 2 for tid, s in before.items() if s == "running")
                assert all(t["attempts"] <= 2 for t in tasks)
                for task_id, product_id in zip(submitted, products, strict=True):
                    task = await call_ok(client, "get_task", {"task_id": task_id})
                    result = task["result"]
                    assert result["valid"] is True and [f["error_count"] for f in result["files"]] == [0, 0]
                    assert len({f["sha256"] for f in result["files"]}) == 1  # same bytes, same digest
                    product = await call_ok(client, "get_data_product", {"id": product_id})
                    # Exactly one effect per task: registered at 1, one recorded validation -> 2.
                    assert (product["revision"], product["status"]) == (2, "validated")
                    assert product["last_validation"]["task_id"] == task_id
                for task_id in file_tasks:
                    report = (await call_ok(client, "get_task", {"task_id": task_id}))["result"]
                    assert (report["valid"], report["rows"], report["error_count"]) == (True, ROWS, 0)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
