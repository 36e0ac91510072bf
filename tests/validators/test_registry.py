"""The registry: format list, detection (content first, extension second, mismatch warnings),
gzip, and the guarantees of validate_path (findings, never crashes)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataproduct_mcp.errors import FileNotFound, UnsupportedFormat
from dataproduct_mcp.validators import registry
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.formats import csv as csv_module
from dataproduct_mcp.validators.registry import FormatInfo, detect, list_formats, validate_path


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def warnings_of(report) -> list[str]:
    return [w.code.value for w in report.warnings]


def test_list_formats_describes_every_text_format_with_its_gzip_variant():
    formats = {f.name: f for f in list_formats()}
    assert {"csv", "tsv", "json", "jsonl"} <= set(formats)
    assert all(isinstance(f, FormatInfo) and f.checks and f.media_types for f in formats.values())
    assert formats["csv"].extensions == ["csv", "csv.gz"]
    assert formats["jsonl"].extensions[:2] == ["jsonl", "ndjson"]
    assert formats["tsv"].media_types[0] == "text/tab-separated-values"
    assert not formats["csv"].binary


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.csv", "id,name\n1,a\n", "csv"),
        ("a.tsv", "id\tname\n1\ta\n", "tsv"),
        ("a.json", '[{"id": 1}]', "json"),
        ("a.jsonl", '{"id": 1}\n{"id": 2}\n', "jsonl"),
        ("a.ndjson", '{"id": 1}\n', "jsonl"),
        ("noext", '{"id": 1}\n{"id": 2}\n', "jsonl"),
        ("noext", '[{"id": 1},\n {"id": 2}]\n', "json"),
        ("noext", "id\tname\n1\ta\n", "tsv"),
        ("noext", "id,name\n1,a\n", "csv"),
    ],
)
def test_detection_agrees_with_content_and_extension_without_warnings(tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    validator, is_gzip, warnings = detect(path, path.read_bytes()[:8192])
    assert (validator.name, is_gzip, warnings) == (expected, False, [])


def test_content_wins_over_a_wrong_extension_with_a_warning(tmp_path):
    report = validate_path(write(tmp_path, "events.csv", '{"id": 1}\n{"id": 2}\n'), ValidationOptions())
    assert report.format == "jsonl" and report.valid
    assert warnings_of(report) == ["format-error"]


def test_binary_magic_wins_over_a_text_extension(tmp_path):
    path = tmp_path / "really.csv"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    validator, _, warnings = detect(path, path.read_bytes()[:8192])
    assert validator.name == "parquet"
    assert [w.code.value for w in warnings] == ["format-error"]


def test_gzip_is_seen_through_by_magic_even_without_the_extension(tmp_path):
    path = write(tmp_path, "data.csv", gzip.compress(b"id,name\n1,a\n2,b\n"))
    report = validate_path(path, ValidationOptions())
    assert report.valid and report.rows == 2 and report.extra["compression"] == "gzip"
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_gz_name_without_gzip_content_is_a_warning(tmp_path):
    report = validate_path(write(tmp_path, "data.csv.gz", "id\n1\n"), ValidationOptions())
    assert report.valid and report.format == "csv" and warnings_of(report) == ["format-error"]


def test_decompression_is_bounded(tmp_path):
    path = write(tmp_path, "bomb.csv.gz", gzip.compress(b"id\n" + b"1\n" * 500_000))
    report = validate_path(path, ValidationOptions(max_uncompressed_bytes=10_000))
    assert [f.code.value for f in report.errors] == ["format-error"]
    assert report.errors[0].byte_offset == 10_000


def test_a_truncated_gzip_stream_is_a_format_error(tmp_path):
    packed = gzip.compress(b"id,name\n" + b"1,a\n" * 10_000)
    report = validate_path(write(tmp_path, "cut.csv.gz", packed[: len(packed) // 2]), ValidationOptions())
    assert "format-error" in [f.code.value for f in report.errors] and not report.valid


def test_gzip_wrapped_binary_formats_are_unsupported(tmp_path):
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1]}), parquet)
    path = write(tmp_path, "t.parquet.gz", gzip.compress(parquet.read_bytes()))
    with pytest.raises(UnsupportedFormat):
        validate_path(path, ValidationOptions())


def test_an_explicit_format_is_used_and_a_content_mismatch_is_a_warning(tmp_path):
    path = write(tmp_path, "data.txt", "id\tname\n1\ta\n")
    report = validate_path(path, ValidationOptions(format="json"))
    assert report.format == "json" and not report.valid
    assert warnings_of(report) == ["format-error"]


def test_unknown_formats_and_unrecognisable_content_are_unsupported(tmp_path):
    path = write(tmp_path, "blob", b"\x00\x01\x02binary\x00")
    with pytest.raises(UnsupportedFormat):
        validate_path(path, ValidationOptions())
    with pytest.raises(UnsupportedFormat):
        validate_path(write(tmp_path, "a.csv", "a\n"), ValidationOptions(format="cobol"))


def test_an_empty_file_is_an_empty_file_error(tmp_path):
    report = validate_path(write(tmp_path, "empty.jsonl", b""), ValidationOptions())
    assert [f.code.value for f in report.errors] == ["empty-file"]
    assert report.format == "jsonl" and report.sha256 == hashlib.sha256(b"").hexdigest()


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFound):
        validate_path(tmp_path / "nope.csv", ValidationOptions())


def test_a_crashing_validator_becomes_a_format_error_finding(tmp_path, monkeypatch):
    def explode(source, ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(csv_module.VALIDATOR, "validate", explode)
    path = write(tmp_path, "a.csv", "id\n1\n")
    report = validate_path(path, ValidationOptions())
    assert [f.code.value for f in report.errors] == ["format-error"] and not report.valid
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_errors_are_capped_at_max_errors_with_the_true_total(tmp_path):
    text = "id,name\n" + "".join(f"{i}\n" for i in range(1, 301))
    report = validate_path(write(tmp_path, "short.csv", text), ValidationOptions(max_errors=7))
    assert len(report.errors) == 7 and report.error_count == 300 and report.truncated


def test_missing_modules_are_skipped_but_broken_imports_are_not():
    assert registry._import("no_such_format_yet") is None
    with pytest.raises(ModuleNotFoundError):
        registry._import("no_such_package.x")


def test_every_validator_takes_its_description_from_the_one_table() -> None:
    from dataproduct_mcp.validators.formats import SPECS

    described = {
        (v.name, v.title, tuple(v.extensions), v.media_type, tuple(v.checks), v.binary) for v in registry.validators()
    }
    assert described == {spec.fields() for spec in SPECS.values()}
    assert [f.name for f in registry.list_formats()] == [v.name for v in registry.validators()]


def test_listing_the_formats_imports_no_implementation() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from dataproduct_mcp.validators import registry; registry.list_formats(); "
        "print(sorted(m for m in sys.modules if m.startswith(('pyarrow', 'dataproduct_mcp.validators.formats.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
