"""preview_data and profile through the in-process MCP client: local files of each streamable
format, Hive partitions, a Delta table, an s3:// prefix on moto, the result budget, the errors."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import deltalake
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok
from tests.s3 import REGION, S3Server

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.server.builder import build_server

pytestmark = pytest.mark.anyio


def known_table() -> pa.Table:
    """Ten rows whose figures are known by heart."""
    return pa.table(
        {
            "id": pa.array(range(1, 11), pa.int64()),
            "city": ["Oslo", "Rome", "Oslo", None, "Oslo", "Rome", "Lima", None, "Oslo", "Rome"],
            "amount": pa.array([1.0, 2.0, 3.0, 4.0, None, 6.0, 7.0, 8.0, 9.0, 10.0], pa.float64()),
            "day": pa.array([dt.date(2024, 1, d) for d in range(1, 11)], pa.date32()),
            "price": pa.array([Decimal("1.50")] * 10, pa.decimal128(5, 2)),
            "blob": pa.array([b"\x00\x01"] * 10, pa.binary()),
        }
    )


@pytest.fixture
def known(tmp_path: Path) -> Path:
    path = tmp_path / "known.parquet"
    pq.write_table(known_table(), path)
    return path


async def test_preview_of_a_parquet_file_returns_json_safe_rows_and_stops(client: Client, known: Path) -> None:
    out = await call_ok(client, "preview_data", {"path": str(known), "rows": 3})
    assert out["format"] == "parquet" and out["rows_returned"] == 3 and out["more_rows"] and out["rows_total"] == 10
    assert [c["name"] for c in out["columns"]] == ["id", "city", "amount", "day", "price", "blob"]
    assert out["rows"][0] == {
        "id": 1,
        "city": "Oslo",
        "amount": 1.0,
        "day": "2024-01-01",
        "price": "1.50",
        "blob": {"$base64": "AAE=", "length": 2},
    }
    assert not out["truncated"] and not out["values_truncated"]


async def test_preview_selects_columns_in_the_order_asked(client: Client, known: Path) -> None:
    out = await call_ok(client, "preview_data", {"path": str(known), "rows": 2, "columns": ["amount", "id"]})
    assert [c["name"] for c in out["columns"]] == ["amount", "id"]
    assert out["rows"] == [{"amount": 1.0, "id": 1}, {"amount": 2.0, "id": 2}]


async def test_preview_of_all_rows_says_there_are_no_more(client: Client, known: Path) -> None:
    out = await call_ok(client, "preview_data", {"path": str(known), "rows": 500})
    assert out["rows_returned"] == 10 and not out["more_rows"]


async def test_preview_of_csv_gzip_csv_and_json_lines(client: Client, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name,when\n1,ann,2024-05-01T12:00:00\n2,bob,2024-05-02T00:00:00\n")
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(b"id,name\n1,ann\n2,bob\n3,cy\n"))
    (tmp_path / "c.jsonl").write_text('{"id": 1, "tags": ["x", "y"]}\n{"id": 2, "tags": []}\n')
    csv = await call_ok(client, "preview_data", {"path": str(tmp_path / "a.csv")})
    assert csv["format"] == "csv" and csv["rows_total"] is None
    assert csv["rows"][0] == {"id": 1, "name": "ann", "when": "2024-05-01T12:00:00"}
    gz = await call_ok(client, "preview_data", {"path": str(tmp_path / "b.csv.gz"), "rows": 2})
    assert gz["rows"] == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}] and gz["more_rows"]
    jl = await call_ok(client, "preview_data", {"path": str(tmp_path / "c.jsonl")})
    assert jl["format"] == "jsonl" and jl["rows"] == [{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": []}]


async def test_preview_transcodes_a_latin_1_csv(client: Client, tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_bytes("id,city\n1,Zürich\n".encode("latin-1"))
    out = await call_ok(client, "preview_data", {"path": str(tmp_path / "l.csv"), "encoding": "latin-1"})
    assert out["rows"] == [{"id": 1, "city": "Zürich"}]
    err = await call_err(client, "preview_data", {"path": str(tmp_path / "l.csv"), "encoding": "no-such"})
    assert err["code"] == "invalid-argument" and err["field"] == "encoding"


async def test_preview_of_hive_partitions_appends_the_partition_columns(client: Client, tmp_path: Path) -> None:
    for region in ("eu", "us"):
        (tmp_path / "sales" / f"region={region}").mkdir(parents=True)
        pq.write_table(pa.table({"id": [1, 2]}), tmp_path / "sales" / f"region={region}" / "part-0.parquet")
    out = await call_ok(client, "preview_data", {"path": str(tmp_path / "sales"), "rows": 3})
    assert [c["name"] for c in out["columns"]] == ["id", "region"]
    assert out["rows"] == [{"id": 1, "region": "eu"}, {"id": 2, "region": "eu"}, {"id": 1, "region": "us"}]
    assert out["rows_total"] == 4


async def test_preview_and_profile_of_a_delta_table_at_a_version(client: Client, tmp_path: Path) -> None:
    uri = str(tmp_path / "orders")
    deltalake.write_deltalake(uri, pa.table({"id": pa.array([1, 2, 3], pa.int64())}))
    deltalake.write_deltalake(uri, pa.table({"id": pa.array([7], pa.int64())}), mode="overwrite")
    latest = await call_ok(client, "preview_data", {"path": uri})
    assert latest["rows"] == [{"id": 7}]
    first = await call_ok(client, "profile", {"path": f"{uri}@v0"})
    assert first["rows_scanned"] == 3 and first["complete"] and first["columns"][0]["max"] == 3


async def test_profile_figures_of_a_known_file_are_exact(client: Client, known: Path) -> None:
    out = await call_ok(client, "profile", {"path": str(known), "top": 2})
    assert out["rows_scanned"] == 10 and out["complete"] and out["reason"] is None and out["rows_total"] == 10
    cols = {c["name"]: c for c in out["columns"]}
    city = cols["city"]
    assert (city["count"], city["nulls"], city["null_fraction"]) == (8, 2, 0.2)
    assert (city["distinct_estimate"], city["distinct_method"], city["distinct_bounds"]) == (3, "exact", [3, 3])
    assert (city["min"], city["max"]) == ("Lima", "Rome")
    assert city["top_values"] == [{"value": "Oslo", "count": 4}, {"value": "Rome", "count": 3}]
    assert city["top_values_max_error"] == 0 and city["mean"] is None
    amount = cols["amount"]
    assert (amount["count"], amount["nulls"], amount["min"], amount["max"]) == (9, 1, 1.0, 10.0)
    assert amount["mean"] == pytest.approx(50 / 9)
    values = [1, 2, 3, 4, 6, 7, 8, 9, 10]
    var = sum((v - 50 / 9) ** 2 for v in values) / 9
    assert amount["stddev"] == pytest.approx(var**0.5)
    assert (cols["day"]["min"], cols["day"]["max"]) == ("2024-01-01", "2024-01-10")
    assert cols["day"]["top_values"][:2] == [{"value": "2024-01-01", "count": 1}, {"value": "2024-01-02", "count": 1}]
    assert cols["price"]["top_values"] == [{"value": "1.50", "count": 10}]
    assert cols["blob"]["top_values"] == [{"value": {"$base64": "AAE=", "length": 2}, "count": 10}]
    assert cols["id"]["distinct_estimate"] == 10 and cols["id"]["mean"] == 5.5


async def test_profile_estimates_many_distinct_values_within_its_bounds(client: Client, tmp_path: Path) -> None:
    n = 100_000
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"id": pa.array(range(n), pa.int64()), "s": [f"k{i % 50_000}" for i in range(n)]}), path)
    out = await call_ok(client, "profile", {"path": str(path)})
    for col, truth in zip(out["columns"], (n, 50_000), strict=True):
        assert col["distinct_method"] == "hll"
        low, high = col["distinct_bounds"]
        assert low <= truth <= high and low <= col["distinct_estimate"] <= high
        assert abs(col["distinct_estimate"] - truth) / truth < 0.05 and 0 < col["distinct_relative_error"] < 0.05
    s = out["columns"][1]
    assert all(t["count"] <= 2 for t in s["top_values"]) and s["top_values_max_error"] > 0


async def test_profile_stops_at_max_rows_and_says_it_is_incomplete(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": pa.array(range(200_000), pa.int64())}), path, row_group_size=50_000)
    out = await call_ok(client, "profile", {"path": str(path), "max_rows": 70_000})
    assert out["rows_scanned"] == 70_000 and not out["complete"] and out["reason"] == "row-limit"
    assert out["columns"][0]["max"] == 69_999 and out["rows_total"] == 200_000
    exact = await call_ok(client, "profile", {"path": str(path), "max_rows": 200_000})
    assert exact["complete"] and exact["rows_scanned"] == 200_000


async def test_unknown_columns_and_bad_arguments_are_invalid_arguments(client: Client, known: Path) -> None:
    for tool in ("preview_data", "profile"):
        err = await call_err(client, tool, {"path": str(known), "columns": ["id", "nope"]})
        assert err["code"] == "invalid-argument" and err["field"] == "columns"
    err = await call_err(client, "preview_data", {"path": str(known), "rows": 501})
    assert err["code"] == "invalid-argument" and err["field"] == "rows"
    err = await call_err(client, "profile", {"path": str(known), "top": 21})
    assert err["code"] == "invalid-argument" and err["field"] == "top"


async def test_paths_outside_the_roots_missing_files_and_unstreamable_formats(client: Client, tmp_path: Path) -> None:
    for tool in ("preview_data", "profile"):
        assert (await call_err(client, tool, {"path": "/etc/passwd"}))["code"] == "path-not-allowed"
        assert (await call_err(client, tool, {"path": str(tmp_path / "none.csv")}))["code"] == "file-not-found"
    (tmp_path / "doc.xml").write_text("<rows><row><a>1</a></row></rows>")
    assert (await call_err(client, "preview_data", {"path": str(tmp_path / "doc.xml")}))["code"] == (
        "unsupported-format"
    )


async def test_a_corrupt_file_is_a_structured_error(client: Client, tmp_path: Path) -> None:
    good = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(1000))}), good)
    data = good.getvalue()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    broken = bytearray(data)
    broken[8:200] = b"\xff" * 192  # the footer stays readable, the column chunk does not
    (tmp_path / "garbled.parquet").write_bytes(bytes(broken))
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    for name in ("cut.parquet", "garbled.parquet", "ragged.csv"):
        for tool in ("preview_data", "profile"):
            err = await call_err(client, tool, {"path": str(tmp_path / name)})
            assert err["code"] == "unsupported-format", (name, tool, err)


def small_budget_app(tmp_path: Path) -> Application:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return Application.build(load_settings(data_dir=data, allowed_roots=[tmp_path], max_result_bytes=4096))


async def test_results_fit_a_small_result_budget(tmp_path: Path) -> None:
    wide = pa.table({f"c{i}": [("v" * 900 + str(r)) for r in range(50)] for i in range(8)})
    pq.write_table(wide, tmp_path / "wide.parquet")
    async with small_budget_app(tmp_path) as app, Client(build_server(app)) as client:
        result = await client.call_tool("preview_data", {"path": str(tmp_path / "wide.parquet"), "rows": 50})
        assert not result.is_error and result.structured_content is not None
        out = result.structured_content
        assert out["truncated"] and out["more_rows"] and out["rows_returned"] < 50
        assert len(json.dumps(out)) <= 4096 and len(result.content[0].text) <= 4096  # type: ignore[union-attr]
        result = await client.call_tool("profile", {"path": str(tmp_path / "wide.parquet"), "top": 20})
        assert not result.is_error and result.structured_content is not None
        prof = result.structured_content
        assert prof["truncated"] and len(json.dumps(prof)) <= 4096 and prof["values_truncated"]
        assert prof["rows_scanned"] == 50 and prof["complete"]


async def test_long_values_are_cut_with_a_flag(client: Client, tmp_path: Path) -> None:
    pq.write_table(pa.table({"t": ["x" * 5000], "b": [b"\x01" * 5000]}), tmp_path / "long.parquet")
    out = await call_ok(client, "preview_data", {"path": str(tmp_path / "long.parquet")})
    row: dict[str, Any] = out["rows"][0]
    assert out["values_truncated"] and row["t"] == "x" * 1000 + "…"
    assert row["b"]["length"] == 5000 and row["b"]["truncated"]


@pytest.fixture
async def s3_client(s3: S3Server, tmp_path: Path) -> AsyncIterator[tuple[Client, str]]:
    bucket = s3.bucket()
    for region, start in (("eu", 0), ("us", 100)):
        buf = io.BytesIO()
        pq.write_table(pa.table({"id": pa.array(range(start, start + 100), pa.int64())}), buf)
        s3.put(f"{bucket}/shared/sales/region={region}/part-0.parquet", buf.getvalue())
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(
        data_dir=data,
        allowed_roots=[str(tmp_path), f"s3://{bucket}/shared"],
        s3_endpoint_url=s3.endpoint,
        s3_region=REGION,
        s3_access_key_id=s3.access_key,
        s3_secret_access_key=s3.secret_key,
        s3_connect_timeout_seconds=2,
        s3_request_timeout_seconds=10,
        s3_max_attempts=2,
    )
    async with Application.build(settings) as app, Client(build_server(app)) as client:
        yield client, bucket


async def test_preview_and_profile_of_an_s3_prefix(s3_client: tuple[Client, str]) -> None:
    client, bucket = s3_client
    out = await call_ok(client, "preview_data", {"path": f"s3://{bucket}/shared/sales", "rows": 2})
    assert out["rows"] == [{"id": 0, "region": "eu"}, {"id": 1, "region": "eu"}] and out["rows_total"] == 200
    prof = await call_ok(client, "profile", {"path": f"s3://{bucket}/shared/sales"})
    cols = {c["name"]: c for c in prof["columns"]}
    assert prof["rows_scanned"] == 200 and cols["id"]["distinct_estimate"] == 200 and cols["id"]["max"] == 199
    assert cols["region"]["top_values"] == [{"value": "eu", "count": 100}, {"value": "us", "count": 100}]
    err = await call_err(client, "preview_data", {"path": f"s3://{bucket}/private/x.parquet"})
    assert err["code"] == "path-not-allowed"


async def test_profile_of_nested_and_long_values_keeps_counts_and_cuts_values(client: Client, tmp_path: Path) -> None:
    long = "z" * 3000
    lines = [json.dumps({"tags": ["a"] if i % 2 else None, "text": long if i < 3 else "short"}) for i in range(6)]
    (tmp_path / "n.jsonl").write_text("\n".join(lines) + "\n")
    out = await call_ok(client, "profile", {"path": str(tmp_path / "n.jsonl")})
    tags, text = out["columns"]
    assert (tags["count"], tags["nulls"], tags["top_values"]) == (3, 3, []) and tags["note"]
    assert text["top_values"][0] == {"value": "z" * 200 + "…", "count": 3} and out["values_truncated"]
    assert text["distinct_estimate"] == 2 and text["max"] == "z" * 200 + "…"
