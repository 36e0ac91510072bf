"""xlsx validator: golden samples, zip-bomb guard, declared schemas, hostile bytes."""

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
from dataproduct_mcp.validators.formats.xlsx import VALIDATOR
from dataproduct_mcp.validators.registry import validate_path

DATA = Path(__file__).resolve().parents[1] / "data" / "xlsx"


def run(path: Path, **options: Any) -> tuple[FormatResult, ValidationContext, Source]:
    return run_validator(VALIDATOR, path, **options)


def test_valid_workbook_has_no_findings_and_reports_every_sheet() -> None:
    path = DATA / "valid" / "table.xlsx"
    result, ctx, source = run(path)
    assert table(ctx) == []
    assert result.rows == 40
    assert [(c.name, c.type) for c in result.columns] == [
        ("id", "integer"),
        ("name", "string"),
        ("price", "number"),
        ("day", "date"),
    ]
    sheets = result.extra["sheets"]
    assert [s["name"] for s in sheets] == ["data", "notes"]
    assert sheets[0]["rows"] == 40 and sheets[1]["non_blank_rows"] == 2
    assert {"zip", "zip-bomb", "crc", "workbook", "header", "cells", "type"} <= set(ctx.checks)
    assert source.hashed and source.sha256_hex() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_sniff_knows_an_xlsx_from_its_first_bytes() -> None:
    assert VALIDATOR.sniff((DATA / "valid" / "table.xlsx").read_bytes()[:8192])
    assert not VALIDATOR.sniff(b"PK\x03\x04" + b"\x00" * 26 + b"hello.txt")


def test_messy_sheet_reports_header_type_blank_row_and_extra_cell_findings() -> None:
    result, ctx, _ = run(DATA / "invalid" / "messy.xlsx")
    assert table(ctx) == [
        (None, 1, 3, "blank-header"),
        (None, 1, 4, "duplicate-label"),
        (10, 11, 1, "type-error"),
        (31, 32, None, "blank-row"),
        (32, 33, 5, "extra-cell"),
    ]
    assert result.rows == 32  # the trailing blank row is formatting, not a record


def test_declared_schema_is_checked_on_sheet_rows() -> None:
    schema = TableSchema.model_validate(
        {
            "columns": [
                {"name": "id", "type": "integer", "maximum": 38},
                {"name": "name", "type": "string", "pattern": "name-[0-9]"},
                {"name": "price", "type": "number"},
                {"name": "day", "type": "date"},
            ]
        }
    )
    _, ctx, _ = run(DATA / "valid" / "table.xlsx", schema=schema)
    expected = [(r, r + 1, 2, "constraint-error") for r in range(10, 41)]
    expected += [(39, 40, 1, "constraint-error"), (40, 41, 1, "constraint-error")]
    assert sorted(table(ctx)) == sorted(expected)


def test_declared_column_missing_from_the_sheet_is_a_missing_label() -> None:
    schema = TableSchema.model_validate(
        {
            "columns": [
                {"name": "id", "type": "integer"},
                {"name": "name"},
                {"name": "price", "type": "number"},
                {"name": "day", "type": "date"},
                {"name": "qty", "type": "integer"},
            ]
        }
    )
    _, ctx, _ = run(DATA / "valid" / "table.xlsx", schema=schema)
    assert [(f.code.value, f.column_name) for f in ctx.findings.errors] == [("missing-label", "qty")]


def test_uncompressed_size_over_the_limit_is_refused_before_opening() -> None:
    result, ctx, _ = run(DATA / "valid" / "table.xlsx", max_uncompressed_bytes=10_000)
    assert table(ctx) == [(None, None, None, "format-error")]
    assert "workbook" not in ctx.checks and result.rows == 0


def test_member_with_a_bomb_compression_ratio_is_refused() -> None:
    _, ctx, _ = run(DATA / "invalid" / "bomb.xlsx")
    assert table(ctx) == [(None, None, None, "format-error")]
    assert ctx.findings.errors[0].value == "xl/media/zeros.bin"


@pytest.mark.parametrize("name", ["truncated.xlsx", "not_workbook.xlsx"])
def test_corrupt_zip_or_zip_without_a_workbook_is_a_format_error(name: str) -> None:
    _, ctx, _ = run(DATA / "invalid" / name)
    assert table(ctx) == [(None, None, None, "format-error")]


def test_flipped_byte_in_a_member_is_a_crc_format_error(tmp_path: Path) -> None:
    data = bytearray((DATA / "valid" / "table.xlsx").read_bytes())
    start = data.index(b"xl/worksheets/sheet1.xml") + len(b"xl/worksheets/sheet1.xml")
    data[start + 40] ^= 0x55
    path = tmp_path / "flipped.xlsx"
    path.write_bytes(bytes(data))
    _, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "format-error")]


def test_empty_xlsx_is_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    path.write_bytes(b"")
    _, ctx, _ = run(path)
    assert table(ctx) == [(None, None, None, "empty-file")]


def test_cancellation_stops_xlsx_validation() -> None:
    with pytest.raises(Cancelled):
        run(DATA / "valid" / "table.xlsx", is_cancelled=lambda: True)


def test_time_budget_stops_xlsx_validation() -> None:
    with pytest.raises(TimeBudgetExceeded):
        run(DATA / "valid" / "table.xlsx", time_budget_s=0)


VALID = [(DATA / "valid" / "table.xlsx").read_bytes(), (DATA / "invalid" / "messy.xlsx").read_bytes()]


def mutated() -> st.SearchStrategy[bytes]:
    return mutated_bytes(VALID)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_mutated_xlsx_bytes_never_crash_the_validator(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.xlsx"
    path.write_bytes(data)
    try:
        run(path, time_budget_s=10)
    except TimeBudgetExceeded:
        pass


def _members(data: bytes) -> dict[str, bytes]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


MEMBERS = _members(VALID[0])
XML_PARTS = sorted(n for n in MEMBERS if n.endswith(".xml") or n.endswith(".rels"))


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(part=st.sampled_from(XML_PARTS), data=st.data())
def test_mutated_xml_parts_inside_a_sound_zip_never_crash_the_validator(
    part: str, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import zipfile

    content = bytearray(MEMBERS[part])
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(content) - 1))
        content[i] = data.draw(st.sampled_from(b"<>/\"'=&;x0 \xff"))
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content)))]
    path = tmp_path_factory.mktemp("fuzz") / "f.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in MEMBERS.items():
            zf.writestr(name, bytes(content) if name == part else body)
    try:
        run(path, time_budget_s=10)
    except TimeBudgetExceeded:
        pass


def test_xlsx_through_the_registry_is_detected_and_reports_sheets() -> None:
    path = DATA / "invalid" / "messy.xlsx"
    report = validate_path(path, ValidationOptions())
    assert report.format == "xlsx" and not report.valid and report.rows == 32
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report.extra["sheets"][0]["name"] == "data"


def test_xlsx_zip_bomb_guard_through_the_registry_uses_the_option() -> None:
    report = validate_path(DATA / "valid" / "table.xlsx", ValidationOptions(max_uncompressed_bytes=10_000))
    assert not report.valid and [f.code.value for f in report.errors] == ["format-error"]
