"""Mutated bytes of valid text files: validate_path never raises, stays within its time
budget, and every finding it reports has a sane location."""

from __future__ import annotations

import gzip
import tempfile
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.validators.text_helpers import DATA, schema_for

from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.registry import validate_path

SEEDS = {
    "csv": DATA / "csv/valid/orders.csv",
    "tsv": DATA / "tsv/valid/cities.tsv",
    "json": DATA / "json/valid/records.json",
    "jsonl": DATA / "jsonl/valid/events.jsonl",
}
NASTY = [b'"', b",", b"\t", b"\n", b"\r", b"\x00", b"\xff", b"\xc3", b"{", b"[", b"]", b"}", b"\\", b"\xef\xbb\xbf"]

mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "truncate"]),
    st.integers(min_value=0, max_value=10_000),
    st.one_of(st.sampled_from(NASTY), st.binary(min_size=1, max_size=4)),
)


def mutate(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, at, piece in edits:
        at = at % (len(out) + 1)
        if kind == "insert":
            out[at:at] = piece
        elif kind == "delete":
            del out[at : at + len(piece)]
        elif kind == "replace":
            out[at : at + len(piece)] = piece
        else:
            del out[at:]
    return bytes(out)


@settings(max_examples=150, deadline=None)
@given(
    fmt=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(mutation, min_size=1, max_size=6),
    packed=st.booleans(),
    with_schema=st.booleans(),
)
def test_mutated_text_files_never_crash_and_locate_findings_sanely(fmt, edits, packed, with_schema):
    seed = SEEDS[fmt]
    data = mutate(seed.read_bytes(), edits)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (seed.name + (".gz" if packed else ""))
        path.write_bytes(gzip.compress(data, mtime=0) if packed else data)
        options = ValidationOptions(
            format=fmt, schema=schema_for(seed) if with_schema else None, time_budget_s=5, max_line_bytes=4096
        )
        started = time.monotonic()
        report = validate_path(path, options)
        assert time.monotonic() - started < 10
    assert report.error_count >= len(report.errors)
    assert report.valid == (report.error_count == 0)
    assert report.bytes == path_size(data, packed)
    for finding in report.errors + report.warnings:
        assert finding.row is None or finding.row >= 1
        assert finding.line is None or finding.line >= 1
        assert finding.column is None or finding.column >= 1
        assert finding.byte_offset is None or 0 <= finding.byte_offset <= len(data)


def path_size(data: bytes, packed: bool) -> int:
    return len(gzip.compress(data, mtime=0)) if packed else len(data)


@settings(max_examples=150, deadline=None)
@given(
    fmt=st.sampled_from(["json", "jsonl"]),
    edits=st.lists(mutation, min_size=0, max_size=3),
)
def test_json_findings_do_not_depend_on_the_read_size(fmt, edits):
    from dataproduct_mcp.validators import textio

    data = mutate(SEEDS[fmt].read_bytes(), edits)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / SEEDS[fmt].name
        path.write_bytes(data)
        for size in (7, 64, 1 << 20):
            textio.CHUNK_BYTES = size
            try:
                report = validate_path(path, ValidationOptions(format=fmt, time_budget_s=5))
            finally:
                textio.CHUNK_BYTES = 4 << 20
            results.append(
                ([(f.row, f.line, f.column, f.code.value, f.byte_offset) for f in report.errors], report.rows)
            )
    assert results[0] == results[1] == results[2]
