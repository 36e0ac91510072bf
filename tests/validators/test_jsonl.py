"""JSON Lines: the Arrow fast path must report exactly what the line-by-line path reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.validators.text_helpers import everything, validate

from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.validators import textio
from dataproduct_mcp.validators.formats import jsonl, jsonrecords


def record(i: int) -> str:
    return json.dumps(
        {"id": i, "amount": i * 1.5, "name": f"nämé {i}", "ok": i % 2 == 0, "day": f"2024-01-{i % 28 + 1:02d}"},
        ensure_ascii=False,
    )


DEFECT = st.sampled_from(
    [
        '{"id": 1, "amount": 1.5, "name": "x", "ok": true}',  # a missing key
        '{"id": 1, "amount": 1.5, "name": "x", "ok": true, "day": "2024-01-01", "extra": 1}',  # an unknown key
        '{"id": 1, "amount": null, "name": "x", "ok": true, "day": "2024-01-01"}',  # an explicit null
        '{"id": 1.0, "amount": 1.5, "name": "x", "ok": true, "day": "2024-01-01"}',  # a decimal integer
        '{"id": true, "amount": 1.5, "name": "x", "ok": true, "day": "2024-01-01"}',  # a boolean integer
        '{"id": "7", "amount": 1.5, "name": "x", "ok": true, "day": "2024-01-01"}',  # a quoted integer
        '{"id": 1, "amount": 2, "name": 5, "ok": true, "day": "2024-01-01"}',  # a number for a string
        '{"id": 1, "amount": NaN, "name": "x", "ok": 1, "day": "2024-01-01"}',  # NaN, a numeric boolean
        '{"id": 1, "amount": 1.5, "name": "x", "ok": true, "day": "2024-02-30"}',  # no such date
        '{"id": 1, "amount": 1.5, "name": "x", "ok": true, "day": " 2024-01-01"}',  # a padded date
        '{"id": 1, "id": 2, "amount": 1.5, "name": "x", "ok": true, "day": "2024-01-01"}',  # a repeated key
        '{"id": 99999999999999999999, "amount": 1, "name": "x", "ok": false, "day": "2024-01-01"}',  # > int64
        '{"id": 1, "amount": 1.5, "name": {"a": 1}, "ok": true, "day": "2024-01-01"}',  # a nested value
        '{"id": 1, "amount": 1.5, "name": "x", "ok": true, "day": "2024-01-01"}{"id": 2}',  # two on one line
        '{"id": 01, "amount": 1.5, "name": "x", "ok": true, "day": "2024-01-01"}',  # a leading zero
        '{"id": 1, "amount": 1.5, "name": "tab\there", "ok": true, "day": "2024-01-01"}',  # a raw control char
        '{"id": 1, "amount": 1.5, "name": "\\ud800", "ok": true, "day": "2024-01-01"}',  # a lone surrogate
        '{"id": 1, "amount": 1.5, "name": "bad \udcff", "ok": true, "day": "2024-01-01"}',  # not UTF-8 (0xff)
        "[1, 2, 3]",  # not an object
        "",  # a blank line
        "   ",  # a whitespace line
        '{"id": 1, "amount": 1.5, "name": "x", "ok": true, "day": "2024-01-01"',  # unterminated
        '{"id": 5, "amount": 1.5, "name": "dup", "ok": true, "day": "2024-01-01"}',  # a duplicate id
        '{"id": 1, "amount": 9999.5, "name": "' + "y" * 300 + '", "ok": true, "day": "2024-01-01"}',  # long
    ]
)

UNIQUE = TableSchema.model_validate(
    {
        "columns": [
            {"name": "id", "type": "integer", "unique": True},
            {"name": "amount", "type": "number", "maximum": 5000},
            {"name": "name", "type": "string", "max_length": 12},
            {"name": "ok", "type": "boolean"},
            {"name": "day", "type": "date"},
        ]
    }
)


def _file(tmp_path: Path, n: int, defects: list[tuple[int, str]], bad_byte: int | None, newline: str) -> Path:
    lines = [record(i) for i in range(1, n + 1)]
    for at, defect in sorted(defects, reverse=True):
        lines.insert(at % (n + 1), defect)
    data = (newline.join(lines) + newline).encode("utf-8", "surrogateescape")
    if bad_byte is not None and data:  # a byte that is not UTF-8, somewhere in the file
        at = bad_byte % len(data)
        data = data[:at] + b"\xff" + data[at + 1 :]
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    return path


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(min_value=0, max_value=400),
    defects=st.lists(st.tuples(st.integers(min_value=0, max_value=400), DEFECT), max_size=5),
    bad_byte=st.none() | st.integers(min_value=0, max_value=10**6),
    newline=st.sampled_from(["\n", "\r\n"]),
    chunk=st.sampled_from([64, 997, 8192]),
    declared=st.booleans(),
)
def test_the_fast_path_reports_exactly_what_the_line_by_line_path_reports(
    tmp_path, monkeypatch, n, defects, bad_byte, newline, chunk, declared
):
    monkeypatch.setattr(jsonrecords, "SAMPLE_RECORDS", 3)  # the fast path starts after three records
    monkeypatch.setattr(textio, "CHUNK_BYTES", chunk)
    path = _file(tmp_path, n, defects, bad_byte, newline)
    schema = UNIQUE if declared else None
    monkeypatch.setattr(jsonl, "FAST_PATH", True)  # set in every example: monkeypatch outlives them
    fast = validate(path, schema=schema, max_line_bytes=200, max_errors=1_000)
    monkeypatch.setattr(jsonl, "FAST_PATH", False)
    slow = validate(path, schema=schema, max_line_bytes=200, max_errors=1_000)
    assert everything(fast) == everything(slow)


def test_clean_chunks_take_the_fast_path_and_a_defect_keeps_its_location(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(textio, "CHUNK_BYTES", 16 * 1024)
    lines = [record(i) for i in range(1, 20_001)]
    lines[14_999] = lines[14_999].replace('"ok": true', '"ok": "yes"')  # record 15,000
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    calls = {"clean": 0}
    real = jsonl._FastPath.clean

    def counting(self: Any, *args: Any) -> bool:
        result = real(self, *args)
        calls["clean"] += result
        return result

    monkeypatch.setattr(jsonl._FastPath, "clean", counting)
    report = validate(path)
    found = [(e.row, e.line, e.column_name, e.code.value) for e in report.errors]
    assert found == [(15_000, 15_000, "ok", "type-error")]
    offset = report.errors[0].byte_offset
    assert path.read_bytes()[offset:].startswith(lines[14_999].encode())
    assert report.rows == 20_000
    assert calls["clean"] > 50  # most chunks were clean


@pytest.mark.parametrize("extra", ['"at": "2024-01-01T10:00:00Z"', '"tags": ["a"]'])
def test_datetime_or_nested_columns_keep_the_line_by_line_path(tmp_path, monkeypatch, extra: str) -> None:
    monkeypatch.setattr(jsonrecords, "SAMPLE_RECORDS", 3)
    path = tmp_path / "d.jsonl"
    path.write_text("".join(f'{{"id": {i}, {extra}}}\n' for i in range(50)), encoding="utf-8")
    monkeypatch.setattr(jsonl._FastPath, "clean", lambda *a: pytest.fail("fast path used"))
    report = validate(path)
    assert report.valid and report.rows == 50
