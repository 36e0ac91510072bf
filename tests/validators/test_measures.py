"""A data contract's counts, taken by the shared table checks: the same counts from every tabular
format and from both paths (whole Arrow batches and record by record), duplicates over one or
several columns in bounded memory, and no count at all rather than a wrong one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastavro
import openpyxl
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

from dataproduct_mcp.domain.contract import Measurement, Metric
from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.validators import measures, registry, textio
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.unique import DistinctHashes, hash_rows

SCHEMA = TableSchema.model_validate(
    {
        "columns": [
            {"name": "id", "type": "integer"},
            {"name": "status", "type": "string"},
            {"name": "region", "type": "string"},
            {"name": "amount", "type": "number"},
        ]
    }
)
NULLS = Measurement(metric=Metric.null_values, columns=("status",))
MISSING = Measurement(metric=Metric.missing_values, columns=("status",), values=("", "n/a"))
INVALID = Measurement(metric=Metric.invalid_values, columns=("status",), values=("open", "closed"))
PATTERN = Measurement(metric=Metric.invalid_values, columns=("region",), pattern="[a-z]{2}")
AMOUNTS = Measurement(metric=Metric.invalid_values, columns=("amount",), values=(1.5, 2.5))
DUP_ONE = Measurement(metric=Metric.duplicate_values, columns=("region",))
DUP_TWO = Measurement(metric=Metric.duplicate_values, columns=("status", "region"))
ALL = (NULLS, MISSING, INVALID, PATTERN, AMOUNTS, DUP_ONE, DUP_TWO)

ROWS: list[dict[str, Any]] = [
    {"id": 1, "status": "open", "region": "eu", "amount": 1.5},
    {"id": 2, "status": "bogus", "region": "eu", "amount": 2.5},
    {"id": 3, "status": None, "region": "us", "amount": 3.0},
    {"id": 4, "status": "open", "region": "eu", "amount": 1.5},
    {"id": 5, "status": "n/a", "region": "EU", "amount": 2.5},
    {"id": 6, "status": None, "region": "us", "amount": None},
    {"id": 7, "status": "closed", "region": None, "amount": 1.5},
]
EXPECTED = {
    NULLS: 2,
    MISSING: 3,  # two nulls and 'n/a'
    INVALID: 2,  # 'bogus' and 'n/a' (nulls are not invalid)
    PATTERN: 1,  # 'EU'
    AMOUNTS: 1,  # 3.0
    DUP_ONE: 3,  # 6 non-null regions, 3 distinct
    DUP_TWO: 2,  # (open, eu) twice, (None, us) twice
}


def counts(path: Path, measurements: tuple[Measurement, ...] = ALL, **options: Any) -> dict[Measurement, int | None]:
    report = registry.validate_path(path, ValidationOptions(schema=SCHEMA, measurements=measurements, **options))
    stats = report._measured.final()
    assert stats.rows == report.rows
    return {m: stats.count(m) for m in measurements}


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    def cell(v: Any) -> str:
        return "" if v is None else str(v)

    lines = ["id,status,region,amount"] + [
        ",".join(cell(r[k]) for k in ("id", "status", "region", "amount")) for r in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=3)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def write_tsv(path: Path, rows: list[dict[str, Any]]) -> Path:
    write_csv(path, rows)
    path.write_text(path.read_text().replace(",", "\t"))
    return path


def write_arrow(path: Path, rows: list[dict[str, Any]]) -> Path:
    table = pa.Table.from_pylist(rows)
    with pa.ipc.new_file(path, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=3):
            writer.write_batch(batch)
    return path


def write_avro(path: Path, rows: list[dict[str, Any]]) -> Path:
    fields = [("id", "long"), ("status", "string"), ("region", "string"), ("amount", "double")]
    schema = {"type": "record", "name": "o", "fields": [{"name": n, "type": ["null", t]} for n, t in fields]}
    with open(path, "wb") as out:
        fastavro.writer(out, fastavro.parse_schema(schema), rows)
    return path


def write_xlsx(path: Path, rows: list[dict[str, Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "status", "region", "amount"])
    for r in rows:
        sheet.append([r["id"], r["status"], r["region"], r["amount"]])
    book.save(path)
    return path


WRITERS = {
    "csv": write_csv,
    "tsv": write_tsv,
    "parquet": write_parquet,
    "arrow": write_arrow,
    "avro": write_avro,
    "jsonl": write_jsonl,
    "json": write_json,
    "xlsx": write_xlsx,
}


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_every_tabular_format_counts_the_same(tmp_path: Path, suffix: str) -> None:
    assert counts(WRITERS[suffix](tmp_path / f"orders.{suffix}", ROWS)) == EXPECTED


def test_clean_json_lines_are_counted_as_whole_batches_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [r for r in ROWS if None not in r.values()] * 2000  # chunks without nulls take the fast path
    batches: list[int] = []
    take = measures.Measures.batch
    monkeypatch.setattr(measures.Measures, "batch", lambda self, t: (batches.append(t.num_rows), take(self, t))[1])
    expected = counts(write_csv(tmp_path / "full.csv", rows))
    batches.clear()
    assert counts(write_jsonl(tmp_path / "full.jsonl", rows)) == expected
    assert sum(batches) > len(rows) // 2  # most records were counted as Arrow batches
    assert expected[INVALID] == 4000 and expected[DUP_TWO] == 8000 - 3


def test_record_by_record_and_whole_batches_count_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A type error makes its part of the file go record by record; the other parts stay batches."""
    monkeypatch.setattr(textio, "CHUNK_BYTES", 64 * 1024)
    rows = [
        {"id": i, "status": ("open", "closed", None, "bogus")[i % 4], "region": f"r{i % 7}", "amount": i % 3 + 0.5}
        for i in range(60_000)
    ]
    clean = counts(write_csv(tmp_path / "clean.csv", rows), threads=1)
    text = (tmp_path / "clean.csv").read_text().replace("\n30000,", "\nthirty,", 1)
    (tmp_path / "dirty.csv").write_text(text)
    dirty = registry.validate_path(tmp_path / "dirty.csv", ValidationOptions(schema=SCHEMA, measurements=ALL))
    assert [(e.code, e.row) for e in dirty.errors] == [("type-error", 30_001)]
    assert dirty.extra["precise_chunks"] >= 1 and dirty.extra["fast_chunks"] >= 1
    assert {m: dirty._measured.final().count(m) for m in ALL} == clean
    assert clean[NULLS] == 15_000 and clean[INVALID] == 15_000 and clean[DUP_ONE] == 60_000 - 7
    assert clean[DUP_TWO] == 60_000 - 28  # 4 statuses x 7 regions


