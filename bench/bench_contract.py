"""Data-contract checks inside file validation (issue 13: must add <= 20 % over plain validation).

Generates the benchmark CSV (bench/gen_csv.py, default 150 MB) and a Parquet file of the same
data under /tmp, then times, alternating in one process, (a) validation with the contract's
schema given as a plain ``schema`` and (b) validation with the contract itself: the same schema
plus quality rules counted in the same pass (nullValues in percent, invalidValues with
validValues, a duplicateValues over two columns, rowCount between) and evaluated afterwards.
Parsing the contract happens once, before the runs (it is timed and printed on its own). Best
and median wall time of each, the ratio of the bests and the median of the pairwise ratios, and
the best CPU time of each (all threads; less sensitive to other load than wall time). The
machine is shared: the load average before and after the runs is printed.

    .venv/bin/python bench/bench_contract.py [--mb 150] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: bench/ is importable

from bench.gen_csv import CITIES, generate  # noqa: E402
from dataproduct_mcp.services.validation_contract import apply_contract, prepare_contract
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.registry import validate_path, validators
from dataproduct_mcp.validators.values import arrow_type_for

CONTRACT = f"""
apiVersion: v3.1.0
kind: DataContract
id: bench-orders
version: 1.0.0
status: active
schema:
  - name: orders
    properties:
      - {{name: id, logicalType: integer, required: true}}
      - {{name: customer_id, logicalType: integer}}
      - {{name: amount, logicalType: number, logicalTypeOptions: {{minimum: 0}}}}
      - {{name: quantity, logicalType: integer}}
      - {{name: name, logicalType: string}}
      - name: city
        logicalType: string
        quality:
          - {{metric: invalidValues, arguments: {{validValues: {list(CITIES)}}}, mustBeLessThan: 10}}
      - {{name: order_date, logicalType: date}}
      - {{name: created_at, logicalType: timestamp}}
      - {{name: discount, logicalType: number}}
      - name: note
        logicalType: string
        quality:
          - {{metric: nullValues, unit: percent, mustBeLessThan: 20}}
    quality:
      - {{metric: duplicateValues, arguments: {{properties: [customer_id, order_date]}}, mustBeLessThan: 100}}
      - {{metric: rowCount, mustBeBetween: [1, 100000000]}}
"""


def ensure_files(mb: float) -> tuple[Path, Path]:
    csv_path = Path(f"/tmp/bench_contract_{int(mb)}mb.csv")
    if not csv_path.exists():
        generate(csv_path, mb)
    parquet_path = csv_path.with_suffix(".parquet")
    if not parquet_path.exists():
        request = prepare_contract(CONTRACT, None)
        types = {c.name: arrow_type_for(c.type) for c in request.checks.schema_.columns}
        table = pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(column_types=types))
        pq.write_table(table, parquet_path)
    return csv_path, parquet_path


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every thread of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - t0, time.process_time() - c0


def bench(path: Path, runs: int) -> dict[str, float]:
    t0 = time.perf_counter()
    request = prepare_contract(CONTRACT, None)
    parse_s = time.perf_counter() - t0
    plain = ValidationOptions(schema=request.checks.schema_)
    with_contract = ValidationOptions(schema=request.checks.schema_, measurements=request.measurements)

    def run_plain() -> None:
        report = validate_path(path, plain)
        assert report.valid, report.errors[:3]

    def run_contract() -> None:
        report = apply_contract(validate_path(path, with_contract), request, with_contract)
        assert report.valid and report.contract is not None, (report.errors[:3], report.warnings[:3])
        assert report.contract.checked == 4, report.contract

    run_plain()  # warm the page cache and the kernels
    run_contract()
    plains, contracts, ratios, cpu_plain, cpu_contract = [], [], [], [], []
    for _ in range(runs):
        p, p_cpu = timed(run_plain)
        c, c_cpu = timed(run_contract)
        plains.append(p)
        contracts.append(c)
        ratios.append(c / p)
        cpu_plain.append(p_cpu)
        cpu_contract.append(c_cpu)
    return {
        "cpu_plain": min(cpu_plain),
        "cpu_contract": min(cpu_contract),
        "cpu_ratio": min(cpu_contract) / min(cpu_plain),
        "parse_s": parse_s,
        "plain_best": min(plains),
        "plain_median": statistics.median(plains),
        "contract_best": min(contracts),
        "contract_median": statistics.median(contracts),
        "ratio_best": min(contracts) / min(plains),
        "ratio_median": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=150.0)
    parser.add_argument("--runs", type=int, default=5, choices=range(1, 21), metavar="1-20")
    args = parser.parse_args()
    csv_path, parquet_path = ensure_files(args.mb)
    validators()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" pyarrow {pa.__version__}, numpy {np.__version__}"
    )
    print(f"date: {dt.date.today().isoformat()}, load average before: {os.getloadavg()[0]:.2f}")
    for path in (csv_path, parquet_path):
        r = bench(path, args.runs)
        print(
            f"{path.suffix[1:]:8} {path.stat().st_size / 1e6:7.1f} MB  plain best {r['plain_best']:.2f} s"
            f" median {r['plain_median']:.2f} s | contract best {r['contract_best']:.2f} s"
            f" median {r['contract_median']:.2f} s | ratio best {r['ratio_best']:.3f}x"
            f" median {r['ratio_median']:.3f}x (goal <= 1.20x) | CPU best {r['cpu_plain']:.2f} s vs"
            f" {r['cpu_contract']:.2f} s ({r['cpu_ratio']:.3f}x) | contract parsed in {r['parse_s'] * 1000:.0f} ms"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
