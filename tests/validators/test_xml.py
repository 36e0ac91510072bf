"""XML validator: well-formedness positions, refused entities (billion laughs, XXE), hostile bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.validators.binary_helpers import run_validator, table

from dataproduct_mcp.domain.validation import Report
from dataproduct_mcp.validators.base import (
    Cancelled,
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
    ValidationOptions,
)
from dataproduct_mcp.validators.formats.xml import VALIDATOR
from dataproduct_mcp.validators.registry import validate_path

DATA = Path(__file__).resolve().parents[1] / "data" / "xml"


def run(path: Path, **options: Any) -> tuple[FormatResult, ValidationContext, Source]:
    return run_validator(VALIDATOR, path, **options)


def test_record_xml_counts_records_and_their_fields() -> None:
    path = DATA / "valid" / "records.xml"
    result, ctx, source = run(path)
    assert table(ctx) == [] and ctx.findings.warnings == []
    assert result.rows == 50
    assert [(c.name, c.nullable) for c in result.columns] == [("@id", False), ("name", False), ("price", False)]
    assert result.extra["root"] == "items" and result.extra["record_tag"] == "item"
    assert {"well-formed", "entities-refused"} <= set(ctx.checks)
    assert source.hashed and source.sha256_hex() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_document_xml_is_valid_with_its_children_as_records() -> None:
    result, ctx, _ = run(DATA / "valid" / "document.xml")
    assert table(ctx) == []
    assert result.rows == 1 and result.extra["root"] == "doc"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mismatched.xml", [(None, 4, 19, "format-error")]),
        ("unclosed.xml", [(None, 4, 1, "format-error")]),
        ("bad_utf8.xml", [(None, 2, 7, "encoding-error")]),
        ("empty.xml", [(None, None, None, "empty-file")]),
    ],
)
def test_malformed_xml_is_reported_at_its_line_and_column(
    name: str, expected: list[tuple[int | None, int | None, int | None, str]]
) -> None:
    _, ctx, _ = run(DATA / "invalid" / name)
    assert table(ctx) == expected


def test_billion_laughs_is_refused_not_expanded() -> None:
    result, ctx, _ = run(DATA / "invalid" / "billion_laughs.xml")
    assert table(ctx) == [(None, 3, 15, "format-error")]
    assert "entity" in ctx.findings.errors[0].message
    assert result.rows == 0


def _report(result: FormatResult, ctx: ValidationContext) -> str:
    return Report(
        valid=False,
        path="x",
        format="xml",
        media_type="application/xml",
        bytes=0,
        sha256="",
        rows=result.rows,
        columns=result.columns,
        errors=ctx.findings.errors,
        warnings=ctx.findings.warnings,
        extra=result.extra,
    ).model_dump_json()


@pytest.mark.parametrize("where", ["content", "attribute"])
def test_external_entity_is_refused_and_its_target_never_read(tmp_path: Path, where: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT-4711")
    body = "<r>&xxe;</r>" if where == "content" else '<r a="&xxe;"/>'
    path = tmp_path / "xxe.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY xxe SYSTEM "{secret.as_uri()}">\n]>\n{body}\n')
    result, ctx, _ = run(path)
    assert [code for *_, code in table(ctx)] == ["format-error"]
    assert ctx.findings.errors[0].line == 3
    assert "TOP-SECRET-CONTENT-4711" not in _report(result, ctx)


def test_parameter_entity_and_external_dtd_are_never_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "evil.dtd"
    secret.write_text('<!ENTITY leak "TOP-SECRET-DTD">')
    path = tmp_path / "p.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "{secret.as_uri()}">\n<r>x</r>\n')
    result, ctx, _ = run(path)
    assert table(ctx) == []
    assert [(f.line, f.code.value) for f in ctx.findings.warnings] == [(2, "format-error")]
    assert "TOP-SECRET-DTD" not in _report(result, ctx)


def test_a_token_larger_than_the_line_limit_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_text('<r><a v="' + "x" * 300_000 + '"/></r>')
    _, ctx, _ = run(path, max_line_bytes=100_000)
    assert [code for *_, code in table(ctx)] == ["format-error"]


def test_utf16_xml_with_bom_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "u16.xml"
    path.write_bytes('<?xml version="1.0" encoding="UTF-16"?><r><i>é</i><i>ü</i></r>'.encode("utf-16"))
    result, ctx, _ = run(path)
    assert table(ctx) == [] and result.rows == 2


def test_sniff_tells_xml_from_html_and_csv() -> None:
    assert VALIDATOR.sniff(b'<?xml version="1.0"?><a/>')
    assert VALIDATOR.sniff(b"\xef\xbb\xbf<root/>")
    assert not VALIDATOR.sniff(b"<!DOCTYPE html><html></html>")
    assert not VALIDATOR.sniff(b"a,b\n1,2\n")


def test_cancellation_stops_xml_validation(tmp_path: Path) -> None:
    path = tmp_path / "long.xml"
    path.write_text("<r>" + "<i>x</i>" * 20_000 + "</r>")
    with pytest.raises(Cancelled):
        run(path, is_cancelled=lambda: True)


def test_time_budget_stops_xml_validation(tmp_path: Path) -> None:
    path = tmp_path / "long.xml"
    path.write_text("<r>" + "<i>x</i>" * 20_000 + "</r>")
    with pytest.raises(TimeBudgetExceeded):
        run(path, time_budget_s=0)


VALID = [(DATA / "valid" / "records.xml").read_bytes(), (DATA / "invalid" / "billion_laughs.xml").read_bytes()]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.sampled_from(b"<>/!?&;\"'=[]x \xff\x00"))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_mutated_xml_bytes_never_crash_the_validator(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.xml"
    path.write_bytes(data)
    try:
        run(path, time_budget_s=10)
    except TimeBudgetExceeded:
        pass


def test_xml_through_the_registry_is_detected_and_hashed() -> None:
    path = DATA / "valid" / "records.xml"
    report = validate_path(path, ValidationOptions())
    assert (report.format, report.valid, report.rows) == ("xml", True, 50)
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_gzip_xml_is_validated_through_a_bounded_decompressor(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "records.xml.gz"
    path.write_bytes(gzip.compress((DATA / "valid" / "records.xml").read_bytes()))
    report = validate_path(path, ValidationOptions())
    assert (report.format, report.valid, report.rows) == ("xml", True, 50)
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    small = validate_path(path, ValidationOptions(max_uncompressed_bytes=1000))
    assert not small.valid and [f.code.value for f in small.errors] == ["format-error"]


def test_billion_laughs_through_the_registry_is_invalid_not_expanded() -> None:
    report = validate_path(DATA / "invalid" / "billion_laughs.xml", ValidationOptions())
    assert report.format == "xml" and not report.valid
    assert [(f.line, f.code.value) for f in report.errors] == [(3, "format-error")]


def test_unknown_declared_encoding_is_an_encoding_error(tmp_path: Path) -> None:
    path = tmp_path / "enc.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="UTF-Z"?>\n<r/>\n')
    _, ctx, _ = run(path)
    assert [code for *_, code in table(ctx)] == ["encoding-error"]