def test_a_value_of_the_wrong_type_is_invalid_never_null_nor_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "typed.csv"
    path.write_text("id,status,region,amount\n1,open,eu,x\n2,open,eu,x\n3,open,eu,\n")
    amount_nulls = Measurement(metric=Metric.null_values, columns=("amount",))
    amount_dups = Measurement(metric=Metric.duplicate_values, columns=("amount",))
    pairs = Measurement(metric=Metric.duplicate_values, columns=("region", "amount"))
    missing = Measurement(metric=Metric.missing_values, columns=("amount",), values=("x",))
    got = counts(path, (amount_nulls, amount_dups, AMOUNTS, pairs, missing))
    assert got == {amount_nulls: 1, amount_dups: 0, AMOUNTS: 2, pairs: 0, missing: 2}


def test_a_measurement_past_the_distinct_cap_is_not_taken(tmp_path: Path) -> None:
    rows = [{"id": i, "status": "open", "region": f"r{i}", "amount": 1.5} for i in range(100)]
    path = write_parquet(tmp_path / "many.parquet", rows)
    got = counts(path, (DUP_ONE, DUP_TWO, NULLS), distinct_cap=50)
    assert got == {DUP_ONE: None, DUP_TWO: None, NULLS: 0}
    assert counts(path, (DUP_ONE,), distinct_cap=100) == {DUP_ONE: 0}


def test_a_column_the_file_lacks_or_of_another_type_is_not_measured(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "status": [1, 2], "amount": [1.5, 1.5]}), tmp_path / "t.parquet")
    amount_dups = Measurement(metric=Metric.duplicate_values, columns=("amount",))
    got = counts(tmp_path / "t.parquet", (NULLS, DUP_ONE, amount_dups))
    assert got == {NULLS: None, DUP_ONE: None, amount_dups: 1}


def test_a_file_not_read_to_its_end_has_no_counts(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("id,status,region,amount\n1,open,eu,1.5\n2," + "x" * 5000 + ",eu,1.5\n3,open,eu,1.5\n")
    report = registry.validate_path(path, ValidationOptions(schema=SCHEMA, measurements=ALL, max_line_bytes=1000))
    assert "format-error" in {e.code for e in report.errors}
    assert report._measured is None


def test_without_a_contract_nothing_is_measured(tmp_path: Path) -> None:
    report = registry.validate_path(write_csv(tmp_path / "a.csv", ROWS), ValidationOptions(schema=SCHEMA))
    assert report._measured is None


def test_row_hashes_tell_tuples_apart_and_merge_across_files() -> None:
    a = [pa.array(["a", "ab", "", None, "b"]), pa.array([1, 2, 3, 4, None])]
    b = [pa.array(["ab", "a", "", None, "b"]), pa.array([2, 1, 3, 4, None])]
    assert sorted(hash_rows(a, drop_nulls=False).tolist()) == sorted(hash_rows(b, drop_nulls=False).tolist())
    assert len(set(hash_rows(a, drop_nulls=False).tolist())) == 5
    assert len(hash_rows([pa.array(["x", None, "x"])], drop_nulls=True)) == 2
    first, second = DistinctHashes(cap=10), DistinctHashes(cap=10)
    first.add(hash_rows([pa.array([1, 2, 2])], drop_nulls=True))
    second.add(hash_rows([pa.array([2, 3])], drop_nulls=True))
    first.union(second)
    assert (first.values, first.size, first.duplicates) == (5, 3, 2)
    small = DistinctHashes(cap=2)
    small.union(first)
    assert small.size is None and small.duplicates is None


def test_text_is_hashed_alike_whether_it_repeats_or_not() -> None:
    repeating = pa.array([f"name {i % 5}" if i % 9 else None for i in range(5000)])
    distinct = pa.array([f"name {i}" for i in range(5000)])
    small = pa.array(["name 0", "name 1", None])
    assert set(hash_rows([small], drop_nulls=True).tolist()) <= set(hash_rows([repeating], drop_nulls=True).tolist())
    assert len(set(hash_rows([repeating], drop_nulls=True).tolist())) == 5
    assert hash_rows([distinct], drop_nulls=True)[:2].tolist() == hash_rows([small], drop_nulls=True).tolist()
