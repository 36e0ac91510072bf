"""validate_file and list_file_formats through the MCP client: reports, cache, path policy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok

from dataproduct_mcp.app import Application

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]  # SQLite and PostgreSQL (tests/pg.py)

DATA = Path(__file__).resolve().parents[1] / "data"


def write_csv(path: Path, rows: int = 5, bad_row: int | None = None) -> Path:
    lines = ["id,name,amount"]
    for i in range(1, rows + 1):
        amount = "oops" if i == bad_row else f"{i}.5"
        lines.append(f"{i},name {i},{amount}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_a_valid_csv_gets_a_full_report(client: Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ok.csv")
    report = (await call_ok(client, "validate_file", {"path": str(path)}))["report"]
    assert report["valid"] is True
    assert report["format"] == "csv"
    assert report["media_type"] == "text/csv"
    assert report["rows"] == 5
    assert [c["name"] for c in report["columns"]] == ["id", "name", "amount"]
    assert report["bytes"] == path.stat().st_size
    assert len(report["sha256"]) == 64
    assert report["cached"] is False
    assert report["error_count"] == 0


async def test_a_bad_value_deep_in_a_column_is_a_type_error_at_its_row(client: Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", rows=2000, bad_row=1500)
    report = (await call_ok(client, "validate_file", {"path": str(path)}))["report"]
    assert report["valid"] is False
    assert [(e["code"], e["row"], e["column_name"]) for e in report["errors"]] == [("type-error", 1500, "amount")]


async def test_a_repeated_call_is_cached_and_a_changed_file_is_not_stale(client: Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv")
    first = (await call_ok(client, "validate_file", {"path": str(path)}))["report"]
    second = (await call_ok(client, "validate_file", {"path": str(path)}))["report"]
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["sha256"] == first["sha256"]
    write_csv(path, rows=6, bad_row=6)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    third = (await call_ok(client, "validate_file", {"path": str(path)}))["report"]
    assert third["cached"] is False
    assert third["valid"] is False
    assert third["sha256"] != first["sha256"]
    other_options = (await call_ok(client, "validate_file", {"path": str(path), "max_errors": 5}))["report"]
    assert other_options["cached"] is False


async def test_cache_statistics_show_in_server_status(client: Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv")
    await call_ok(client, "validate_file", {"path": str(path)})
    await call_ok(client, "validate_file", {"path": str(path)})
    cache = (await call_ok(client, "get_server_status", {}))["components"]["cache"]["detail"]
    assert cache["hits"] >= 1 and cache["misses"] >= 1
    assert 0 < cache["bytes"] <= cache["max_bytes"]
    assert cache["entries"] >= 1


async def test_error_count_is_the_true_total_when_findings_are_capped(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("a,b\n" + "".join(f"{i},x,extra\n" for i in range(300)))
    report = (await call_ok(client, "validate_file", {"path": str(path), "max_errors": 10}))["report"]
    assert report["error_count"] == 300
    assert len(report["errors"]) == 10
    assert report["truncated"] is True


async def test_reports_never_exceed_the_result_budget(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("a,b\n" + "".join(f"{i},{'y' * 150},extra{'z' * 150}\n" for i in range(2000)))
    result = await client.call_tool("validate_file", {"path": str(path), "max_errors": 1000})
    assert not result.is_error
    report = result.structured_content["report"]  # type: ignore[index]
    assert report["truncated"] is True
    assert report["error_count"] == 2000
    assert len(result.content[0].text.encode()) <= 64 * 1024  # type: ignore[union-attr]


async def test_every_format_is_listed_with_media_types_and_checks(client: Client) -> None:
    formats = (await call_ok(client, "list_file_formats", {}))["formats"]
    names = {f["name"] for f in formats}
    assert {"csv", "tsv", "json", "jsonl", "parquet", "arrow", "xlsx", "avro", "xml"} <= names
    for f in formats:
        assert f["extensions"] and f["media_types"] and f["checks"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet", "arrow", "avro", "xlsx", "xml"])
async def test_golden_valid_samples_validate_through_the_tool(
    client: Client, app: Application, tmp_path: Path, fmt: str
) -> None:
    samples = sorted((DATA / fmt / "valid").iterdir())
    assert samples
    target = tmp_path / samples[0].name
    shutil.copy(samples[0], target)
    report = (await call_ok(client, "validate_file", {"path": str(target)}))["report"]
    assert report["valid"] is True, report["errors"]


async def test_paths_outside_the_roots_are_refused(client: Client, app: Application, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"outside-{tmp_path.name}.csv"
    write_csv(outside)
    link = tmp_path / "link.csv"
    link.symlink_to(outside)
    try:
        for raw in (
            str(outside),
            str(tmp_path / ".." / outside.name),
            str(link),
            "../" + outside.name,
            "/etc/passwd",
            "~/.bashrc",
            f"file://{outside}",
            str(tmp_path / "a\x00b.csv"),
            "",
        ):
            err = await call_err(client, "validate_file", {"path": raw})
            assert err["code"] in ("path-not-allowed", "invalid-argument"), raw
            assert str(outside) not in err["message"]
    finally:
        outside.unlink()


async def test_missing_files_directories_and_fifos_are_file_not_found(client: Client, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    (tmp_path / "dir.csv").mkdir()
    for name in ("missing.csv", "dir.csv", "pipe.csv"):
        err = await call_err(client, "validate_file", {"path": str(tmp_path / name)})
        assert err["code"] == "file-not-found", name


async def test_a_file_uri_inside_the_roots_is_accepted(client: Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "uri.csv")
    report = (await call_ok(client, "validate_file", {"path": path.as_uri()}))["report"]
    assert report["valid"] is True


async def test_bad_options_are_invalid_arguments(client: Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv")
    cases = [
        ({"format": "docx"}, "format"),
        ({"max_errors": 0}, "max_errors"),
        ({"schema": {"columns": [{"name": "id", "type": "uuid"}]}}, "schema.columns.0.type"),
        ({"schema": {"columns": [{"name": "id", "pattern": "("}]}}, "schema.columns.0.pattern"),
        ({"encoding": "klingon-8"}, "encoding"),
    ]
    for extra, field in cases:
        err = await call_err(client, "validate_file", {"path": str(path), **extra})
        assert (err["code"], err["field"]) == ("invalid-argument", field), extra


async def test_content_no_validator_understands_is_unsupported_format(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 4)
    err = await call_err(client, "validate_file", {"path": str(path)})
    assert err["code"] == "unsupported-format"


async def test_a_declared_schema_is_checked_on_every_row(client: Client, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", rows=50)
    schema = {
        "columns": [
            {"name": "id", "type": "integer", "unique": True, "maximum": 40},
            {"name": "name", "type": "string", "required": True},
            {"name": "amount", "type": "number"},
        ]
    }
    report = (await call_ok(client, "validate_file", {"path": str(path), "schema": schema}))["report"]
    assert report["valid"] is False
    assert {(e["code"], e["row"]) for e in report["errors"]} == {("constraint-error", r) for r in range(41, 51)}


async def test_other_encodings_are_read_only_when_asked_in_the_foreground_and_background(
    client: Client, app: Application, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,city\n1,Köln\n2,Zürich\n".encode("latin-1"))
    strict = (await call_ok(client, "validate_file", {"path": str(path)}))["report"]
    assert strict["valid"] is False
    assert [(e["code"], e["row"], e["byte_offset"]) for e in strict["errors"]] == [
        ("encoding-error", 1, 11),
        ("encoding-error", 2, 18),
    ]
    asked = (await call_ok(client, "validate_file", {"path": str(path), "encoding": "latin-1"}))["report"]
    assert asked["valid"] is True and asked["rows"] == 2 and asked["cached"] is False  # its own cache entry
    task = (await call_ok(client, "validate_file", {"path": str(path), "encoding": "Latin-1", "background": True}))[
        "task"
    ]
    assert app.tasks is not None
    with anyio.fail_after(30):
        await app.tasks.wait(app.default_tenant(), task["id"], timeout=30)
    done = await call_ok(client, "get_task", {"task_id": task["id"]})
    assert done["status"] == "succeeded" and done["result"]["valid"] is True
    assert done["params"]["encoding"] == "Latin-1"
