"""PostgreSQL and replicas: products list/search latency at 100 k and 1 M products (PostgreSQL) and
100 k (SQLite, for comparison), and durable-task throughput with 1, 2 and 3 replica processes.

- **list/search**: the store is seeded directly (PostgreSQL: COPY in batches of 50 k with the
  trigram index built afterwards; SQLite: bench_products' big transactions); then
  ``list_data_products`` is timed inside the server's tool call (``server.call_tool``, an
  in-process MCP server on a real Application) -- first page, a deep page through the cursor,
  text search, tag and owner filters. p50/p99 in ms. Every page also counts ``total``.
- **task throughput**: N real `dataproduct-mcp serve --transport http` replicas on one schema;
  T ``validate-file`` tasks (a 2,000-row CSV, cache off so each really reads it) are inserted at
  once; tasks finished per second until all are done.

Needs PostgreSQL on 127.0.0.1:5432, database ``test`` (trust auth); each run uses its own schema
and drops it.

    .venv/bin/python bench/bench_pg.py [--sizes 100000 1000000] [--sqlite-size 100000] [--calls 100]
                                        [--tasks 2000] [--replicas 1 2 3] [--skip-products] [--skip-tasks]
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import asyncpg

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.domain.products import DataProduct, DataProductFields, ProductStatus, ord_id_for
from dataproduct_mcp.domain.tasks import Task, TaskStatus
from dataproduct_mcp.logs import configure_logging
from dataproduct_mcp.persistence.store import PgStore
from dataproduct_mcp.server.builder import build_server

WORDS = "sales orders invoices customers churn revenue forecast inventory ledger shipment returns".split()
OWNERS = [f"team-{i}" for i in range(50)]
EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))
COPY_BATCH = 50_000


def base_dsn() -> str:
    for user in (getpass.getuser(), "postgres"):
        dsn = f"postgresql://{user}@127.0.0.1:5432/test"
        try:
            anyio.run(_check, dsn)
            return dsn
        except Exception:  # try the next user
            continue
    raise SystemExit("no PostgreSQL on 127.0.0.1:5432/test (trust auth)")


async def _check(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    await conn.close()


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql, timeout=600)
    finally:
        await conn.close()


@contextlib.contextmanager
def schema(dsn: str) -> Iterator[str]:
    name = f"dpmcp_bench_{os.getpid()}_{secrets.token_hex(3)}"
    anyio.run(_admin, dsn, f'CREATE SCHEMA "{name}"')
    try:
        yield f"{dsn}?search_path={name}"
    finally:
        anyio.run(_admin, dsn, f'DROP SCHEMA "{name}" CASCADE')


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))] * 1000


# -- products ---------------------------------------------------------------------------------


def product_rows(start: int, stop: int, rnd: random.Random, template: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """COPY records for products [start, stop) and their tags (built from one validated template)."""
    now = datetime.now(UTC)
    rows, tags = [], []
    for i in range(start, stop):
        words = rnd.sample(WORDS, 3)
        body = dict(template)
        name = f"{words[0]}-{i}"
        body.update(
            id=str(uuid.uuid4()),
            name=name,
            title=" ".join(w.title() for w in words),
            short_description=f"{words[1]} of {words[2]}",
            description=f"Daily {words[0]} {words[1]} for region {i % 97}.",
            owner=rnd.choice(OWNERS),
            tags=words[:2],
            ord_id=ord_id_for("customer.dpmcp", name, "1.0.0"),
        )
        text = "\n".join([name, body["title"], body["short_description"], body["description"], *words[:2]]).lower()
        seq = i + 1
        rows.append(
            (
                seq, body["id"], "local", body["ord_id"], name, body["owner"], "draft", 1, "h",
                json.dumps(body, separators=(",", ":")), text, now, now,
            )
        )  # fmt: skip
        tags.extend((seq, "local", t) for t in words[:2])
    return rows, tags


def template_product() -> dict[str, Any]:
    fields = DataProductFields(name="t", title="T", version="1.0.0", owner="team-0", tags=["sales"])
    now = datetime.now(UTC)
    p = DataProduct(
        **fields.model_dump(by_alias=True), id=str(uuid.uuid4()), ord_id=ord_id_for("customer.dpmcp", "t", "1.0.0"),
        tenant="local", namespace="customer.dpmcp", revision=1, status=ProductStatus.draft, created_at=now,
        updated_at=now,
    )  # fmt: skip
    return json.loads(p.model_dump_json(by_alias=True))


async def seed_pg(store: PgStore, n: int) -> None:
    rnd = random.Random(7)
    template = template_product()
    async with store.db.connection() as conn:
        definition = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'products_search_trgm'"
        )
        await conn.execute("DROP INDEX IF EXISTS products_search_trgm")
        for start in range(0, n, COPY_BATCH):
            rows, tags = product_rows(start, min(n, start + COPY_BATCH), rnd, template)
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "products",
                    records=rows,
                    columns=[
                        "seq",
                        "id",
                        "tenant",
                        "ord_id",
                        "name",
                        "owner",
                        "status",
                        "revision",
                        "content_hash",
                        "body",
                        "search_text",
                        "created_at",
                        "updated_at",
                    ],  # fmt: skip
                    timeout=600,
                )
                await conn.copy_records_to_table(
                    "product_tags", records=tags, columns=["product_seq", "tenant", "tag"], timeout=600
                )
        await conn.execute("SELECT setval('products_seq_seq', $1)", n)
        if definition:
            await conn.execute(definition, timeout=3600)
        await conn.execute("VACUUM ANALYZE products", timeout=3600)
        await conn.execute("VACUUM ANALYZE product_tags", timeout=3600)


async def measure(app: Application, size: int, calls: int, label: str, seeded: float) -> list[str]:
    server = build_server(app)
    out = [f"{label}: {size:,} products (seeded in {seeded:.1f} s)"]
    first = await server.call_tool("list_data_products", {"limit": 100})
    cursor = first.structured_content["next_cursor"]  # type: ignore[index]
    for _ in range(5):
        page = await server.call_tool("list_data_products", {"limit": 100, "cursor": cursor})
        cursor = page.structured_content["next_cursor"]  # type: ignore[index]
    # A cursor 90 % of the way in (the codec is the service's own: the same token a client would hold).
    deep_cursor = app.products.cursors.encode(int(size * 0.9), {"q": None, "t": (), "s": None, "o": None})
    cases: dict[str, dict[str, Any]] = {
        "first page (20)": {},
        "page 7 (100)": {"limit": 100, "cursor": cursor},
        "search 'revenue'": {"query": "revenue"},
        "search 'region 42'": {"query": "region 42"},
        "search '-4242'": {"query": "-4242"},
        "tag filter": {"tags": ["churn"]},
        "owner filter": {"owner": "team-7"},
    }
    cases["deep page 90% (100)"] = {"limit": 100, "cursor": deep_cursor}
    for name, args in cases.items():
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            result = await server.call_tool("list_data_products", dict(args))
            samples.append(time.perf_counter() - t)
            if result.is_error:
                out.append(f"  {name:<22} error {result.content}")
                break
        else:
            total = result.structured_content["total"]  # type: ignore[index]
            out.append(
                f"  {name:<22} p50 {pct(samples, 0.5):8.2f} ms  p99 {pct(samples, 0.99):8.2f} ms  total={total:,}"
            )
    for line in out:
        print(line, flush=True)
    return out


async def bench_pg_products(dsn: str, size: int, calls: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), database_url=dsn, db_pool_min=1, db_pool_max=4)
        app = Application.build(settings)
        async with app:
            t0 = time.perf_counter()
            await seed_pg(app.store, size)  # type: ignore[arg-type]
            return await measure(app, size, calls, "PostgreSQL", time.perf_counter() - t0)


async def bench_sqlite_products(size: int, calls: int) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.bench_products import seed as seed_sqlite

    with tempfile.TemporaryDirectory() as tmp:
        app = Application.build(load_settings(data_dir=Path(tmp)))
        async with app:
            t0 = time.perf_counter()
            await seed_sqlite(app.store, size)  # type: ignore[arg-type]
            return await measure(app, size, calls, "SQLite", time.perf_counter() - t0)


# -- task throughput --------------------------------------------------------------------------


@contextlib.contextmanager
def replica(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [EXE, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", "0", "--no-auth"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if re.search(r"listening on (http://\S+)/mcp", line):
                break
        else:
            raise RuntimeError("replica did not start")
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def run_tasks(dsn: str, path: Path, n: int) -> float:
    store = PgStore(dsn, pool_min=1, pool_max=2)
    await store.open()
    try:
        now = datetime.now(UTC)
        tasks = [
            Task(
                id=str(uuid.uuid4()), tenant="local", kind="validate-file", status=TaskStatus.queued,
                params={"path": str(path)}, created_at=now, updated_at=now,
            )
            for _ in range(n)
        ]  # fmt: skip
        from dataproduct_mcp.persistence.tasks import insert_task

        t0 = time.perf_counter()
        async with store.db.atomic() as conn:
            for task in tasks:
                await insert_task(store.db, conn, task)
        while True:
            counts = await store.count_tasks()
            done = sum(v for k, v in counts.get("validate-file", {}).items() if k in ("succeeded", "failed"))
            if done >= n:
                break
            await anyio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        failed = counts.get("validate-file", {}).get("failed", 0)
        if failed:
            print(f"  ({failed} tasks failed)")
        return elapsed
    finally:
        await store.close()


def bench_tasks(dsn: str, n: int, replica_counts: list[int], workers: int) -> list[str]:
    out = [f"task throughput: {n} validate-file tasks (2,000-row CSV), {workers} workers per replica"]
    print(out[0], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "small.csv"
        path.write_text("id,name\n" + "".join(f"{i},name-{i}\n" for i in range(1, 2001)))
        for count in replica_counts:
            with schema(dsn) as sdsn, contextlib.ExitStack() as stack:
                env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
                env.update(
                    {
                        "DPMCP_ALLOWED_ROOTS": tmp, "DPMCP_DATABASE_URL": sdsn, "DPMCP_CACHE_MAX_BYTES": "0",
                        "DPMCP_TASK_WORKERS": str(workers), "DPMCP_DB_POOL_MAX": str(workers + 4),
                        "DPMCP_LOG_LEVEL": "WARNING",
                    }
                )  # fmt: skip
                for i in range(count):
                    stack.enter_context(replica(env | {"DPMCP_DATA_DIR": str(Path(tmp) / f"data{i}")}))
                elapsed = anyio.run(run_tasks, sdsn, path, n)
                line = f"  {count} replica(s): {n / elapsed:7.1f} tasks/s ({elapsed:.1f} s for {n})"
                print(line, flush=True)
                out.append(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--sqlite-size", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--skip-products", action="store_true")
    parser.add_argument("--skip-tasks", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING")
    dsn = base_dsn()
    print(f"PostgreSQL: {dsn}; {os.cpu_count()} CPU(s)", flush=True)
    if not args.skip_products:
        if args.sqlite_size:
            anyio.run(bench_sqlite_products, args.sqlite_size, args.calls)
        for size in args.sizes:
            with schema(dsn) as sdsn:
                anyio.run(bench_pg_products, sdsn, size, args.calls)
    if not args.skip_tasks:
        bench_tasks(dsn, args.tasks, args.replicas, args.workers)


if __name__ == "__main__":
    main()
