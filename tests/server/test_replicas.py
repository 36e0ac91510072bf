"""Several real `serve --transport http` replicas on one PostgreSQL schema; one is killed with SIGKILL
half way through 1,000 background tasks.

Every task must end ``succeeded`` exactly once in effect: each validate-product task bumps its
product's revision once (its outcome is recorded once per task id), so every product ends at
revision 2 with ``last_validation.task_id`` naming its task. The killed replica's running tasks are
claimed again by the survivors once their lease expires (FOR UPDATE SKIP LOCKED: never two at once).
ORD publications submitted across the replicas reach the registry exactly once per revision.
The replicas start together on an empty schema, so the migrations also run under the advisory lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from tests.helpers import call_ok
from tests.ord.registry_fake import RegistryFake
from tests.persistence.test_sqlite_store import make
from tests.pg import fresh_schema

from dataproduct_mcp.persistence.store import PgStore

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))
TASKS = 1000
PUBLICATIONS = 100
FILES = 8
ROWS = 50_000  # ~0.6 MB per file: ~10-20 ms of real validation per task, so a backlog builds
SUBMITTERS = 4  # concurrent MCP calls per replica
SCHEMA = {"columns": [{"name": "id", "type": "integer", "required": True}, {"name": "name", "type": "string"}]}


def replica_env(tmp_path: Path, i: int, dsn: str, registry_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    env.update(
        {
            "DPMCP_DATA_DIR": str(tmp_path / f"data{i}"),  # nothing shared but the database
            "DPMCP_ALLOWED_ROOTS": str(tmp_path),
            "DPMCP_DATABASE_URL": dsn,
            "DPMCP_DB_POOL_MIN": "1",
            "DPMCP_DB_POOL_MAX": "6",
            "DPMCP_CACHE_MAX_BYTES": "0",  # every task really reads its file
            "DPMCP_TASK_WORKERS": "2",
            "DPMCP_TASK_LEASE_SECONDS": "3",
            "DPMCP_ORD_REGISTRY_URL": registry_url,
            "DPMCP_ORD_REGISTRY_BACKOFF_SECONDS": "0.01",
            "DPMCP_LOG_LEVEL": "WARNING",
        }
    )
    return env


@contextmanager
def replica(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
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
        assert url, "replica did not announce its address"
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
        yield proc, url + "/mcp"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def start_replicas(stack: ExitStack, envs: list[dict[str, str]]) -> list[tuple[subprocess.Popen[str], str]]:
    """Start every replica at once (they migrate the empty schema together), then wait for each."""
    out: list[Any] = [None] * len(envs)

    def start(i: int) -> None:
        out[i] = stack.enter_context(replica(envs[i]))

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(envs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(out), "a replica did not start"
    return out


def write_files(tmp_path: Path) -> list[Path]:
    files = []
    for f in range(FILES):
        path = tmp_path / "files" / f"part-{f}.csv"
        path.parent.mkdir(exist_ok=True)
        path.write_text("id,name\n" + "".join(f"{i},name-{i}\n" for i in range(1, ROWS + 1)))
        files.append(path)
    return files


async def counts(store: PgStore) -> dict[str, int]:
    out: dict[str, int] = {}
    for by_status in (await store.count_tasks()).values():
        for status, n in by_status.items():
            out[status] = out.get(status, 0) + n
    return out


@pytest.mark.parametrize("replicas", [2, 3])
async def test_replicas_share_the_work_and_a_kill_9_loses_and_doubles_nothing(tmp_path: Path, replicas: int) -> None:
    files = write_files(tmp_path)
    registry = await RegistryFake().start()
    started = time.monotonic()
    try:
        with fresh_schema("r") as dsn, ExitStack() as stack, anyio.fail_after(300):
            envs = [replica_env(tmp_path, i, dsn, registry.url) for i in range(replicas)]
            procs = await anyio.to_thread.run_sync(start_replicas, stack, envs)
            store = PgStore(dsn, pool_min=1, pool_max=4)
            await store.open()
            try:
                # Seed the products straight into the shared schema (fast), then submit through MCP.
                validate_ids, publish_ids = [], []
                for i in range(TASKS + PUBLICATIONS):
                    path = files[i % FILES]
                    product, digest = make(f"p{i}", files=[{"path": str(path)}], schema=SCHEMA)
                    await store.insert_product(product, digest)
                    (validate_ids if i < TASKS else publish_ids).append(product.id)

                task_of: dict[str, str] = {}
                client_stacks = [AsyncExitStack() for _ in procs]
                clients = [
                    await cs.enter_async_context(Client(url)) for cs, (_, url) in zip(client_stacks, procs, strict=True)
                ]

                try:

                    async def submit_some(r: int, lane: int) -> None:
                        mine = validate_ids[r::replicas][lane::SUBMITTERS]
                        for pid in mine:
                            out = await call_ok(clients[r], "validate_data_product", {"product_id": pid})
                            task_of[pid] = out["task"]["id"]
                        for pid in publish_ids[r::replicas][lane::SUBMITTERS]:
                            out = await call_ok(clients[r], "publish_to_ord", {"product_id": pid})
                            assert out["task"] is not None

                    async def submit(r: int) -> None:
                        async with anyio.create_task_group() as lanes:
                            for lane in range(SUBMITTERS):
                                lanes.start_soon(submit_some, r, lane)

                    async with anyio.create_task_group() as tg:
                        for r in range(1, replicas):
                            tg.start_soon(submit, r)
                        await submit(0)  # the replica to kill submits its share first
                        # Half way: kill replica 0 (SIGKILL) while it holds running tasks.
                        victim = procs[0][0]
                        owner_prefix = f"%:{victim.pid}:%"
                        while True:
                            c = await counts(store)
                            async with store.db.connection() as conn:
                                held = await conn.fetchval(
                                    "SELECT COUNT(*) FROM tasks WHERE status = 'running' AND lease_owner LIKE $1",
                                    owner_prefix,
                                )
                            if held and c.get("succeeded", 0) >= TASKS // 2:
                                break
                            assert c.get("succeeded", 0) < TASKS, "everything finished before the kill"
                            await anyio.sleep(0.02)
                        os.kill(victim.pid, signal.SIGKILL)
                        victim.wait(timeout=30)
                        # Frozen now: what the dead replica held when it died.
                        async with store.db.connection() as conn:
                            in_flight = {
                                r[0]
                                for r in await conn.fetch(
                                    "SELECT id FROM tasks WHERE status = 'running' AND lease_owner LIKE $1",
                                    owner_prefix,
                                )
                            }
                        at_kill = await counts(store)

                    # Survivors finish everything (the victim's leases expire after 3 s).
                    total = TASKS + PUBLICATIONS
                    while (c := await counts(store)).get("succeeded", 0) + c.get("failed", 0) < total:
                        assert sum(c.values()) == total, c  # every submission made one task
                        await anyio.sleep(0.1)
                    final = await counts(store)
                    assert final == {"succeeded": total}, final

                    # Exactly once in effect: every product validated once by its own task.
                    async with store.db.connection() as conn:
                        rows = await conn.fetch("SELECT id, attempts, result, lease_owner FROM tasks")
                    attempts = {r[0]: r[1] for r in rows}
                    for pid in validate_ids:
                        product = await store.get_product("local", pid)
                        assert product.revision == 2 and product.status.value == "validated", (pid, product.revision)
                        assert product.last_validation is not None
                        assert product.last_validation.task_id == task_of[pid]
                    assert all(attempts[t] >= 2 for t in in_flight)  # each was recovered by a survivor
                    assert all(n <= 3 for n in attempts.values())

                    # Publications: every revision reached the registry once (replays are deduplicated).
                    expected = {f"{pid}:1" for pid in publish_ids}
                    assert set(registry.accepted) == expected
                    assert set(registry.accepted.values()) == {1}
                    assert await store.count_outbox("local") == {"delivered": PUBLICATIONS}
                    print(
                        f"\n{replicas} replicas: {total} tasks, killed one at {at_kill}, {len(in_flight)} in flight"
                        f" recovered, replays {sum(registry.replays.values())}, {time.monotonic() - started:.1f} s"
                    )
                finally:
                    for cs in reversed(client_stacks):
                        with contextlib.suppress(Exception):  # the killed replica's session is gone
                            await cs.aclose()
            finally:
                await store.close()
    finally:
        await registry.stop()
