"""CSV validation benchmark (issue 3): our validator against Arrow's streaming CSV reader.

Every measurement runs in a fresh subprocess, which reports its own wall time and peak RSS
(``VmHWM``). Runs are interleaved (reference, ours, reference, ours...) and the median
is compared, so a noisy neighbour hurts both sides alike.

* reference: ``pyarrow.csv.open_csv`` streaming with the declared column types and
  ``use_threads=False``, every batch consumed;
* ours: ``validate_path`` (the registry entry point: detection, sha256 of the raw bytes,
  every check, the report) with the same declared schema, and once more with inference;
* frictionless (``pip install -e '.[bench]'``): ``frictionless.validate`` on a 20 MB sample
  (best of 3), against ours (best of 5) and against the Arrow reference itself (best of 5),
  plus the wall time of the ``frictionless validate`` command for information.

    python bench/bench_csv.py [--mb 200] [--repeat 3] [--big] [--frictionless-mb 20]

Files are generated under /tmp (``bench/gen_csv.py``); results go to
/tmp/bench_csv_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_csv import generate  # noqa: E402

OUT = Path("/tmp/bench_csv_results.json")
SCHEMA = {
    "columns": [
        {"name": "id", "type": "integer"},
        {"name": "customer_id", "type": "integer"},
        {"name": "amount", "type": "number"},
        {"name": "quantity", "type": "integer"},
        {"name": "name", "type": "string"},
        {"name": "city", "type": "string"},
        {"name": "order_date", "type": "date"},
        {"name": "created_at", "type": "datetime"},
        {"name": "discount", "type": "number"},
        {"name": "note", "type": "string"},
    ]
}


# -- children ---------------------------------------------------------------------------
def _child(mode: str, path: str) -> dict[str, object]:

    # imports (and the registry's module loading) are not part of the timed validation
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if mode != "arrow":
        from dataproduct_mcp.domain.schema import TableSchema
        from dataproduct_mcp.validators.base import ValidationOptions
        from dataproduct_mcp.validators.registry import list_formats, validate_path

        list_formats()
    if mode == "frictionless":
        import frictionless

    started = time.perf_counter()
    if mode == "arrow":
        types = {
            "id": pa.int64(),
            "customer_id": pa.int64(),
            "amount": pa.float64(),
            "quantity": pa.int64(),
            "name": pa.string(),
            "city": pa.string(),
            "order_date": pa.date32(),
            "created_at": pa.timestamp("s"),
            "discount": pa.float64(),
            "note": pa.string(),
        }
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(column_types=types),
        )
        rows = sum(batch.num_rows for batch in reader)
        valid, errors = True, 0
    elif mode in ("ours", "ours-inferred"):
        schema = TableSchema.model_validate(SCHEMA) if mode == "ours" else None
        report = validate_path(Path(path), ValidationOptions(schema=schema))
        rows, valid, errors = report.rows, report.valid, report.error_count
    elif mode == "frictionless":
        os.chdir(os.path.dirname(path))  # frictionless refuses absolute paths as unsafe
        result = frictionless.validate(os.path.basename(path))
        task = result.tasks[0] if result.tasks else None
        rows = task.stats.get("rows", 0) if task is not None else 0
        valid, errors = result.valid, result.stats.get("errors", 0)
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_kb() / 1024
    return {"mode": mode, "seconds": seconds, "rows": rows, "valid": valid, "errors": errors, "peak_rss_mb": peak_mb}


def peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). ``ru_maxrss`` would also count the parent's RSS at
    fork time: Linux keeps it across exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(mode: str, path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- parent -----------------------------------------------------------------------------
def ensure(path: Path, mb: float) -> Path:
    if not path.exists():
        print(f"generating {path} ({mb:g} MB)...", flush=True)
        generate(path, mb)
    return path


def compare(path: Path, repeat: int) -> dict[str, object]:
    size = path.stat().st_size
    runs: dict[str, list[dict[str, object]]] = {"arrow": [], "ours": [], "ours-inferred": []}
    measure("arrow", path)  # warm the page cache
    for _ in range(repeat):
        for mode in runs:
            runs[mode].append(measure(mode, path))
    summary: dict[str, object] = {"file": str(path), "bytes": size, "repeat": repeat}
    for mode, results in runs.items():
        secs = [float(r["seconds"]) for r in results]  # type: ignore[arg-type]
        summary[mode] = {
            "median_s": round(statistics.median(secs), 3),
            "min_s": round(min(secs), 3),
            "mb_per_s": round(size / 1e6 / statistics.median(secs), 1),
            "peak_rss_mb": round(max(float(r["peak_rss_mb"]) for r in results), 1),  # type: ignore[arg-type]
            "rows": results[0]["rows"],
            "valid": results[0]["valid"],
        }
    ref = summary["arrow"]["median_s"]  # type: ignore[index]
    summary["ratio_declared"] = round(summary["ours"]["median_s"] / ref, 3)  # type: ignore[index]
    summary["ratio_inferred"] = round(summary["ours-inferred"]["median_s"] / ref, 3)  # type: ignore[index]
    return summary


def frictionless_compare(path: Path) -> dict[str, object] | None:
    try:
        import frictionless  # noqa: F401
    except ImportError:
        return None
    theirs = min((measure("frictionless", path) for _ in range(3)), key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    if not theirs["valid"] or not theirs["rows"]:
        raise SystemExit(f"frictionless did not validate the sample: {theirs}")
    ours = min((measure("ours-inferred", path) for _ in range(5)), key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    arrow = min((measure("arrow", path) for _ in range(5)), key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    cli = Path(sys.executable).with_name("frictionless")
    started = time.perf_counter()
    subprocess.run([str(cli), "validate", path.name], cwd=path.parent, check=True, capture_output=True)
    cli_s = time.perf_counter() - started
    return {
        "frictionless_cli_wall_s": round(cli_s, 3),
        "arrow_reference_s": round(float(arrow["seconds"]), 3),  # type: ignore[arg-type]
        "arrow_reference_speedup": round(float(theirs["seconds"]) / float(arrow["seconds"]), 1),  # type: ignore[arg-type]
        "file": str(path),
        "bytes": path.stat().st_size,
        "frictionless_s": round(float(theirs["seconds"]), 3),  # type: ignore[arg-type]
        "frictionless_valid": theirs["valid"],
        "ours_s": round(float(ours["seconds"]), 3),  # type: ignore[arg-type]
        "speedup": round(float(theirs["seconds"]) / float(ours["seconds"]), 1),  # type: ignore[arg-type]
    }


def show(title: str, s: dict[str, object]) -> None:
    print(f"\n== {title}: {s['file']} ({int(s['bytes']) / 1e6:.0f} MB)")  # type: ignore[call-overload]
    for mode in ("arrow", "ours", "ours-inferred"):
        m = s[mode]
        print(
            f"  {mode:14s} median {m['median_s']:.3f} s  min {m['min_s']:.3f} s  "  # type: ignore[index]
            f"{m['mb_per_s']:.0f} MB/s  peak RSS {m['peak_rss_mb']:.0f} MB  rows {m['rows']}"  # type: ignore[index]
        )
    print(f"  ratio ours/arrow: declared schema {s['ratio_declared']}, inferred types {s['ratio_inferred']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--mb", type=float, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="also measure a 2 GB file")
    parser.add_argument("--frictionless-mb", type=float, default=20)
    parser.add_argument("--no-frictionless", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }
    main_file = ensure(Path(f"/tmp/bench_{args.mb:g}mb.csv"), args.mb)
    results["main"] = compare(main_file, args.repeat)
    show("main", results["main"])  # type: ignore[arg-type]
    if args.big:
        big = ensure(Path("/tmp/bench_2000mb.csv"), 2000)
        results["big"] = compare(big, 1)
        show("big", results["big"])  # type: ignore[arg-type]
    if not args.no_frictionless:
        sample = ensure(Path(f"/tmp/bench_{args.frictionless_mb:g}mb.csv"), args.frictionless_mb)
        fr = frictionless_compare(sample)
        if fr is None:
            print("\nfrictionless is not installed; skipped that comparison")
        else:
            results["frictionless"] = fr
            print(
                f"\n== frictionless on {fr['bytes'] / 1e6:.0f} MB: {fr['frictionless_s']} s, "  # type: ignore[operator]
                f"ours {fr['ours_s']} s: {fr['speedup']}x faster (the Arrow reference alone: "
                f"{fr['arrow_reference_speedup']}x; frictionless CLI wall time {fr['frictionless_cli_wall_s']} s)"
            )
    OUT.write_text(json.dumps(results, indent=2))
    print(f"\nresults in {OUT}")


if __name__ == "__main__":
    main()
