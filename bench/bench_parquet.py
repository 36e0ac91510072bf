"""Parquet full validation vs ``ParquetFile.iter_batches`` (issue 3: ratio must be >= 0.8).

Generates a Parquet file (default 1.5 M rows; ints, floats, non-ASCII strings, booleans, dates,
timestamps, a dictionary-encoded category) under /tmp, then times, each in a fresh subprocess
and alternating, (a) the reference: iterating every batch with ``ParquetFile.iter_batches`` and
(b) our full validation (``validate_path``: detection, every row group decoded with page CRCs
verified, UTF-8 of every string checked, sha256, report). Best of N runs (wall time), and the
median of the ratios of each reference run and the run of ours right after it; CPU
seconds of that run; peak RSS (VmHWM of the child) over all runs. The machine is shared: the load
average before the runs is printed, and the ratio only means something when it is low.

    .venv/bin/python bench/bench_parquet.py [--rows 1500000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

WORDS = ["alpha", "Straße", "naïve", "東京", "Zürich", "crème brûlée", "data", "Ελλάδα", "mcp", "øre"]

PEAK_RSS = """
def peak_rss():
    # VmHWM: this process's own peak (ru_maxrss would include the parent's RSS at fork time)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
"""

REFERENCE = (
    PEAK_RSS
    + """
import sys, time, resource
import pyarrow.parquet as pq
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
rows = 0
for batch in pq.ParquetFile(sys.argv[1]).iter_batches():
    rows += batch.num_rows
elapsed = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(elapsed, rows, peak_rss(), cpu)
"""
)

OURS = (
    PEAK_RSS
    + """
import sys, time, resource
from pathlib import Path
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.registry import validate_path, validators
validators()  # imports are not timed, as for the reference
path = Path(sys.argv[1])
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
report = validate_path(path, ValidationOptions())
elapsed = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
assert report.valid and report.format == "parquet" and report.sha256, report.errors
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(elapsed, report.rows, peak_rss(), cpu)
"""
)


def generate(path: Path, rows: int) -> None:
    rng = random.Random(42)
    chunk = 250_000
    schema = None
    writer = None
    start = dt.datetime(2024, 1, 1)
    try:
        for first in range(0, rows, chunk):
            n = min(chunk, rows - first)
            ids = list(range(first, first + n))
            table = pa.table(
                {
                    "id": pa.array(ids, pa.int64()),
                    "qty": pa.array([rng.randrange(-1000, 1000) for _ in ids], pa.int32()),
                    "price": pa.array([rng.random() * 1000 for _ in ids], pa.float64()),
                    "name": pa.array([f"{rng.choice(WORDS)}-{i}" for i in ids], pa.string()),
                    "flag": pa.array([i % 3 == 0 for i in ids], pa.bool_()),
                    "day": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i % 2000) for i in ids], pa.date32()),
                    "at": pa.array([start + dt.timedelta(seconds=i * 7) for i in ids], pa.timestamp("us")),
                    "category": pa.array([rng.choice(WORDS) for _ in ids], pa.string()),
                }
            )
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema, compression="snappy", write_page_checksum=True)
            writer.write_table(table, row_group_size=128 * 1024)
    finally:
        if writer is not None:
            writer.close()


def available_cores() -> float:
    """How many cores this run really gets: two sha256 threads (GIL released) vs one after the other.
    2.0 on an idle 2-core machine; about 1.0 when another process keeps a core busy."""
    data = bytes(64 << 20)

    def work() -> None:
        hashlib.sha256(data).digest()

    t0 = time.perf_counter()
    work()
    work()
    sequential = time.perf_counter() - t0
    threads = [threading.Thread(target=work) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(sequential / (time.perf_counter() - t0), 2)


def run(code: str, path: Path) -> tuple[float, int, int, float]:
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True)
    wall, rows, rss, cpu = out.stdout.split()
    return float(wall), int(rows), int(rss), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--path", type=Path, default=Path("/tmp/dpmcp-bench.parquet"))
    args = parser.parse_args()
    if not args.path.exists() or pq.ParquetFile(args.path).metadata.num_rows != args.rows:
        generate(args.path, args.rows)
    size = args.path.stat().st_size
    load = os.getloadavg()[0]
    cores = available_cores()
    ref: list[tuple[float, int, int, float]] = []
    ours: list[tuple[float, int, int, float]] = []
    for _ in range(args.runs):
        ref.append(run(REFERENCE, args.path))
        ours.append(run(OURS, args.path))
    ref_t, ref_rows, _, ref_cpu = min(ref)
    our_t, our_rows, _, our_cpu = min(ours)
    assert ref_rows == our_rows == args.rows, (ref_rows, our_rows)
    # the same rows as an Arrow IPC file, validated the same way (full validation of every batch, sha256)
    ipc_path = args.path.with_suffix(".arrow")
    table = pq.read_table(args.path)
    with pa.ipc.new_file(ipc_path, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=64 * 1024):
            writer.write_batch(batch)
    del table
    ours_ipc = OURS.replace('report.format == "parquet"', 'report.format == "arrow"')
    ipc_t, ipc_rows, ipc_rss, _ = min(run(ours_ipc, ipc_path) for _ in range(args.runs))
    assert ipc_rows == args.rows
    figures = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"pyarrow {pa.__version__}",
        "file_mb": round(size / 1e6, 1),
        "rows": args.rows,
        "reference_s": round(ref_t, 3),
        "ours_s": round(our_t, 3),
        "reference_mb_s": round(size / 1e6 / ref_t, 1),
        "ours_mb_s": round(size / 1e6 / our_t, 1),
        "ratio": round(ref_t / our_t, 3),
        # each reference run and the run of ours right after it: robust to a machine whose speed drifts
        "paired_ratio_median": round(statistics.median(r[0] / o[0] for r, o in zip(ref, ours, strict=True)), 3),
        "paired_ratios": sorted(round(r[0] / o[0], 3) for r, o in zip(ref, ours, strict=True)),
        "reference_cpu_s": round(ref_cpu, 3),
        "ours_cpu_s": round(our_cpu, 3),
        "load_average_before": round(load, 2),
        "available_cores": cores,
        "reference_peak_rss_mb": round(max(r[2] for r in ref) / 1e6, 1),
        "ours_peak_rss_mb": round(max(o[2] for o in ours) / 1e6, 1),
        "arrow_ipc_file_mb": round(ipc_path.stat().st_size / 1e6, 1),
        "arrow_ipc_ours_s": round(ipc_t, 3),
        "arrow_ipc_rows_ratio": round(ref_t / ipc_t, 3),  # rows/s of ours on IPC over iter_batches' on Parquet
        "arrow_ipc_peak_rss_mb": round(ipc_rss / 1e6, 1),
    }
    print(json.dumps(figures, indent=2))
    print(
        f"Arrow IPC, same rows: ours {figures['arrow_ipc_ours_s']} s, rows/s ratio to iter_batches on the Parquet "
        f"file {figures['arrow_ipc_rows_ratio']}"
    )
    print(
        f"throughput ratio ours / iter_batches = {figures['ratio']} best of {args.runs}, "
        f"{figures['paired_ratio_median']} median of paired runs (must be >= 0.8)"
    )


if __name__ == "__main__":
    main()
