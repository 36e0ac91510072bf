"""Avro validator: golden samples, declared schemas, hostile bytes."""

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
from dataproduct_mcp.validators.formats.avro import VALIDATOR
from dataproduct_mcp.validators.registry import validate_path

DATA = Path(__file__).resolve().parents[1] / "data" / "avro"


def run(path: Path, **options: Any) -> tuple[FormatResult, ValidationContext, Source]:
    return run_validator(VALIDATOR, path, **options)


@pytest.mark.parametrize(("name", "codec"), [("null.avro", "null"), ("deflate.avro", "deflate")])
def test_valid_avro_has_no_findings_rows_and_columns(name: str, codec: str) -> None:
    path = DATA / "valid" / name
    result, ctx, source = run(path)
    assert table(ctx) == [] and ctx.findings.warnings == []
    assert result.rows == 300
    assert result.extra["codec"] == codec and result.extra["blocks"] >= 1
    assert [(c.name, c.type, c.nullable) for c in result.columns] == [
        ("id", "integer", False),
        ("name", "string", False),
        ("price", "number", True),
        ("day", "date", False),
    ]
    assert {"header", "blocks", "sync-markers", "codec", "records"} <= set(ctx.checks)
    assert source.hashed and source.sha256_hex() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_sync_marker_is_a_format_error_at_its_block() -> None:
    result, ctx, _ = run(DATA / "invalid" / "bad_sync.avro")
    assert table(ctx) == [(1, None, None, "format-error")]
    assert result.rows == 0


def test_truncated_avro_is_a_format_error_after_the_last_whole_block() -> None:
    result, ctx, source = run(DATA / "invalid" / "truncated.avro")
    assert table(ctx) == [(result.rows + 1, None, None, "format-error")]
    assert 0 < result.rows < 300
    path = DATA / "invalid" / "truncated.avro"
    assert source.sha256_hex() == hashlib.sha256(path.read_bytes()).hexdigest()  # read to the end anyway


@pytest.mark.parametrize("name", ["corrupt_block.avro", "unknown_codec.avro"])
def test_corrupt_block_or_unknown_codec_is_a_format_error(name: str) -> None:
    _, ctx, _ = run(DATA / "invalid" / name)
    assert table(ctx) == [(1, None, None, "format-error")]


def test_file_without_avro_magic_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "x.avro"
    path.write_bytes(b'{"id": 1}\n')
    _, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "format-error")]


def test_empty_avro_is_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "x.avro"
    path.write_bytes(b"")
    _, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "empty-file")]


def test_declared_constraints_are_checked_on_avro_records() -> None:
    schema = TableSchema.model_validate(
        {
            "columns": [
                {"name": "id", "type": "integer", "maximum": 298},
                {"name": "name", "type": "string", "max_length": 7},
                {"name": "price", "type": "number", "required": True},
                {"name": "day", "type": "date"},
            ]
        }
    )
    _, ctx, _ = run(DATA / "valid" / "null.avro", schema=schema, max_errors=1000)
    found = table(ctx)
    assert (299, None, 1, "constraint-error") in found and (300, None, 1, "constraint-error") in found
    assert (7, None, 3, "constraint-error") in found  # price is null on every 7th record
    assert (100, None, 2, "constraint-error") in found  # "name-100" is 8 characters
    assert (99, None, 2, "constraint-error") not in found
    assert ctx.findings.error_count == 2 + 300 // 7 + (300 - 99)


def test_declared_type_mismatch_in_avro_is_a_schema_mismatch() -> None:
    schema = TableSchema.model_validate(
        {"columns": [{"name": "id", "type": "date"}, {"name": "name"}, {"name": "price"}, {"name": "day"}]}
    )
    _, ctx, _ = run(DATA / "valid" / "null.avro", schema=schema)
    assert sorted(table(ctx)) == [
        (None, None, 1, "schema-mismatch"),
        (None, None, 3, "schema-mismatch"),
        (None, None, 4, "schema-mismatch"),
    ]


def test_cancellation_stops_avro_validation() -> None:
    with pytest.raises(Cancelled):
        run(DATA / "valid" / "null.avro", is_cancelled=lambda: True)


def test_time_budget_stops_avro_validation() -> None:
    with pytest.raises(TimeBudgetExceeded):
        run(DATA / "valid" / "null.avro", time_budget_s=0)


VALID = [(DATA / "valid" / n).read_bytes() for n in ("null.avro", "deflate.avro")]


def mutated() -> st.SearchStrategy[bytes]:
    return mutated_bytes(VALID)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_mutated_avro_bytes_never_crash_the_validator(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.avro"
    path.write_bytes(data)
    try:
        run(path, time_budget_s=10)
    except TimeBudgetExceeded:
        pass


def test_avro_through_the_registry_is_detected_and_hashed_in_one_pass() -> None:
    path = DATA / "invalid" / "bad_sync.avro"
    report = validate_path(path, ValidationOptions())
    assert report.format == "avro" and not report.valid
    assert [(f.row, f.code.value) for f in report.errors] == [(1, "format-error")]
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# -- decompression bounds ---------------------------------------------------------------------
def _one_big_record(path: Path, codec: str, size: int) -> None:
    import fastavro

    schema = {"type": "record", "name": "blob", "fields": [{"name": "data", "type": "string"}]}
    with path.open("wb") as fo:
        fastavro.writer(fo, schema, [{"data": "0" * size}], codec=codec)


@pytest.mark.parametrize("codec", ["deflate", "bzip2", "xz"])
def test_a_block_that_inflates_beyond_the_bound_is_a_format_error_not_a_memory_blowup(
    tmp_path: Path, codec: str
) -> None:
    path = tmp_path / f"bomb-{codec}.avro"
    _one_big_record(path, codec, 8 << 20)  # 8 MiB of zeros: a few KiB compressed
    assert path.stat().st_size < 1 << 20
    _, ctx, _ = run(path, max_uncompressed_bytes=1 << 20)
    assert table(ctx) == [(1, None, None, "format-error")]
    assert "decompression bomb" in ctx.findings.errors[0].message


@pytest.mark.parametrize("codec", ["deflate", "bzip2", "xz"])
def test_blocks_within_the_bound_decode_with_every_stdlib_codec(tmp_path: Path, codec: str) -> None:
    path = tmp_path / f"ok-{codec}.avro"
    _one_big_record(path, codec, 512 << 10)
    result, ctx, _ = run(path, max_uncompressed_bytes=1 << 20)
    assert table(ctx) == [] and result.rows == 1
