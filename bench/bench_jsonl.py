"""JSON Lines validation against Arrow's own JSON reader (and our line-by-line path).

Generates a JSON Lines file (six keys per record: two integers, a number, a non-ASCII string, an
ISO date, a boolean) under /tmp, then times, each in a fresh subprocess, best of N:

* reference: ``pyarrow.json.read_json`` of the whole file (Arrow infers the types, all cores);
* ours: ``validate_path`` (detection, sha256, sample inference, every record checked, the report);
* ours, line by line: the same with the Arrow fast path switched off (what every chunk with a
  defect or a null costs).

    .venv/bin/python bench/bench_jsonl.py [--mb 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import sys, time
from pathlib import Path
mode, path = sys.argv[1], sys.argv[2]
import pyarrow as pa, pyarrow.json as pj
from dataproduct_mcp.validators.formats import jsonl
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.registry import validate_path, validators
validators()
jsonl.FAST_PATH = mode != "ours-line-by-line"
t0 = time.perf_counter()
if mode == "arrow":
    rows = pj.read_json(path).num_rows
else:
    report = validate_path(Path(path), ValidationOptions())
    assert report.valid, report.errors
    rows = report.rows
print(time.perf_counter() - t0, rows)
"""


def generate(path: Path, mb: float) -> None:
    rng = random.Random(7)
    names = ["Müller", "Zoë", "José", "Søren", "Nguyễn", "Smith", "東京", "Ελλάδα"]
    target = int(mb * 1e6)
    with path.open("w", encoding="utf-8") as fh:
        i = 0
        while fh.tell() < target:
            i += 1
            record = {
                "id": i,
                "customer": rng.randint(1, 10**6),
                "amount": round(rng.random() * 1000, 2),
                "name": f"{rng.choice(names)} {i}",
                "day": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                "ok": i % 3 == 0,
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def run(mode: str, path: Path) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], check=True, capture_output=True, text=True)
    seconds, rows = out.stdout.split()
    return float(seconds), int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    path = Path(f"/tmp/bench_{args.mb:g}mb.jsonl")
    if not path.exists():
        generate(path, args.mb)
    size = path.stat().st_size
    results: dict[str, tuple[float, int]] = {}
    for mode in ("arrow", "ours", "ours-line-by-line"):
        runs = args.runs if mode != "ours-line-by-line" else max(1, args.runs // 2)
        results[mode] = min(run(mode, path) for _ in range(runs))
    rows = {r for _, r in results.values()}
    assert len(rows) == 1, results
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"{machine}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"file {path} ({size / 1e6:.1f} MB, {rows.pop()} records), best of {args.runs}:")
    ref = results["arrow"][0]
    for mode, (seconds, _) in results.items():
        print(f"  {mode:18s} {seconds:.3f} s  {size / 1e6 / seconds:6.1f} MB/s  {seconds / ref:5.2f}x the Arrow reader")


if __name__ == "__main__":
    main()
