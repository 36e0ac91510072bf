"""A Hive-partitioned Parquet dataset on a local S3-compatible server: our full validation of the
``s3://`` prefix vs ``pyarrow.dataset`` reading it (issue 13: reference_time / our_time >= 0.8).

Starts moto's server in a child process on 127.0.0.1 (a free port; nothing else is contacted),
uploads ``--files`` Parquet files (default 12, ~13 MB each: ints, floats, non-ASCII strings,
booleans, dates, timestamps, a low-cardinality string; snappy, page CRCs, 128 Ki-row row groups)
under ``region=.../month=...`` partitions, then times, each in a fresh subprocess and alternating:

- **reference**: ``pyarrow.dataset.dataset(prefix, filesystem=S3FileSystem, format="parquet",
  partitioning="hive").to_table()`` — discovery, every file read and decoded (all cores);
- **scanner**: the same dataset's ``to_batches()`` consumed batch by batch (nothing materialised);
- **ours**: ``PathPolicy.listing`` + ``validate_listing`` — the listing, every file validated as
  ``validate_file`` does it (page CRCs, UTF-8 of every string, row counts, the sha256 of every
  object's bytes), the one report, ``DPMCP_SOURCE_PARALLEL_FILES`` files at a time.

Prints both times (best of N and the median of paired runs), the ratio reference/ours, CPU
seconds and peak RSS (VmHWM) of each side, and the load average. Bounded: ``--runs`` runs each.

    .venv/bin/python bench/bench_s3.py [--files 12] [--rows-per-file 375000] [--runs 5] [--parallel 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

WORDS = ["alpha", "Straße", "naïve", "東京", "Zürich", "crème brûlée", "data", "Ελλάδα", "mcp", "øre"]
KEYS = {"access_key": "bench", "secret_key": "bench-secret"}

MOTO = """
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the parent closes it
server.stop()
"""

PEAK = """
def peak_rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
import resource
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
"""

REFERENCE = (
    PEAK
    + """
import sys, time
import pyarrow.dataset as ds, pyarrow.fs as pafs
s3 = pafs.S3FileSystem(access_key="bench", secret_key="bench-secret", endpoint_override=sys.argv[1],
                       scheme="http", region="us-east-1")
c0, t0 = cpu(), time.perf_counter()
table = ds.dataset(sys.argv[2], filesystem=s3, format="parquet", partitioning="hive").to_table()
elapsed = time.perf_counter() - t0
print(elapsed, table.num_rows, peak_rss(), cpu() - c0)
"""
)

SCAN = REFERENCE.replace(
    'table = ds.dataset(sys.argv[2], filesystem=s3, format="parquet", partitioning="hive").to_table()',
    'dataset = ds.dataset(sys.argv[2], filesystem=s3, format="parquet", partitioning="hive")\n'
    "rows = sum(b.num_rows for b in dataset.to_batches())",
).replace("table.num_rows", "rows")

OURS = (
    PEAK
    + """
