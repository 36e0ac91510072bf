"""preview_data and profile over the record formats (a JSON array, Avro, xlsx) through the
in-process MCP client: typed columns, column selection, corrupt files as structured errors, and
a preview that reads only as far as it needs."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import openpyxl
import pyarrow as pa
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok

from dataproduct_mcp.readers.records import record_batches, record_schema

pytestmark = pytest.mark.anyio

CITIES = ["Oslo", "Rome", "Oslo", None, "Oslo", "Rome", "Lima", None, "Oslo", "Rome"]
AVRO_SCHEMA = {
    "type": "record",
    "name": "Sale",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "city", "type": ["null", "string"]},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "either", "type": ["null", "string", "long"]},
    ],
}


def avro_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i + 1,
            "city": CITIES[i % 10],
            "day": dt.date(2024, 1, 1 + i % 28),
            "at": dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC),
            "price": Decimal("1.50"),
            "tags": ["a"] * (i % 2),
            "either": i if i % 2 else "x",
        }
        for i in range(n)
    ]


def write_avro(path: Path, rows: list[dict[str, Any]], **options: Any) -> None:
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(AVRO_SCHEMA), rows, **options)


def write_xlsx(path: Path, header: list[Any], rows: list[list[Any]]) -> None:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("first")
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.create_sheet("second").append(["not", "read"])
    wb.save(path)


async def test_preview_and_profile_of_a_json_array_and_its_gzip(client: Client, tmp_path: Path) -> None:
    records = [
        {"id": i + 1, "city": c, "amount": i * 1.5, "n": {"k": i}, "mixed": i if i % 2 else "s"}
        for i, c in enumerate(CITIES)
    ]
    (tmp_path / "a.json").write_text(json.dumps(records, indent=2))
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(json.dumps(records).encode()))
    for name in ("a.json", "b.json.gz"):
        out = await call_ok(client, "preview_data", {"path": str(tmp_path / name), "rows": 2})
        assert out["format"] == "json" and out["rows_returned"] == 2 and out["more_rows"] and out["rows_total"] is None
        assert [(c["name"], c["type"]) for c in out["columns"]] == [
            ("id", "int64"),
            ("city", "string"),
            ("amount", "double"),
            ("n", "struct<k: int64>"),
            ("mixed", "string"),
        ]
        assert out["rows"] == [
            {"id": 1, "city": "Oslo", "amount": 0.0, "n": {"k": 0}, "mixed": "s"},
            {"id": 2, "city": "Rome", "amount": 1.5, "n": {"k": 1}, "mixed": "1"},
        ]
    prof = await call_ok(client, "profile", {"path": str(tmp_path / "a.json"), "columns": ["city", "id"], "top": 2})
    assert prof["rows_scanned"] == 10 and prof["complete"] and [c["name"] for c in prof["columns"]] == ["city", "id"]
    city, ident = prof["columns"]
    assert (city["count"], city["nulls"], city["top_values"]) == (
        8,
        2,
        [{"value": "Oslo", "count": 4}, {"value": "Rome", "count": 3}],
    )
    assert (ident["min"], ident["max"], ident["mean"]) == (1, 10, 5.5)


async def test_preview_and_profile_of_an_avro_file_with_typed_columns(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "sales.avro"
    write_avro(path, avro_rows(10), codec="deflate", sync_interval=100)
    out = await call_ok(client, "preview_data", {"path": str(path), "rows": 2})
    assert out["format"] == "avro" and out["rows_total"] == 10 and out["more_rows"]
    assert [(c["name"], c["type"]) for c in out["columns"]] == [
        ("id", "int64"),
        ("city", "string"),
        ("day", "date32[day]"),
        ("at", "timestamp[ms, tz=UTC]"),
        ("price", "decimal128(5, 2)"),
        ("tags", "list<item: string>"),
        ("either", "string"),
    ]
    assert out["rows"][1] == {
        "id": 2,
        "city": "Rome",
        "day": "2024-01-02",
        "at": "2024-01-01T12:00:00.000+00:00",
        "price": "1.50",
        "tags": ["a"],
        "either": "1",
    }
    assert out["rows"][0]["either"] == '"x"'  # a union of several types: the value as JSON text
    picked = await call_ok(client, "preview_data", {"path": str(path), "rows": 1, "columns": ["price", "id"]})
    assert picked["rows"] == [{"price": "1.50", "id": 1}]
    prof = await call_ok(client, "profile", {"path": str(path), "top": 2})
    cols = {c["name"]: c for c in prof["columns"]}
    assert prof["rows_scanned"] == 10 and prof["complete"] and prof["rows_total"] == 10
    assert (cols["city"]["nulls"], cols["city"]["top_values"][0]) == (2, {"value": "Oslo", "count": 4})
    assert (cols["day"]["min"], cols["day"]["max"]) == ("2024-01-01", "2024-01-10")


async def test_preview_and_profile_of_the_first_sheet_of_a_workbook(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    rows = [
        [i + 1, c, dt.datetime(2024, 1, 1 + i), i * 0.5, i % 2 == 0, i if i % 3 else "n/a"]
        for i, c in enumerate(CITIES)
    ]
    write_xlsx(path, ["id", "city", "day", "amount", "flag", None, "note"], [*rows, [None] * 6])
    out = await call_ok(client, "preview_data", {"path": str(path), "rows": 3})
    assert out["format"] == "xlsx" and out["rows_total"] is None and out["more_rows"]
    assert [(c["name"], c["type"]) for c in out["columns"]] == [
        ("id", "int64"),
        ("city", "string"),
        ("day", "date32[day]"),
        ("amount", "double"),
        ("flag", "bool"),
        ("column_6", "string"),
        ("note", "string"),
    ]
    assert out["rows"][1] == {
        "id": 2,
        "city": "Rome",
        "day": "2024-01-02",
        "amount": 0.5,
        "flag": False,
        "column_6": "1",
        "note": None,
    }
    prof = await call_ok(client, "profile", {"path": str(path), "columns": ["amount", "city"]})
    amount, city = prof["columns"]
    assert prof["rows_scanned"] == 10 and prof["complete"]  # the blank row at the end is not a record
    assert (amount["min"], amount["max"], city["nulls"]) == (0.0, 4.5, 2)


def corrupt_files(tmp_path: Path) -> list[Path]:
    files = {
        "cut.json": '[{"id": 1}, {"id": 2}, {"id": ',
        "object.json": '{"id": 1, "name": "not an array"}',
        "numbers.json": "[1, 2, 3]",
        "garbled.json": '[{"id": 1}, {"id" 2}]',
        "late-key.json": json.dumps([{"id": i} for i in range(1500)] + [{"id": 1, "new": 2}]),
        "late-type.json": json.dumps([{"id": i} for i in range(1500)] + [{"id": "one"}]),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    good = io.BytesIO()
    fastavro.writer(good, fastavro.parse_schema(AVRO_SCHEMA), avro_rows(2000), codec="deflate", sync_interval=2000)
    data = good.getvalue()
    (tmp_path / "cut.avro").write_bytes(data[: len(data) // 2])
    (tmp_path / "header.avro").write_bytes(b"Obj\x01" + b"\xff" * 64)
    garbled = bytearray(data)
    garbled[len(data) // 3 : len(data) // 3 + 64] = b"\x00" * 64
    (tmp_path / "garbled.avro").write_bytes(bytes(garbled))
    (tmp_path / "zip.xlsx").write_bytes(b"PK\x03\x04" + b"[Content_Types].xml" + b"\x00" * 200)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\x00" * (4 << 20))  # expands ~1000x
    (tmp_path / "bomb.xlsx").write_bytes(bomb.getvalue())
    notabook = io.BytesIO()
    with zipfile.ZipFile(notabook, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    (tmp_path / "empty.xlsx").write_bytes(notabook.getvalue())
    typed = tmp_path / "late-type.xlsx"
    write_xlsx(typed, ["n"], [[i] for i in range(1500)] + [["text"]])
    return (
        [tmp_path / n for n in files]
        + [tmp_path / n for n in ("cut.avro", "header.avro", "garbled.avro", "zip.xlsx", "bomb.xlsx", "empty.xlsx")]
        + [typed]
    )


async def test_corrupt_files_of_each_record_format_are_structured_errors(client: Client, tmp_path: Path) -> None:
    for path in corrupt_files(tmp_path):
        for tool in ("preview_data", "profile"):
            args = {"path": str(path), "rows": 500} if tool == "preview_data" else {"path": str(path)}
            result = await client.call_tool(tool, args)
            if tool == "preview_data" and path.name.startswith(("late-", "cut.avro", "garbled.avro")):
                # what is wrong lies past the rows a preview reads: it answers, profile does not
                assert not result.is_error, (path.name, result.content)
                continue
            err = await call_err(client, tool, args)
            assert err["code"] == "unsupported-format", (path.name, tool, err)


class Counting:
    """An opener whose files count the bytes read from them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read = 0

    def __call__(self) -> Any:
        counter = self

        class _File(io.FileIO):
            def read(self, size: int | None = -1) -> bytes:
                data = super().read(-1 if size is None else size)
                counter.read += len(data or b"")
                return data or b""

            def readinto(self, buffer: Any) -> int:
                n = super().readinto(buffer) or 0
                counter.read += n
                return n

        return _File(self.path, "rb")


