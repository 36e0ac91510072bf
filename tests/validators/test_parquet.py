"""Parquet validator: golden samples, declared schemas, hostile bytes (see tests/data/make_binary_samples.py)."""

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
from dataproduct_mcp.validators.formats.parquet import VALIDATOR
from dataproduct_mcp.validators.registry import validate_path

DATA = Path(__file__).resolve().parents[1] / "data" / "parquet"


def run(path: Path, **options: Any) -> tuple[FormatResult, ValidationContext, Source]:
    return run_validator(VALIDATOR, path, **options)


@pytest.mark.parametrize("name", ["basic.parquet", "snappy_no_crc.parquet"])
def test_valid_parquet_has_no_findings_and_every_row(name: str) -> None:
    result, ctx, _ = run(DATA / "valid" / name)
    assert table(ctx) == [] and ctx.findings.warnings == []
    assert result.rows == 300
    assert [(c.name, c.type, c.nullable) for c in result.columns] == [
        ("id", "integer", True),
        ("name", "string", True),
        ("price", "number", True),
        ("active", "boolean", True),
        ("day", "date", True),
        ("note", "string", True),
    ]
    assert result.extra["row_groups"] == 3
    assert {"magic", "footer", "row-groups", "page-crc", "values", "row-count"} <= set(ctx.checks)


def test_parquet_is_hashed_in_the_same_run() -> None:
    path = DATA / "valid" / "basic.parquet"
    _, _, source = run(path)
    assert source.hashed
    assert source.sha256_hex() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_truncated_parquet_reports_format_error_at_the_missing_footer() -> None:
    path = DATA / "invalid" / "truncated.parquet"
    result, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "format-error")]
    assert ctx.findings.errors[0].byte_offset == path.stat().st_size - 4
    assert result.rows == 0


@pytest.mark.parametrize("name", ["bad_footer_length.parquet", "corrupt_footer.parquet"])
def test_corrupt_parquet_footer_is_a_format_error(name: str) -> None:
    _, ctx, _ = run(DATA / "invalid" / name)
    assert table(ctx) == [(None, None, None, "format-error")]


def test_flipped_byte_in_a_page_with_crc_is_a_checksum_error_at_its_row_group() -> None:
    result, ctx, _ = run(DATA / "invalid" / "page_crc.parquet")
    assert table(ctx) == [(101, None, None, "checksum-error")]
    assert result.rows == 200  # row groups 0 and 2 are still decoded


def test_invalid_utf8_in_a_string_column_is_an_encoding_error_per_value() -> None:
    _, ctx, _ = run(DATA / "invalid" / "bad_utf8.parquet")
    assert table(ctx) == [(2, None, 1, "encoding-error"), (4, None, 1, "encoding-error")]


def test_empty_parquet_file_is_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    path.write_bytes(b"")
    _, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "empty-file")]


def test_file_without_parquet_magic_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"id,name\n1,a\n")
    _, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "format-error")]


def test_declared_constraints_are_checked_on_every_row() -> None:
    schema = TableSchema.model_validate(
        {
            "columns": [
                {"name": "id", "type": "integer", "unique": True, "maximum": 3},
                {"name": "code", "type": "string", "required": True, "pattern": "[A-Z]{2,3}"},
            ]
        }
    )
    result, ctx, _ = run(DATA / "invalid" / "constraints.parquet", schema=schema)
    assert sorted(table(ctx), key=lambda t: (t[0] or 0, t[2] or 0, t[3])) == [
        (3, None, 1, "unique-error"),
        (3, None, 2, "constraint-error"),
        (4, None, 1, "constraint-error"),
        (4, None, 2, "constraint-error"),
    ]
    assert result.rows == 4
    assert {"schema", "type"} <= set(ctx.checks)


def test_declared_type_that_is_not_the_column_type_is_one_schema_mismatch() -> None:
    schema = TableSchema.model_validate(
        {"columns": [{"name": "id", "type": "integer"}, {"name": "code", "type": "number", "minimum": 0}]}
    )
    _, ctx, _ = run(DATA / "invalid" / "constraints.parquet", schema=schema)
    assert table(ctx) == [(None, None, 2, "schema-mismatch")]


def test_missing_and_extra_columns_against_the_declared_schema() -> None:
    schema = TableSchema.model_validate({"columns": [{"name": "id", "type": "integer"}, {"name": "other"}]})
    _, ctx, _ = run(DATA / "invalid" / "constraints.parquet", schema=schema)
    codes = sorted(f.code.value for f in ctx.findings.errors)
    assert codes == ["extra-label", "missing-label"]


def test_cancellation_stops_parquet_validation() -> None:
    with pytest.raises(Cancelled):
        run(DATA / "valid" / "basic.parquet", is_cancelled=lambda: True)


