"""Golden files of the text formats: every valid file is clean, every invalid file yields
exactly its table of ``(row, line, column, code)`` errors (a new or lost finding is a
one-line diff). Gzip variants must give the same table as the plain file."""

from __future__ import annotations

import gzip
import hashlib

import pytest
from tests.validators.text_helpers import DATA, table, validate

VALID = sorted(
    p for fmt in ("csv", "tsv", "json", "jsonl") for p in (DATA / fmt / "valid").iterdir() if ".schema." not in p.name
)

EXPECTED: dict[str, list[tuple[int | None, int | None, int | None, str]]] = {
    "csv/invalid/ragged.csv": [
        (2, 3, 3, "missing-cell"),
        (3, 4, 4, "extra-cell"),
        (4, 5, None, "blank-row"),
        (6, 8, None, "blank-row"),  # row 5 spans lines 6-7 (a quoted newline)
    ],
    "csv/invalid/header.csv": [(None, 1, 2, "blank-header"), (None, 1, 4, "duplicate-label")],
    "csv/invalid/encoding.csv": [(1, 2, None, "encoding-error"), (3, 4, None, "encoding-error")],
    "csv/invalid/unclosed_quote.csv": [(2, 3, None, "format-error")],
    "csv/invalid/orders.csv": [
        (2, 3, 1, "unique-error"),
        (2, 3, 2, "constraint-error"),
        (2, 3, 4, "constraint-error"),
        (2, 3, 6, "type-error"),
        (3, 4, 2, "constraint-error"),
        (3, 4, 3, "constraint-error"),
        (3, 4, 4, "type-error"),
        (3, 4, 5, "type-error"),
        (4, 5, 1, "type-error"),
        (4, 5, 3, "constraint-error"),
    ],
    "csv/invalid/reordered.csv": [
        (None, None, None, "missing-label"),
        (None, 1, None, "schema-mismatch"),
        (None, 1, 6, "extra-label"),
    ],
    "tsv/invalid/ragged.tsv": [(1, 2, 3, "missing-cell"), (2, 3, 4, "extra-cell")],
    "json/invalid/records.json": [
        (2, 3, 1, "type-error"),
        (3, 4, 2, "missing-cell"),
        (4, 5, None, "extra-cell"),
        (5, 6, None, "format-error"),
        (6, 7, None, "blank-row"),
    ],
    "json/invalid/syntax.json": [(2, 3, 25, "format-error")],
    "json/invalid/truncated.json": [(2, 1, 21, "format-error")],
    "jsonl/invalid/events.jsonl": [
        (2, 2, None, "blank-row"),
        (3, 3, 20, "format-error"),
        (4, 4, 1, "type-error"),
        (5, 5, None, "encoding-error"),
        (6, 6, None, "format-error"),
        (7, 7, 2, "missing-cell"),
    ],
}


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_valid_golden_file_has_no_findings(path):
    report = validate(path)
    assert table(report) == []
    assert report.valid and report.error_count == 0
    assert report.warnings == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_golden_file_yields_its_table(name):
    report = validate(DATA / name)
    assert table(report) == EXPECTED[name]
    assert not report.valid
    assert report.error_count == len(EXPECTED[name])


@pytest.mark.parametrize(
    "name", ["csv/invalid/ragged.csv", "jsonl/invalid/events.jsonl", "csv/valid/orders.csv", "json/valid/records.json"]
)
def test_gzip_variant_reports_what_the_plain_file_reports(name):
    plain, packed = validate(DATA / name), validate(DATA / f"{name}.gz")
    assert table(packed) == table(plain)
    assert packed.rows == plain.rows and packed.columns == plain.columns
    assert packed.extra["compression"] == "gzip"
    assert packed.sha256 == hashlib.sha256((DATA / f"{name}.gz").read_bytes()).hexdigest()
    assert gzip.decompress((DATA / f"{name}.gz").read_bytes()) == (DATA / name).read_bytes()


def test_report_fields_of_a_valid_csv_are_complete():
    path = DATA / "csv/valid/orders.csv"
    report = validate(path)
    assert report.format == "csv" and report.media_type == "text/csv"
    assert report.bytes == path.stat().st_size
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report.rows == 3
    assert [(c.name, c.type) for c in report.columns] == [
        ("id", "integer"),
        ("customer", "string"),
        ("amount", "number"),
        ("ordered_on", "date"),
        ("created_at", "datetime"),
        ("paid", "boolean"),
    ]
    assert {"encoding", "header", "schema", "constraints", "sha256", "format-detection"} <= set(report.checks)
    assert report.elapsed_ms > 0 and report.truncated is False and report.cached is False


def test_csv_findings_carry_the_byte_offset_of_their_record():
    report = validate(DATA / "csv/invalid/ragged.csv")
    data = (DATA / "csv/invalid/ragged.csv").read_bytes()
    missing = report.errors[0]
    assert data[missing.byte_offset :].startswith(b"2,Bob\n")
    encoding = validate(DATA / "csv/invalid/encoding.csv").errors[0]
    assert (DATA / "csv/invalid/encoding.csv").read_bytes()[encoding.byte_offset] == 0xF6


def test_json_syntax_error_points_at_line_and_character():
    finding = validate(DATA / "json/invalid/syntax.json").errors[0]
    raw = (DATA / "json/invalid/syntax.json").read_bytes()
    assert raw[finding.byte_offset : finding.byte_offset + 1] == b"}"
    assert raw.splitlines()[finding.line - 1][finding.column - 1 : finding.column] == b"}"


def test_json_with_two_documents_is_extra_data_when_json_is_asked_for():
    report = validate(DATA / "json/invalid/trailing.json", format="json")
    assert table(report) == [(None, 2, 1, "format-error")]


def test_json_document_is_valid_but_not_a_table():
    report = validate(DATA / "json/valid/document.json")
    assert report.valid and report.extra["shape"] == "document" and report.columns == []