@pytest.fixture
def large_files(tmp_path: Path) -> dict[str, Path]:
    n = 100_000
    out = {"json": tmp_path / "big.json", "avro": tmp_path / "big.avro", "xlsx": tmp_path / "big.xlsx"}
    out["json"].write_text(json.dumps([{"id": i, "v": i * 0.5, "s": f"row-{i}"} for i in range(n)]))
    write_avro(out["avro"], avro_rows(n))
    wb = openpyxl.Workbook()  # not write-only: the sheet starts with its dimension, as Excel writes it
    ws = wb.active
    for row in [["id", "v"], *([i, i * 0.5] for i in range(n // 4))]:
        ws.append(row)
    wb.save(out["xlsx"])
    return out


@pytest.mark.parametrize("fmt", ["json", "avro", "xlsx"])
def test_a_first_batch_reads_only_the_start_of_a_large_file(large_files: dict[str, Path], fmt: str) -> None:
    path = large_files[fmt]
    schema, _ = record_schema(fmt, Counting(path), False, "utf-8", local=True)
    opener = Counting(path)
    batches = record_batches(fmt, opener, False, "utf-8", schema, 11)
    row, batch = next(batches)
    batches.close()  # type: ignore[attr-defined]
    assert (row, batch.num_rows, batch.column(0).to_pylist()[:2]) == (0, 11, [0, 1] if fmt != "avro" else [1, 2])
    assert 0 < opener.read < path.stat().st_size / 4, (opener.read, path.stat().st_size)


async def test_a_preview_stops_before_a_corrupt_tail_that_profile_reaches(client: Client, tmp_path: Path) -> None:
    text = json.dumps([{"id": i, "s": f"row-{i}"} for i in range(200_000)])
    (tmp_path / "tail.json").write_text(text[:-40] + "}, {garbage")
    data = io.BytesIO()
    write_avro_to: Callable[[Any], None] = lambda f: fastavro.writer(  # noqa: E731
        f, fastavro.parse_schema(AVRO_SCHEMA), avro_rows(100_000), codec="deflate"
    )
    write_avro_to(data)
    (tmp_path / "tail.avro").write_bytes(data.getvalue()[:-100])
    for name in ("tail.json", "tail.avro"):
        out = await call_ok(client, "preview_data", {"path": str(tmp_path / name), "rows": 5})
        assert out["rows_returned"] == 5 and out["more_rows"] and out["rows_total"] is None
        err = await call_err(client, "profile", {"path": str(tmp_path / name)})
        assert err["code"] == "unsupported-format"


def test_avro_types_map_to_arrow_without_losing_what_is_simple(tmp_path: Path) -> None:
    schema = {
        "type": "record",
        "name": "Node",
        "fields": [
            {"name": "value", "type": "int"},
            {"name": "next", "type": ["null", "Node"]},  # recursive: JSON text
            {"name": "point", "type": {"type": "record", "name": "P", "fields": [{"name": "x", "type": "float"}]}},
            {"name": "again", "type": "P"},  # a named type used twice
            {"name": "props", "type": {"type": "map", "values": "long"}},
            {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A", "B"]}},
            {"name": "raw", "type": {"type": "fixed", "name": "F", "size": 2}},
            {"name": "big", "type": {"type": "bytes", "logicalType": "decimal", "precision": 60, "scale": 1}},
            {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
        ],
    }
    row = {
        "value": 1,
        "next": {
            "value": 2,
            "next": None,
            "point": {"x": 1.0},
            "again": {"x": 2.0},
            "props": {},
            "kind": "B",
            "raw": b"zz",
            "big": Decimal("1.5"),
            "uid": "00000000-0000-0000-0000-000000000001",
        },
        "point": {"x": 0.5},
        "again": {"x": 1.5},
        "props": {"a": 1},
        "kind": "A",
        "raw": b"ab",
        "big": Decimal("12.5"),
        "uid": "00000000-0000-0000-0000-000000000002",
    }
    path = tmp_path / "n.avro"
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(schema), [row])
    arrow, rows = record_schema("avro", lambda: open(path, "rb"), False, "utf-8", local=True)
    assert rows == 1
    assert [str(f.type) for f in arrow] == [
        "int32",
        "string",
        "struct<x: float not null>",
        "struct<x: float not null>",
        "map<string, int64>",
        "string",
        "fixed_size_binary[2]",
        "string",
        "string",
    ]
    _, batch = next(record_batches("avro", lambda: open(path, "rb"), False, "utf-8", arrow, 10))
    got = batch.to_pylist()[0]
    assert json.loads(got["next"])["kind"] == "B" and got["props"] == [("a", 1)]
    assert (got["big"], got["uid"], got["raw"]) == ("12.5", "00000000-0000-0000-0000-000000000002", b"ab")
    assert pa.types.is_struct(arrow.field("again").type)


async def test_hive_partitions_of_each_record_format_preview_with_the_partition_column(
    client: Client, tmp_path: Path
) -> None:
    schema = fastavro.parse_schema({"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]})
    for region, start in (("eu", 0), ("us", 100)):
        records = [{"id": i} for i in range(start, start + 3)]
        for fmt in ("json", "avro", "xlsx"):
            (tmp_path / fmt / f"region={region}").mkdir(parents=True)
        (tmp_path / "json" / f"region={region}" / "p.json").write_text(json.dumps(records))
        with open(tmp_path / "avro" / f"region={region}" / "p.avro", "wb") as f:
            fastavro.writer(f, schema, records)
        write_xlsx(tmp_path / "xlsx" / f"region={region}" / "p.xlsx", ["id"], [[r["id"]] for r in records])
    for fmt in ("json", "avro", "xlsx"):
        out = await call_ok(client, "preview_data", {"path": str(tmp_path / fmt), "rows": 4})
        assert out["format"] == fmt and [c["name"] for c in out["columns"]] == ["id", "region"]
        assert out["rows"][2:] == [{"id": 2, "region": "eu"}, {"id": 100, "region": "us"}]
        prof = await call_ok(client, "profile", {"path": str(tmp_path / fmt)})
        assert prof["rows_scanned"] == 6 and prof["columns"][0]["max"] == 102
