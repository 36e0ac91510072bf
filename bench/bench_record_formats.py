"""The record-format readers (JSON array, Avro, xlsx) against JSON Lines and Parquet of the same rows.

Generates, under /tmp, one table (default 200 k rows: an int64 id, a float, a short string, a
date-like string) as Parquet, JSON Lines, a JSON array, Avro (deflate) and xlsx (a quarter of the
rows: writing xlsx is slow), then reads each whole through the one batch reader
(``inspect_source`` + ``iter_rows``, 64 k-row batches, as ``profile`` reads) and times the first
batch of 21 rows (as ``preview_data`` reads). Best of N runs, rows per second and the first-batch
time of each. The machine is shared: the load average before the runs is printed.

    .venv/bin/python bench/bench_record_formats.py [--rows 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import fastavro
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

from dataproduct_mcp.readers.source import inspect_source, iter_rows

ROOT = Path("/tmp/dpmcp-bench-records")
MAX_SECONDS = 120.0  # per format and measure: stop repeating past this


def make_files(rows: int) -> dict[str, tuple[Path, int]]:
    ROOT.mkdir(parents=True, exist_ok=True)
    records = [
        {"id": i, "amount": i * 0.25, "name": f"name-{i % 5000}", "day": f"2024-01-{1 + i % 28:02d}"}
        for i in range(rows)
    ]
    out: dict[str, tuple[Path, int]] = {}
    table = pa.Table.from_pylist(records)
    path = ROOT / f"r{rows}.parquet"
    if not path.exists():
        pq.write_table(table, path)
    out["parquet"] = (path, rows)
    path = ROOT / f"r{rows}.jsonl"
    if not path.exists():
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    out["jsonl"] = (path, rows)
    path = ROOT / f"r{rows}.json"
    if not path.exists():
        path.write_text(json.dumps(records))
    out["json"] = (path, rows)
    path = ROOT / f"r{rows}.avro"
    if not path.exists():
        schema = {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "id", "type": "long"},
                {"name": "amount", "type": "double"},
                {"name": "name", "type": "string"},
                {"name": "day", "type": "string"},
            ],
        }
        with open(path, "wb") as f:
            fastavro.writer(f, fastavro.parse_schema(schema), records, codec="deflate")
    out["avro"] = (path, rows)
    sheet_rows = rows // 4
    path = ROOT / f"r{rows}.xlsx"
    if not path.exists():
        wb = openpyxl.Workbook()  # not write-only: Excel-like, with the sheet's dimension first
        ws = wb.active
        ws.append(list(records[0]))
        for r in records[:sheet_rows]:
            ws.append(list(r.values()))
        wb.save(path)
    out["xlsx"] = (path, sheet_rows)
    return out


def best(runs: int, work: Callable[[], object]) -> float:
    times: list[float] = []
    started = time.monotonic()
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
        if time.monotonic() - started > MAX_SECONDS:
            break
    return min(times)


def read_all(path: Path) -> int:
    info = inspect_source(path, None, None)
    return sum(batch.num_rows for _, batch in iter_rows(info, 64 * 1024, 0))


def first_batch(path: Path) -> int:
    info = inspect_source(path, None, None)
    rows = iter_rows(info, 21, 0)
    try:
        return next(rows)[1].num_rows
    finally:
        rows.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    files = make_files(args.rows)
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(f"{'format':8} {'rows':>8} {'MB':>7} {'full read s':>12} {'rows/s':>11} {'first 21 rows ms':>17}")
    for fmt, (path, rows) in files.items():
        assert read_all(path) == rows
        full = best(args.runs, lambda p=path: read_all(p))  # type: ignore[misc]
        first = best(args.runs, lambda p=path: first_batch(p))  # type: ignore[misc]
        size = path.stat().st_size / 1e6
        print(f"{fmt:8} {rows:>8} {size:>7.1f} {full:>12.3f} {rows / full:>11,.0f} {first * 1000:>17.1f}")


if __name__ == "__main__":
    main()