import sys, time, tempfile
from pathlib import Path
from dataproduct_mcp.services.files import PathPolicy
from dataproduct_mcp.sources.storage import S3Config, Storage
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.dataset import validate_listing
from dataproduct_mcp.validators.registry import validators
import pyarrow.fs, pyarrow.parquet  # imports are not timed, as for the reference
validators()
config = S3Config(endpoint_url="http://" + sys.argv[1], access_key_id="bench", secret_access_key="bench-secret")
storage = Storage(config, block_bytes=int(sys.argv[4]))
storage.filesystem("s3")
policy = PathPolicy([Path(tempfile.gettempdir())], prefixes=["s3://" + sys.argv[2].split("/")[0]], storage=storage)
c0, t0 = cpu(), time.perf_counter()
listing = policy.listing("s3://" + sys.argv[2])
report = validate_listing(listing, storage, ValidationOptions(), parallel=int(sys.argv[3]))
elapsed = time.perf_counter() - t0
assert report.valid and report.format == "parquet" and len(report.extra["files"]) == len(listing.files), report.errors
print(elapsed, report.rows, peak_rss(), cpu() - c0)
"""
)


def generate(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1)
    ids = list(range(seed * rows, seed * rows + rows))
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
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy", write_page_checksum=True, row_group_size=128 * 1024)
    return buf.getvalue()


def run(code: str, *argv: str) -> tuple[float, int, int, float]:
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, text=True)
    wall, rows, rss, cpu = out.stdout.split()
    return float(wall), int(rows), int(rss), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--rows-per-file", type=int, default=375_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--block-bytes", type=int, default=8 << 20)
    args = parser.parse_args()
    moto = subprocess.Popen([sys.executable, "-c", MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert moto.stdout is not None
        endpoint = f"127.0.0.1:{int(moto.stdout.readline())}"
        s3 = pafs.S3FileSystem(**KEYS, endpoint_override=endpoint, scheme="http", allow_bucket_creation=True)
        s3.create_dir("bench")
        total = 0
        for i in range(args.files):
            data = generate(args.rows_per_file, i)
            key = f"bench/sales/region={'abc'[i % 3]}/month={i // 3 + 1}/part-{i:03d}.parquet"
            with s3.open_output_stream(key, compression=None) as out:
                out.write(data)
            total += len(data)
        load = os.getloadavg()[0]
        ref: list[tuple[float, int, int, float]] = []
        scan: list[tuple[float, int, int, float]] = []
        ours: list[tuple[float, int, int, float]] = []
        for _ in range(args.runs):
            ref.append(run(REFERENCE, endpoint, "bench/sales"))
            ours.append(run(OURS, endpoint, "bench/sales", str(args.parallel), str(args.block_bytes)))
            scan.append(run(SCAN, endpoint, "bench/sales"))
    finally:
        assert moto.stdin is not None
        moto.stdin.close()
        moto.wait(timeout=30)
    rows = args.files * args.rows_per_file
    assert all(r[1] == rows for r in ref + scan) and all(o[1] == rows for o in ours), (ref, scan, ours)
    best_ref, best_ours = min(r[0] for r in ref), min(o[0] for o in ours)
    figures = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"pyarrow {pa.__version__}",
        "files": args.files,
        "dataset_mb": round(total / 1e6, 1),
        "rows": rows,
        "parallel_files": args.parallel,
        "block_bytes": args.block_bytes,
        "reference_best_s": round(best_ref, 3),
        "ours_best_s": round(best_ours, 3),
        "ratio_best": round(best_ref / best_ours, 3),
        "ratio_paired_median": round(statistics.median(r[0] / o[0] for r, o in zip(ref, ours, strict=True)), 3),
        "paired_ratios": sorted(round(r[0] / o[0], 3) for r, o in zip(ref, ours, strict=True)),
        "scanner_best_s": round(min(r[0] for r in scan), 3),
        "ratio_scanner_best": round(min(r[0] for r in scan) / best_ours, 3),
        "ratio_scanner_paired_median": round(
            statistics.median(r[0] / o[0] for r, o in zip(scan, ours, strict=True)), 3
        ),
        "scanner_peak_rss_mb": round(max(r[2] for r in scan) / 1e6, 1),
        "reference_median_s": round(statistics.median(r[0] for r in ref), 3),
        "ours_median_s": round(statistics.median(o[0] for o in ours), 3),
        "reference_cpu_s": round(statistics.median(r[3] for r in ref), 3),
        "ours_cpu_s": round(statistics.median(o[3] for o in ours), 3),
        "reference_peak_rss_mb": round(max(r[2] for r in ref) / 1e6, 1),
        "ours_peak_rss_mb": round(max(o[2] for o in ours) / 1e6, 1),
        "load_average_before": round(load, 2),
    }
    print(json.dumps(figures, indent=2))
    print(
        f"reference {figures['reference_best_s']} s, ours {figures['ours_best_s']} s (best of {args.runs}): "
        f"ratio reference/ours = {figures['ratio_best']} (target >= 0.8), paired median "
        f"{figures['ratio_paired_median']}; against the batch scanner ({figures['scanner_best_s']} s): "
        f"{figures['ratio_scanner_best']}, paired median {figures['ratio_scanner_paired_median']}"
    )


if __name__ == "__main__":
    main()
