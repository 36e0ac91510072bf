"""ORD publication: breaker-open publish latency and publications per second to a healthy registry.

    .venv/bin/python bench/bench_publish.py [N_LATENCY] [N_PUBLICATIONS]

- **breaker-open latency**: ``PublicationService.publish(tenant, product_id)`` (what publish_to_ord
  runs: load the product, check it for ORD, write the outbox row + publish-ord task in one SQLite
  transaction, return) while the registry breaker is open, on N distinct products.  p50 / p99 ms.
- **throughput**: one ``publish_to_ord()`` of N products to a healthy registry (a real HTTP server on
  127.0.0.1, tests/ord/registry_fake.py), from the call to the last row delivered: build + check of
  each one-product document, POST with its Idempotency-Key, last_publication recorded, row marked.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ord.registry_fake import RegistryFake  # noqa: E402

from dataproduct_mcp.app import Application  # noqa: E402
from dataproduct_mcp.config import load_settings  # noqa: E402
from dataproduct_mcp.domain.publication import OutboxStatus  # noqa: E402


def args(i: int) -> dict[str, object]:
    return {
        "name": f"orders-{i}", "title": f"Orders {i}", "short_description": "Sales orders.",
        "description": "Every sales order line item with prices and currencies. Refreshed nightly.",
        "version": "1.0.0", "owner": "sales", "tags": ["sales", "orders"],
    }  # fmt: skip


async def main(n_latency: int, n_pub: int) -> None:
    registry = await RegistryFake().start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp), ord_registry_url=registry.url, breaker_reset_seconds=3600, ord_outbox_sweep_seconds=3600
        )
        async with Application.build(settings) as app:
            assert app.publication is not None
            tenant = app.default_tenant()
            ids = [(await app.products.register(tenant, args(i)))[0].id for i in range(n_latency + n_pub)]
            breaker = app.publication.breaker
            for _ in range(breaker.failure_threshold):
                breaker.record_failure()
            times = []
            for pid in ids[:n_latency]:
                t0 = time.perf_counter()
                await app.publication.publish(tenant, pid)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            p50 = statistics.median(times)
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(f"breaker-open publish latency over {n_latency}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        # Throughput: a fresh application (breaker closed), the remaining products only.
        async with Application.build(settings) as app:
            assert app.publication is not None
            app.publication.sweep_seconds = 3600
            for pid in ids[:n_latency]:  # their rows belong to the latency run: mark them out of the way
                for row in await app.store.list_outbox(tenant, product_id=pid):
                    await app.store.outbox_finish(row.idempotency_key, OutboxStatus.rejected, error="bench")
            t0 = time.perf_counter()
            outcome = await app.publication.publish(tenant)
            n = len(outcome.enqueued.queued)
            with anyio.fail_after(600):
                await registry.wait_for(lambda r: len(r.accepted) >= n)
                assert app.tasks is not None and outcome.task is not None
                await app.tasks.wait(tenant, outcome.task.id, 600)
            elapsed = time.perf_counter() - t0
            print(f"publications to a healthy local registry: {n} in {elapsed:.2f} s = {n / elapsed:.0f}/s")
    await registry.stop()
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, CPython {platform.python_version()}")


if __name__ == "__main__":
    nl = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    np_ = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    anyio.run(main, nl, np_)
