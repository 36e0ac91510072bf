"""`dataproduct-mcp tasks list|show|cancel` against a real database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import anyio

from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.persistence.store import SqliteStore

EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    env["DPMCP_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([EXE, "tasks", *args], env=env, capture_output=True, text=True, timeout=60)


def seed(tmp_path: Path) -> list[str]:
    async def go() -> list[str]:
        store = SqliteStore(tmp_path / "data" / "dataproduct.sqlite3")
        await store.open()
        ids = []
        try:
            for kind, tenant in (("validate-file", "local"), ("validate-product", "local"), ("x", "other")):
                now = datetime.now(UTC)
                task = Task(
                    id=str(uuid.uuid4()),
                    tenant=tenant,
                    kind=kind,
                    status=TaskStatus.queued,
                    params={"path": "/data/a.csv"},
                    created_at=now,
                    updated_at=now,
                )
                await store.create_task(task)
                ids.append(task.id)
        finally:
            await store.close()
        return ids

    return anyio.run(go)


def test_tasks_list_show_and_cancel_read_and_write_the_database(tmp_path: Path) -> None:
    file_task, product_task, foreign = seed(tmp_path)
    table = run(tmp_path, "list")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["ID", "KIND", "STATUS"]
    assert file_task in table.stdout and product_task in table.stdout and foreign not in table.stdout
    listed = json.loads(run(tmp_path, "list", "--kind", "validate-file", "--json").stdout)
    assert [t["id"] for t in listed["items"]] == [file_task] and listed["total"] == 1
    shown = json.loads(run(tmp_path, "show", product_task, "--json").stdout)
    assert shown["status"] == "queued" and shown["params"] == {"path": "/data/a.csv"}
    cancelled = json.loads(run(tmp_path, "cancel", product_task, "--json").stdout)
    assert cancelled["status"] == "cancelled"
    text = run(tmp_path, "show", product_task)
    assert "status: cancelled" in text.stdout
    assert run(tmp_path, "show", foreign).returncode == 1  # another tenant's task is not there
    assert run(tmp_path, "--tenant", "other", "show", foreign).returncode == 0
    assert run(tmp_path, "list", "--limit", "0").returncode == 2