def test_time_budget_stops_parquet_validation() -> None:
    with pytest.raises(TimeBudgetExceeded):
        run(DATA / "valid" / "basic.parquet", time_budget_s=0)


def test_progress_is_reported_up_to_the_file_size() -> None:
    seen: list[int] = []
    path = DATA / "valid" / "basic.parquet"
    run(path, progress=lambda done, total: seen.append(done))
    assert seen and seen == sorted(seen) and seen[-1] <= path.stat().st_size


VALID = [(DATA / "valid" / "basic.parquet").read_bytes(), (DATA / "valid" / "snappy_no_crc.parquet").read_bytes()]


def mutated() -> st.SearchStrategy[bytes]:
    return mutated_bytes(VALID)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_mutated_parquet_bytes_never_crash_the_validator(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.parquet"
    path.write_bytes(data)
    try:
        run(path, time_budget_s=10)
    except TimeBudgetExceeded:
        pass


def test_parquet_through_the_registry_is_detected_hashed_and_reported() -> None:
    path = DATA / "invalid" / "page_crc.parquet"
    report = validate_path(path, ValidationOptions())
    assert report.format == "parquet" and not report.valid
    assert [(f.row, f.line, f.column, f.code.value) for f in report.errors] == [(101, None, None, "checksum-error")]
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report.rows == 200 and report.extra["row_groups"] == 3


def test_parquet_with_a_wrong_extension_is_still_validated_as_parquet(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes((DATA / "valid" / "basic.parquet").read_bytes())
    report = validate_path(path, ValidationOptions())
    assert report.format == "parquet" and report.valid and report.rows == 300
    assert [f.code.value for f in report.warnings] == ["format-error"]


def test_footer_that_makes_pyarrow_abort_on_column_metadata_is_a_finding_not_a_crash() -> None:
    # Fuzzing found a footer on which pyarrow's ColumnChunkMetaData calls std::terminate; the
    # validator never builds column-chunk metadata, and decoding the row group only raises.
    _, ctx, _ = run(DATA / "invalid" / "fuzz_histogram.parquet")
    assert table(ctx) == [(1, None, None, "format-error")]


# -- dictionary-encoded string columns ------------------------------------------------------
def _two_kinds_of_strings(path: Path, *, bad_row: int | None = None, groups: int = 4, per_group: int = 1000) -> None:
    """``city``: ten values, dictionary-encoded throughout; ``code``: unique per row (the
    writer falls back to plain pages). ``bad_row`` (0-based) gets a city that is not UTF-8."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = groups * per_group
    cities = [f"city-{i % 10}-é".encode() for i in range(n)]
    if bad_row is not None:
        cities[bad_row] = b"\xffbad"
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "city": pa.array(cities, pa.binary()).view(pa.string()),
            "code": pa.array([f"code-{i:08d}-{'x' * 40}" for i in range(n)], pa.string()),
        }
    )
    pq.write_table(table, path, row_group_size=per_group, dictionary_pagesize_limit=4096, write_page_checksum=True)


def test_only_string_columns_dictionary_encoded_throughout_are_read_as_dictionaries(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from dataproduct_mcp.validators.formats.parquet import _dictionary_columns

    path = tmp_path / "two.parquet"
    _two_kinds_of_strings(path)
    assert _dictionary_columns(pq.ParquetFile(path), 0) == ["city"]
    result, ctx, _ = run(path)
    assert table(ctx) == [] and result.rows == 4000
    assert [(c.name, c.type) for c in result.columns] == [("id", "integer"), ("city", "string"), ("code", "string")]


@pytest.mark.parametrize("bad_row", [5, 2_500])  # in the first row group (read plain), in the third (dictionary)
def test_bad_utf8_in_a_dictionary_column_is_found_at_its_row(tmp_path: Path, bad_row: int) -> None:
    path = tmp_path / "bad.parquet"
    _two_kinds_of_strings(path, bad_row=bad_row)
    _, ctx, _ = run(path)
    assert table(ctx) == [(bad_row + 1, None, 2, "encoding-error")]
    assert ctx.findings.errors[0].column_name == "city"


def test_declared_constraints_hold_on_columns_read_as_dictionaries(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    _two_kinds_of_strings(path)
    schema = TableSchema.model_validate(
        {
            "columns": [
                {"name": "id", "type": "integer"},
                {"name": "city", "type": "string", "enum": [f"city-{i}-é" for i in range(9)]},  # not city-9
                {"name": "code", "type": "string"},
            ]
        }
    )
    _, ctx, _ = run(path, schema=schema, max_errors=1_000)
    assert table(ctx) == [(row, None, 2, "constraint-error") for row in range(10, 4001, 10)]
