"""Generate a deterministic CSV for the validation benchmark.

Ten columns: integers, floats, strings with non-ASCII text (some quoted, holding commas),
dates and timestamps; about 121 bytes per row, so 200 MB is about 1.65 M rows.

    python bench/gen_csv.py /tmp/bench_200mb.csv --mb 200 [--seed 42]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

HEADER = "id,customer_id,amount,quantity,name,city,order_date,created_at,discount,note\n"
NAMES = ["Müller", "Łukasz", "Zoë", "José", "Søren", "Ærø", "Renée", "Dvořák", "Smith", "Nguyễn", "Ölçer", "Jäger"]
CITIES = ["Berlin", "Kraków", "Zürich", "São Paulo", "Malmö", "Île-de-France", "Paris", "Tōkyō", "Oslo", "Köln"]
NOTES = [
    "",
    "express delivery",
    "gift, wrapped in paper",
    "fragile – handle with care",
    "n/a",
    "Rückgabe möglich bis Ende März",
    "ok, customer called twice",
    "livraison à domicile",
]


def generate(path: Path, megabytes: float, seed: int = 42) -> int:
    """Write about ``megabytes`` MB of CSV to ``path``; returns the number of data rows."""
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    written = 0
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        written += len(HEADER.encode())
        while written < target:
            lines = []
            for _ in range(10_000):
                rows += 1
                note = rng.choice(NOTES)
                if "," in note:
                    note = f'"{note}"'
                lines.append(
                    f"{rows},{rng.randrange(10**9, 10**10)},{rng.uniform(0, 1_000_000):.2f},"
                    f"{rng.randrange(1, 1000)},{rng.choice(NAMES)} {rng.choice(NAMES)},{rng.choice(CITIES)},"
                    f"20{rng.randrange(10, 26):02d}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d},"
                    f"20{rng.randrange(10, 26):02d}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} "
                    f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d},"
                    f"{rng.random():.6f},{note}\n"
                )
            chunk = "".join(lines)
            out.write(chunk)
            written += len(chunk.encode())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--mb", type=float, default=200.0, help="approximate size in MB (10^6 bytes)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rows = generate(args.path, args.mb, args.seed)
    print(f"{args.path}: {args.path.stat().st_size} bytes, {rows} rows")


if __name__ == "__main__":
    main()
