"""``profile`` throughput vs a plain pyarrow scan of the same Parquet file.

Generates a Parquet file under /tmp (default 2 M rows; an int64 id — every value distinct, so the
HyperLogLog sketch and the Misra-Gries summary work hardest —, a float with 10 % nulls, a
low-cardinality string, a 50 k-cardinality string, a timestamp), then times, alternating and in
this process: (a) the reference, ``ParquetFile.iter_batches`` over every row with
``pyarrow.compute.min_max`` of each column (the least a profile must do: decode and touch every
value), (a') the same plus ``value_counts`` of each column (one hash pass per value, the floor of
any exact per-batch counting), and (b) ``DataViewService.profile`` of the file (the tool's service, no MCP transport).
Best of N runs, rows per second of each, and the ratio. It also times one profile per column to
show where the time goes. The machine is shared: the load average before the runs is printed.

    .venv/bin/python bench/bench_profile.py [--rows 2000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataproduct_mcp.services.dataviews import DataViewService
from dataproduct_mcp.services.files import PathPolicy

ROOT = Path("/tmp/dpmcp-bench-profile")


def make_file(rows: int) -> Path:
    path = ROOT / f"profile-{rows}.parquet"
    if path.exists():
        return path
    ROOT.mkdir(parents=True, exist_ok=True)
    writer = None
    step = 250_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        ids = pa.array(range(start, start + n), pa.int64())
        table = pa.table(
            {
                "id": ids,
                "amount": pa.array([None if i % 10 == 0 else i * 0.25 for i in range(start, start + n)]),
                "country": pa.array([("de", "fr", "it", "es", "pl")[i % 5] for i in range(start, start + n)]),
                "customer": pa.array([f"cust-{(i * 7919) % 50_000}" for i in range(start, start + n)]),
                "at": pc.multiply(ids, 1_000_000).cast(pa.timestamp("us")),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=step)
    assert writer is not None
    writer.close()
    return path


def reference(path: Path, hashing: bool = False) -> float:
    t0 = time.perf_counter()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=64 * 1024):
        for column in batch.columns:
            pc.min_max(column)
            if hashing:  # the floor of any exact per-batch count: one hash pass over every value
                pc.value_counts(column)
    return time.perf_counter() - t0


def ours(service: DataViewService, path: Path, columns: list[str] | None = None) -> float:
    t0 = time.perf_counter()
    result = anyio.run(lambda: service.profile(str(path), columns=columns))
    assert result.complete
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = max(1, min(args.runs, 10))
    path = make_file(args.rows)
    service = DataViewService(PathPolicy([ROOT]), time_budget_s=600)
    print(f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, pyarrow {pa.__version__}")
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}")
    print(f"file: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB, 5 columns")
    ref_times, hash_times, our_times = [], [], []
    for _ in range(runs):
        ref_times.append(reference(path))
        hash_times.append(reference(path, hashing=True))
        our_times.append(ours(service, path))
    ref, hashed, our = min(ref_times), min(hash_times), min(our_times)
    print(f"pyarrow scan + min_max:                {ref:.3f} s  ({args.rows / ref / 1e6:.2f} M rows/s)")
    print(f"pyarrow scan + min_max + value_counts: {hashed:.3f} s  ({args.rows / hashed / 1e6:.2f} M rows/s)")
    print(f"profile:                               {our:.3f} s  ({args.rows / our / 1e6:.2f} M rows/s)")
    print(f"ratio (scan / profile): {ref / our:.3f}; (scan + value_counts) / profile: {hashed / our:.3f}")
    for name in ("id", "amount", "country", "customer", "at"):
        print(f"  profile of {name!r} alone: {ours(service, path, [name]):.3f} s")


if __name__ == "__main__":
    main()
