"""Parquet full validation vs ``ParquetFile.iter_batches`` (issue 3: ratio must be >= 0.8).

Generates a Parquet file (default 1.5 M rows; ints, floats, non-ASCII strings, booleans, dates,
timestamps, a dictionary-encoded category) under /tmp, then times, each in a fresh subprocess
and alternating, (a) the reference: iterating every batch with ``ParquetFile.iter_batches`` and
(b) our full validation (``validate_path`` when the registry is present, else the Parquet
validator plus the sha256 pass the registry adds). Best of N runs; peak RSS from ru_maxrss.

    .venv/bin/python bench/bench_parquet.py [--rows 1500000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

WORDS = ["alpha", "Straße", "naïve", "東京", "Zürich", "crème brûlée", "data", "Ελλάδα", "mcp", "øre"]

REFERENCE = """
import sys, time, resource
import pyarrow.parquet as pq
t0 = time.perf_counter()
rows = 0
for batch in pq.ParquetFile(sys.argv[1]).iter_batches():
    rows += batch.num_rows
elapsed = time.perf_counter() - t0
print(elapsed, rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""

OURS = """
import sys, time, resource, hashlib
from pathlib import Path
path = Path(sys.argv[1])
try:
    from dataproduct_mcp.validators.registry import validate_path
    from dataproduct_mcp.validators.base import ValidationOptions
except ImportError:
    validate_path = None
import dataproduct_mcp.validators.parquet  # imports are not timed, as for the reference
t0 = time.perf_counter()
if validate_path is not None:
    report = validate_path(path, ValidationOptions())
    rows, valid, errors = report.rows, report.valid, report.error_count
else:
    from dataproduct_mcp.validators.base import FindingCollector, Source, ValidationContext, ValidationOptions
    from dataproduct_mcp.validators.parquet import VALIDATOR
    size = path.stat().st_size
    ctx = ValidationContext(options=ValidationOptions(), findings=FindingCollector(), total_bytes=size)
    source = Source(path, size)
    result = VALIDATOR.validate(source, ctx)
    if not source.hashed:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    rows, valid, errors = result.rows, ctx.findings.error_count == 0, ctx.findings.error_count
elapsed = time.perf_counter() - t0
assert valid and errors == 0, errors
print(elapsed, rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


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


def run(code: str, path: Path) -> tuple[float, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--path", type=Path, default=Path("/tmp/dpmcp-bench.parquet"))
    args = parser.parse_args()
    if not args.path.exists() or pq.ParquetFile(args.path).metadata.num_rows != args.rows:
        generate(args.path, args.rows)
    size = args.path.stat().st_size
    ref: list[tuple[float, int, int]] = []
    ours: list[tuple[float, int, int]] = []
    for _ in range(args.runs):
        ref.append(run(REFERENCE, args.path))
        ours.append(run(OURS, args.path))
    ref_t, ref_rows, _ = min(ref)
    our_t, our_rows, _ = min(ours)
    assert ref_rows == our_rows == args.rows, (ref_rows, our_rows)
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
        "reference_peak_rss_mb": round(max(r[2] for r in ref) / 1e6, 1),
        "ours_peak_rss_mb": round(max(o[2] for o in ours) / 1e6, 1),
    }
    print(json.dumps(figures, indent=2))
    print(f"throughput ratio ours / iter_batches = {figures['ratio']} (must be >= 0.8)")


if __name__ == "__main__":
    main()
