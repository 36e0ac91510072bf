"""Durable tasks: restart time with 10 k queued (or crashed-running) tasks, and task claim rate.

- **restart**: a database holding N queued tasks (and, second case, N tasks left `running` by a
  process that died — kill -9); time for `Application.start()` (open, migrations check, start-up
  recovery, workers started) and until the first task is running.
- **claim rate**: N tasks of a no-op kind; tasks finished per second through the TaskRunner
  (claim + finish = two write transactions each) for 1, 2 and 8 workers; and the raw store claim
  rate (claim only, one loop).

    .venv/bin/python bench/bench_tasks.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.domain.tasks import TaskStatus
from dataproduct_mcp.logs import configure_logging
from dataproduct_mcp.persistence.dialects.sqlite import utc_text as _ts
from dataproduct_mcp.persistence.store import SqliteStore


async def seed(path: Path, n: int, *, running_owner: str | None = None, kind: str = "noop") -> None:
    """Insert n tasks in large transactions (seeding speed is not what is measured)."""
    store = SqliteStore(path)
    await store.open()
    now = _ts(datetime.now(UTC))
    status = TaskStatus.running.value if running_owner else TaskStatus.queued.value
    try:
        for start in range(0, n, 5000):
            async with store.db.write() as conn:
                await conn.executemany(
                    "INSERT INTO tasks (id, tenant, kind, params, status, attempts, lease_owner, lease_expires_at,"
                    " created_at, updated_at) VALUES (?, 'local', ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            str(uuid.uuid4()),
                            kind,
                            json.dumps({"i": i}),
                            status,
                            1 if running_owner else 0,
                            running_owner,
                            "2999-01-01T00:00:00.000000Z" if running_owner else None,
                            now,
                            now,
                        )
                        for i in range(start, min(n, start + 5000))
                    ],
                )
    finally:
        await store.close()


def dead_owner() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:deadbeef"


async def restart(tmp: Path, n: int, crashed: bool) -> dict[str, float]:
    data = tmp / ("crashed" if crashed else "queued")
    data.mkdir()
    settings = load_settings(data_dir=data, allowed_roots=[tmp], task_workers=2)
    await seed(settings.sqlite_path, n, running_owner=dead_owner() if crashed else None)
    app = Application.build(settings)
    first = anyio.Event()

    async def noop(ctx: Any, params: dict[str, Any]) -> None:
        first.set()

    assert app.tasks is not None
    app.tasks.register_kind("noop", noop)
    t0 = time.perf_counter()
    async with app:
        started = time.perf_counter() - t0
        with anyio.fail_after(60):
            await first.wait()
        running = time.perf_counter() - t0
    return {"start_s": started, "first_task_s": running}


async def claim_rate(tmp: Path, n: int, workers: int) -> float:
    data = tmp / f"rate-{workers}"
    data.mkdir()
    settings = load_settings(data_dir=data, allowed_roots=[tmp], task_workers=workers)
    await seed(settings.sqlite_path, n)
    app = Application.build(settings)
    done = 0
    all_done = anyio.Event()

    async def noop(ctx: Any, params: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        if done == n:
            all_done.set()

    assert app.tasks is not None and app.task_runner is not None
    app.tasks.register_kind("noop", noop)
    async with app:
        t0 = time.perf_counter()
        with anyio.fail_after(600):
            await all_done.wait()
            # the last finish is written just after the handler returns
            while app.task_runner.running:
                await anyio.sleep(0.001)
        elapsed = time.perf_counter() - t0
    return n / elapsed


async def raw_claims(tmp: Path, n: int) -> float:
    path = tmp / "raw.sqlite3"
    await seed(path, n)
    store = SqliteStore(path)
    await store.open()
    try:
        t0 = time.perf_counter()
        count = 0
        while await store.claim_task("bench", 30, ["noop"]) is not None:
            count += 1
        return count / (time.perf_counter() - t0)
    finally:
        await store.close()


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for crashed in (False, True):
            r = await restart(tmp, n, crashed)
            label = "running (crashed process)" if crashed else "queued"
            print(
                f"restart with {n} {label} tasks: start() {r['start_s'] * 1000:.0f} ms,"
                f" first task running {r['first_task_s'] * 1000:.0f} ms"
            )
        print(f"raw store claims (claim only, one loop): {await raw_claims(tmp, n):.0f} tasks/s")
        for workers in (1, 2, 8):
            rate = await claim_rate(tmp, n, workers)
            print(f"no-op tasks through the runner, {workers} worker(s): {rate:.0f} tasks/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    configure_logging("WARNING", "text")
    anyio.run(main, args.tasks)
