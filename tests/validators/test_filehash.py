"""A sha256 computed ahead by the caller (what the CLI does while it imports) gives the report the
validator would have made, for every way a format reads its file; a hash that no longer matches
the file's size is not used."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tests.validators.text_helpers import DATA, everything, schema_for

from dataproduct_mcp.errors import FileNotFound
from dataproduct_mcp.validators.base import Source, ValidationOptions
from dataproduct_mcp.validators.filehash import FileHash
from dataproduct_mcp.validators.registry import validate_path

# A background-hashing text format, gzip, a binary format read by path, one read through the
# source's stream (Avro), one with findings, and an empty file.
SAMPLES = [
    "csv/valid/orders.csv",
    "csv/valid/orders.csv.gz",
    "csv/invalid/ragged.csv",
    "jsonl/valid/events.jsonl",
    "parquet/valid/basic.parquet",
    "avro/valid/deflate.avro",
    "xml/valid/records.xml",
]


@pytest.mark.parametrize("name", SAMPLES)
def test_a_hash_computed_ahead_gives_the_same_report(name: str) -> None:
    path = DATA / name
    options = ValidationOptions(schema=schema_for(path) if path.suffix == ".csv" else None)
    plain = validate_path(path, options)
    ahead = validate_path(path, options, sha256_ahead=FileHash(path))
    assert everything(ahead) == everything(plain)
    assert ahead.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_empty_file_hashed_ahead_has_the_empty_digest(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    report = validate_path(path, ValidationOptions(), sha256_ahead=FileHash(path))
    assert report.sha256 == hashlib.sha256(b"").hexdigest()
    assert [f.code.value for f in report.errors] == ["empty-file"]


def test_a_hash_of_other_bytes_than_the_validated_file_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "grows.csv"
    path.write_text("id,name\n1,a\n", encoding="utf-8")
    early = FileHash(path)
    assert early.result() is not None  # hashed the short file
    path.write_text("id,name\n1,a\n2,b\n", encoding="utf-8")  # then the file changes
    report = validate_path(path, ValidationOptions(), sha256_ahead=early)
    assert report.rows == 2
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_that_cannot_be_read_yields_no_digest_and_the_validation_says_so(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    missing = FileHash(path)
    assert missing.result() is None
    with pytest.raises(FileNotFound):
        validate_path(path, ValidationOptions(), sha256_ahead=missing)


def test_a_source_hashed_ahead_is_read_without_hashing_again() -> None:
    path = DATA / "avro/valid/deflate.avro"
    hashed_here = Source(path, path.stat().st_size)
    with hashed_here.open() as stream:
        stream.read()
    assert hashed_here.hashed and hashed_here.bytes_read == path.stat().st_size
    ahead = Source(path, path.stat().st_size, sha256_ahead=FileHash(path))
    with ahead.open() as stream:
        assert stream.read() == path.read_bytes()
    assert not ahead.hashed and ahead.bytes_read == 0
