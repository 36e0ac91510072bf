"""Two real server processes on one SQLite data dir: the job lease lets only one of them submit
each run of a maintenance job (counted in the database afterwards)."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime
from pathlib import Path

import anyio
import pytest
from tests.procs import server_env, start_server

pytestmark = pytest.mark.anyio

INTERVAL = 1  # seconds


def runs(db: Path) -> tuple[list[tuple[str, str]], int]:
    """(created_at, scheduled_by) of every maintenance-prune task, and the job's run counter."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        tasks = conn.execute(
            "SELECT created_at, json_extract(params, '$.scheduled_by') FROM tasks"
            " WHERE kind = 'maintenance-prune' ORDER BY created_at"
        ).fetchall()
        row = conn.execute("SELECT runs FROM job_leases WHERE job = 'prune'").fetchone()
    return tasks, (row[0] if row else 0)


async def test_a_job_lease_keeps_two_servers_from_running_the_same_job_twice(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    env.update(
        {
            "DPMCP_SCHEDULE_PRUNE_SECONDS": str(INTERVAL),
            "DPMCP_SCHEDULE_REVALIDATE_SECONDS": "0",
            "DPMCP_SCHEDULE_VACUUM_SECONDS": "0",
            "DPMCP_SCHEDULE_REPUBLISH_SECONDS": "0",
        }
    )
    db = tmp_path / "data" / "dataproduct.sqlite3"
    args = ["--no-auth", "--port", "0"]
    with start_server(args, env), start_server(args, env):
        with anyio.fail_after(60):
            while True:  # bounded poll of another process's database (no event crosses processes)
                tasks, counted = runs(db) if db.exists() else ([], 0)
                if len(tasks) >= 4:
                    break
                await anyio.sleep(0.2)
    tasks, counted = runs(db)
    assert counted == len(tasks) >= 4  # every run is one task, no run without its task
    times = [datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ") for at, _ in tasks]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= INTERVAL * 0.99, gaps  # never two runs in one interval
    assert len({owner for _, owner in tasks}) == 1  # the lease holder alone submitted them
    with contextlib.closing(sqlite3.connect(db)) as conn:
        statuses = {s for (s,) in conn.execute("SELECT status FROM tasks WHERE kind = 'maintenance-prune'")}
        leases = conn.execute("SELECT owner FROM job_leases").fetchall()
    assert statuses <= {"succeeded", "queued", "running"}
    assert leases == [(None,)]  # both released their leases at shutdown
