"""Arrow IPC / Feather validator: golden samples, declared schemas, hostile bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.validators.binary_helpers import mutated_bytes, run_validator, table

from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.validators.base import (
    Cancelled,
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
    ValidationOptions,
)
from dataproduct_mcp.validators.formats.arrow import VALIDATOR
from dataproduct_mcp.validators.registry import validate_path

DATA = Path(__file__).resolve().parents[1] / "data" / "arrow"


def run(path: Path, **options: Any) -> tuple[FormatResult, ValidationContext, Source]:
    return run_validator(VALIDATOR, path, **options)


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        ("file.arrow", "file"),
        ("zstd.arrow", "file"),
        ("v2.feather", "file"),
        ("stream.arrows", "stream"),
        ("v1.feather", "feather-v1"),
    ],
)
def test_valid_arrow_files_streams_and_feather_have_no_findings(name: str, layout: str) -> None:
    path = DATA / "valid" / name
    result, ctx, source = run(path)
    assert table(ctx) == [] and ctx.findings.warnings == []
    assert result.rows == 300
    assert result.extra["layout"] == layout
    assert [c.name for c in result.columns] == ["id", "name", "price", "active", "day", "note"]
    assert [c.type for c in result.columns] == ["integer", "string", "number", "boolean", "date", "string"]
    assert "values" in ctx.checks
    assert source.hashed and source.sha256_hex() == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["file.arrow", "stream.arrows", "v1.feather", "v2.feather"])
def test_every_layout_sniffs_as_arrow(name: str) -> None:
    assert VALIDATOR.sniff((DATA / "valid" / name).read_bytes()[:8192])


def test_sniff_rejects_other_formats() -> None:
    assert not VALIDATOR.sniff(b"PAR1\x15\x04")
    assert not VALIDATOR.sniff(b"id,name\n")
    assert not VALIDATOR.sniff(b"\xff\xff\xff\xff\x03\x00\x00\x00")


def test_truncated_arrow_file_is_a_format_error_at_its_end() -> None:
    path = DATA / "invalid" / "truncated.arrow"
    result, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "format-error")]
    assert ctx.findings.errors[0].byte_offset == path.stat().st_size - 6
    assert result.rows == 0


def test_truncated_ipc_stream_is_a_format_error_at_the_cut_batch() -> None:
    result, ctx, _ = run(DATA / "invalid" / "truncated.arrows")
    assert table(ctx) == [(201, None, None, "format-error")]
    assert result.rows == 200
    assert ctx.findings.errors[0].byte_offset is not None


def test_invalid_utf8_in_a_record_batch_is_an_encoding_error_at_its_row() -> None:
    _, ctx, _ = run(DATA / "invalid" / "bad_utf8.arrow")
    assert table(ctx) == [(1, None, 2, "encoding-error")]


def test_garbage_between_arrow_magic_bytes_is_a_format_error() -> None:
    _, ctx, _ = run(DATA / "invalid" / "not_arrow.arrow")
    assert table(ctx) == [(None, None, None, "format-error")]


def test_empty_arrow_file_is_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "e.arrow"
    path.write_bytes(b"")
    _, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "empty-file")]


@pytest.mark.parametrize("name", ["file.arrow", "stream.arrows", "v1.feather"])
def test_declared_constraints_are_checked_in_every_layout(name: str) -> None:
    schema = TableSchema.model_validate(
        {
            "columns": [
                {"name": "id", "type": "integer", "maximum": 298},
                {"name": "name", "type": "string"},
                {"name": "price", "type": "number"},
                {"name": "active", "type": "boolean"},
                {"name": "day", "type": "date"},
                {"name": "note", "type": "string", "required": True},
            ]
        }
    )
    _, ctx, _ = run(DATA / "valid" / name, schema=schema)
    missing = [(r, None, 6, "constraint-error") for r in range(1, 301, 10)]
    expected = sorted([*missing, (299, None, 1, "constraint-error"), (300, None, 1, "constraint-error")])
    assert sorted(table(ctx)) == expected


def test_declared_type_mismatch_in_arrow_is_a_schema_mismatch() -> None:
    schema = TableSchema.model_validate(
        {
            "columns": [
                {"name": "id", "type": "string"},
                {"name": "name"},
                {"name": "price"},
                {"name": "active"},
                {"name": "day"},
                {"name": "note"},
            ]
        }
    )
    _, ctx, _ = run(DATA / "valid" / "file.arrow", schema=schema)
    assert {(c, code) for _, _, c, code in table(ctx)} == {
        (1, "schema-mismatch"),
        (3, "schema-mismatch"),
        (4, "schema-mismatch"),
        (5, "schema-mismatch"),
    }


def test_cancellation_stops_arrow_validation() -> None:
    with pytest.raises(Cancelled):
        run(DATA / "valid" / "stream.arrows", is_cancelled=lambda: True)


def test_time_budget_stops_arrow_validation() -> None:
    with pytest.raises(TimeBudgetExceeded):
        run(DATA / "valid" / "file.arrow", time_budget_s=0)


VALID = [(DATA / "valid" / n).read_bytes() for n in ("file.arrow", "stream.arrows", "v1.feather", "zstd.arrow")]


def mutated() -> st.SearchStrategy[bytes]:
    return mutated_bytes(VALID)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_mutated_arrow_bytes_never_crash_the_validator(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.arrow"
    path.write_bytes(data)
    try:
        run(path, time_budget_s=10)
    except TimeBudgetExceeded:
        pass


@pytest.mark.parametrize("name", ["file.arrow", "stream.arrows", "v1.feather", "v2.feather"])
def test_arrow_layouts_through_the_registry_are_valid_and_hashed(name: str) -> None:
    path = DATA / "valid" / name
    report = validate_path(path, ValidationOptions())
    assert (report.format, report.valid, report.rows) == ("arrow", True, 300)
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_truncated_stream_through_the_registry_is_invalid() -> None:
    report = validate_path(DATA / "invalid" / "truncated.arrows", ValidationOptions())
    assert not report.valid and [(f.row, f.code.value) for f in report.errors] == [(201, "format-error")]


def test_column_name_that_is_not_utf8_is_an_encoding_error_and_checks_go_on() -> None:
    result, ctx, _ = run(DATA / "invalid" / "bad_name.arrow")
    assert table(ctx) == [(None, None, 3, "encoding-error")]
    assert result.rows == 300 and result.columns[2].name.startswith("<column 3")


def test_feather_v1_that_crashes_arrows_reader_only_kills_the_child_process() -> None:
    result, ctx, _ = run(DATA / "invalid" / "fuzz_crash_v1.feather")
    assert [code for *_, code in table(ctx)] == ["format-error"]
