"""The plain pyarrow reference for bench_startup: stream a CSV with ``pyarrow.csv.open_csv``.

The same reader bench_csv.py times in-process (declared column types of gen_csv.py's columns,
``use_threads=False``, every batch consumed), as a command: its wall time includes the
interpreter and ``import pyarrow``, as ours includes the CLI's start-up.

    python bench/arrow_csv.py FILE    # prints the row count
"""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.csv as pacsv

TYPES = {
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

if __name__ == "__main__":
    reader = pacsv.open_csv(
        sys.argv[1],
        read_options=pacsv.ReadOptions(use_threads=False),
        convert_options=pacsv.ConvertOptions(column_types=TYPES),
    )
    print(sum(batch.num_rows for batch in reader))
