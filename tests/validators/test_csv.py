"""CSV validator: the Arrow fast path and the precise path must agree, whatever the chunking;
locations stay exact across chunk boundaries; hostile input is bounded."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.validators.text_helpers import everything, table, validate

from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.validators import textio, unique
from dataproduct_mcp.validators.base import Cancelled
from dataproduct_mcp.validators.formats import csvinfer


def write(tmp_path: Path, data: bytes | str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def numbers(n: int, bad: dict[int, str] | None = None) -> str:
    bad = bad or {}
    return "id,value,label\n" + "".join(f"{i},{bad.get(i, str(i * 7))},name {i}\n" for i in range(1, n + 1))


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(textio, "CHUNK_BYTES", 4096)


def test_one_bad_value_deep_in_an_integer_column_is_a_type_error_not_a_widening(tmp_path, small_chunks):
    report = validate(write(tmp_path, numbers(20_000, {17_321: "n/a"})))
    assert table(report) == [(17_321, 17_322, 2, "type-error")]
    assert report.errors[0].value == "n/a" and report.errors[0].column_name == "value"
    assert [c.type for c in report.columns] == ["integer", "integer", "string"]
    assert report.rows == 20_000
    assert report.extra["precise_chunks"] == 1 and report.extra["fast_chunks"] > 50


def test_integers_that_turn_into_decimals_widen_to_number_without_findings(tmp_path, small_chunks):
    report = validate(write(tmp_path, numbers(5_000, {4_000: "3.5", 4_500: "1e3"})))
    assert table(report) == []
    assert report.columns[1].type == "number"


def test_quoted_newlines_across_chunk_boundaries_keep_rows_and_lines_apart(tmp_path, small_chunks):
    rows = []
    for i in range(1, 3_001):
        note = f'"line one\nline two of {i}"' if i % 3 == 0 else f"note {i}"
        rows.append(f"{i},{note}\n")
    rows[2_499] = "2500,x,surplus\n"  # one long row deep in the file
    text = "id,note\n" + "".join(rows)
    report = validate(write(tmp_path, text))
    line = 1 + 1 + 2499 + 2499 // 3  # header, the rows before, one extra line per quoted note before it
    assert table(report) == [(2_500, line, 3, "extra-cell")]
    assert text.encode()[report.errors[0].byte_offset :].startswith(b"2500,x,surplus\n")
    assert report.rows == 3_000


CELL = st.sampled_from(["1", "22", "-3", "4.5", "", "x", "é", '"a,b"', '"multi\nline"', '"q""q"', "2024-01-02"])
RECORD = st.lists(CELL, min_size=0, max_size=4).map(lambda cells: ",".join(cells))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(RECORD, min_size=1, max_size=80), newline=st.sampled_from(["\n", "\r\n"]))
def test_findings_do_not_depend_on_how_the_file_is_chunked(tmp_path, monkeypatch, records, newline):
    path = write(tmp_path, "a,b,c" + newline + newline.join(records) + newline)
    results = []
    for size in (16, 97, 1 << 20):
        monkeypatch.setattr(textio, "CHUNK_BYTES", size)
        report = validate(path)
        results.append((table(report), report.rows, [c.type for c in report.columns]))
    assert results[0] == results[1] == results[2]


def test_declared_schema_is_checked_on_the_fast_path_and_located_on_the_precise_one(tmp_path, small_chunks):
    schema = TableSchema.model_validate(
        {
            "columns": [
                {"name": "id", "type": "integer", "unique": True, "maximum": 5_000},
                {"name": "value", "type": "integer", "required": True},
                {"name": "label", "type": "string", "pattern": "name [0-9]+", "max_length": 9},
            ]
        }
    )
    text = numbers(6_000, {3_000: ""}).replace("\n4000,", "\n3999,").replace("name 5999", "Name 5999")
    report = validate(write(tmp_path, text), schema=schema)
    expected = [(3_000, 3_001, 2, "constraint-error"), (4_000, 4_001, 1, "unique-error")]
    expected += [(n, n + 1, 1, "constraint-error") for n in range(5_001, 6_001)]
    expected.insert(-1000 + 998, (5_999, 6_000, 3, "constraint-error"))
    assert sorted(table(validate(write(tmp_path, text), schema=schema, max_errors=2_000))) == sorted(expected)
    assert report.error_count == len(expected) and report.truncated and len(report.errors) == 100


def test_unique_check_warns_when_its_memory_cap_is_reached(tmp_path, monkeypatch):
    monkeypatch.setattr(unique, "UNIQUE_CAP", 100)
    schema = TableSchema.model_validate({"columns": [{"name": "id", "type": "integer", "unique": True}]})
    report = validate(write(tmp_path, "id\n" + "".join(f"{i}\n" for i in range(500))), schema=schema)
    assert report.valid
    assert [(w.code.value, w.row) for w in report.warnings] == [("unique-error", 101)]


def test_a_field_longer_than_the_line_limit_is_reported_and_skipped(tmp_path, small_chunks):
    text = "id,blob\n1,a\n2," + "x" * 50_000 + "\n3,c\n4,d,extra\n"
    report = validate(write(tmp_path, text), max_line_bytes=10_000)
    assert table(report) == [(2, 3, None, "format-error"), (4, 5, 3, "extra-cell")]
    assert report.rows == 4


def test_an_unclosed_quote_before_a_huge_tail_stops_within_bounds(tmp_path, small_chunks):
    text = 'id,note\n1,ok\n2,"open\n' + "3,filler text\n" * 5_000
    report = validate(write(tmp_path, text), max_line_bytes=8_000)
    assert table(report) == [(2, 3, None, "format-error")]
    assert report.extra["stopped"] == "record-too-long"


def test_invalid_utf8_is_an_encoding_error_with_its_byte_offset(tmp_path, small_chunks):
    data = numbers(3_000).encode().replace(b"name 2345\n", b"name \xc3\x28345\n")
    report = validate(write(tmp_path, data))
    assert table(report) == [(2_345, 2_346, None, "encoding-error")]
    assert data[report.errors[0].byte_offset : report.errors[0].byte_offset + 2] == b"\xc3\x28"


def test_other_encodings_are_read_only_when_asked(tmp_path):
    path = write(tmp_path, "id,city\n1,Köln\n2,Zürich\n".encode("latin-1"))
    assert [f.code.value for f in validate(path).errors] == ["encoding-error", "encoding-error"]
    report = validate(path, encoding="latin-1")
    assert report.valid and report.rows == 2


def test_a_utf16_file_needs_its_encoding(tmp_path):
    path = write(tmp_path, codecs.BOM_UTF16_LE + "id,city\n1,Köln\n".encode("utf-16-le"))
    assert table(validate(path, format="csv")) == [(None, 1, None, "encoding-error")]
    report = validate(path, format="csv", encoding="utf-16")
    assert report.valid and report.rows == 1 and [c.name for c in report.columns] == ["id", "city"]


def test_a_utf8_bom_is_not_part_of_the_first_label(tmp_path):
    report = validate(write(tmp_path, b"\xef\xbb\xbfid,name\n1,a\n"))
    assert report.valid and report.columns[0].name == "id" and "bom" in report.checks


def test_header_only_file_is_valid_with_no_rows_and_a_blank_file_is_not(tmp_path):
    assert validate(write(tmp_path, "id,name\n")).rows == 0
    blank = validate(write(tmp_path, "\n\n", "blank.csv"))
    assert table(blank) == [(None, 1, 1, "blank-header"), (1, 2, None, "blank-row")]


def test_time_budget_turns_into_a_finding_with_a_partial_report(tmp_path):
    report = validate(write(tmp_path, numbers(2_000)), time_budget_s=0)
    assert [f.code.value for f in report.errors] == ["format-error"]
    assert report.extra["stopped"] == "time-budget"


def test_cancellation_propagates_out_of_validation(tmp_path):
    from dataproduct_mcp.validators.base import ValidationOptions
    from dataproduct_mcp.validators.registry import validate_path

    with pytest.raises(Cancelled):
        validate_path(write(tmp_path, numbers(100)), ValidationOptions(), is_cancelled=lambda: True)


def test_progress_reaches_the_file_size(tmp_path, small_chunks):
    from dataproduct_mcp.validators.base import ValidationOptions
    from dataproduct_mcp.validators.registry import validate_path

    path = write(tmp_path, numbers(5_000))
    seen: list[tuple[int, int]] = []
    validate_path(path, ValidationOptions(), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_an_open_quote_before_an_overlong_line_stops_instead_of_looping(tmp_path, small_chunks):
    text = 'id,note\n1,"open\n' + "x" * 20_000 + '\nmore",2\n3,4\n'
    report = validate(write(tmp_path, text), max_line_bytes=4096, time_budget_s=5)
    assert table(report) == [(1, 2, None, "format-error")]
    assert report.extra["stopped"] == "record-too-long"


PIECE = st.sampled_from(["a", "1", ",", '"', "\n", "\r\n", "x" * 700, "é"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(PIECE, min_size=1, max_size=40))
def test_quotes_and_long_lines_in_any_order_always_finish(tmp_path, monkeypatch, pieces):
    monkeypatch.setattr(textio, "CHUNK_BYTES", 512)
    path = write(tmp_path, "a,b\n" + "".join(pieces))
    report = validate(path, max_line_bytes=1000, time_budget_s=5)
    assert report.extra.get("stopped") != "time-budget"
    assert report.rows <= path.read_bytes().count(b"\n") + 1


def test_a_bad_byte_in_a_record_carried_across_parts_is_reported_once(tmp_path, monkeypatch):
    monkeypatch.setattr(textio, "CHUNK_BYTES", 16)
    path = write(tmp_path, b"a,b,c\n" + b"\n" * 6 + b'1,1,1\n\xff,"\n\n')
    report = validate(path)
    assert [(f.row, f.line, f.code.value) for f in report.errors if f.code.value != "blank-row"] == [
        (8, 9, "encoding-error"),
        (8, 9, "format-error"),
    ]


# -- parsing parts on several threads -----------------------------------------------------
DEFECT = st.sampled_from(
    [
        "7,7\n",  # ragged: a missing cell
        "8,8,eight,extra\n",  # ragged: an extra cell
        "\n",  # blank row
        "9,n/a,nine\n",  # type error in an integer column
        '10,10,"two\nlines, quoted"\n',  # a quoted newline (may be cut by a part boundary)
        "11,11,caf\xe9\n",  # non-ASCII, valid
        "12,12," + "y" * 300 + "\n",  # longer than max_line_bytes below
        "13,13,\x00\n",  # a NUL inside a value
        "3,3,three\n",  # a duplicate id
    ]
)


def _mostly_clean(n: int, defects: list[tuple[int, str]], newline: str) -> bytes:
    rows = [f"{i},{i * 7},name {i}\n" for i in range(1, n + 1)]
    for at, defect in sorted(defects, reverse=True):
        rows.insert(at % (n + 1), defect)
    text = "id,value,label\n" + "".join(rows)
    return text.replace("\n", newline).encode("utf-8", "surrogateescape")


UNIQUE_IDS = TableSchema.model_validate(
    {
        "columns": [
            {"name": "id", "type": "integer", "unique": True},
            {"name": "value", "type": "integer", "maximum": 5_000},
            {"name": "label", "type": "string", "max_length": 12},
        ]
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(min_value=0, max_value=900),
    defects=st.lists(st.tuples(st.integers(min_value=0, max_value=900), DEFECT), max_size=6),
    newline=st.sampled_from(["\n", "\r\n"]),
    chunk=st.sampled_from([16, 97, 1024, 4096]),
    threads=st.sampled_from([2, 3]),
    declared=st.booleans(),
)
def test_parallel_parsing_finds_exactly_what_one_thread_finds(
    tmp_path, monkeypatch, n, defects, newline, chunk, threads, declared
):
    # a small sample: the chunk loop (and so the parallel pass) starts after a few lines
    monkeypatch.setattr(csvinfer, "SAMPLE_BYTES", 256)
    monkeypatch.setattr(textio, "CHUNK_BYTES", chunk)
    path = write(tmp_path, _mostly_clean(n, defects, newline))
    schema = UNIQUE_IDS if declared else None
    one = validate(path, schema=schema, threads=1, max_line_bytes=200, max_errors=1_000)
    many = validate(path, schema=schema, threads=threads, max_line_bytes=200, max_errors=1_000)
    assert everything(many) == everything(one)


def test_clean_parts_are_parsed_in_parallel_and_a_defect_deep_in_the_file_keeps_its_location(tmp_path, monkeypatch):
    monkeypatch.setattr(csvinfer, "SAMPLE_BYTES", 4096)
    monkeypatch.setattr(textio, "CHUNK_BYTES", 8192)
    text = numbers(30_000, {21_000: "oops"})
    path = write(tmp_path, text)
    one = validate(path, threads=1)
    two = validate(path, threads=2)
    assert table(two) == table(one) == [(21_000, 21_001, 2, "type-error")]
    assert text.encode()[two.errors[0].byte_offset :].startswith(b"21000,oops,")
    # the parallel pass took the clean parts (half a chunk each), before and after the defect
    assert two.extra["precise_chunks"] == 1
    assert two.extra["fast_chunks"] > 1.5 * one.extra["fast_chunks"]


def test_a_parallel_validation_stopped_midway_leaves_no_thread_behind(tmp_path, monkeypatch):
    import threading

    from dataproduct_mcp.validators.base import ValidationOptions
    from dataproduct_mcp.validators.registry import validate_path

    monkeypatch.setattr(textio, "CHUNK_BYTES", 8192)
    path = write(tmp_path, numbers(200_000))  # about 4 MB: far more than the sample
    polls = 0

    def cancelled() -> bool:
        nonlocal polls
        polls += 1
        return polls > 40

    with pytest.raises(Cancelled):
        validate_path(path, ValidationOptions(threads=3), is_cancelled=cancelled)
    assert polls > 40
    assert not [t for t in threading.enumerate() if t.name.startswith("dpmcp-parse")]


@pytest.mark.parametrize("kind", ["gzip", "latin-1"])
def test_parallel_parts_of_gzip_and_transcoded_text_find_what_one_thread_finds(tmp_path, monkeypatch, kind):
    import gzip

    monkeypatch.setattr(csvinfer, "SAMPLE_BYTES", 2048)
    monkeypatch.setattr(textio, "CHUNK_BYTES", 8192)
    text = numbers(20_000, {12_000: "oops"}).replace("\n15000,105000,name 15000\n", "\n15000,1\n")
    if kind == "gzip":
        path = write(tmp_path, gzip.compress(text.encode()), "data.csv.gz")
        options = {}
    else:
        path = write(tmp_path, text.replace("name 7", "nämé 7").encode("latin-1"))
        options = {"encoding": "latin-1"}
    one = validate(path, threads=1, **options)
    three = validate(path, threads=3, **options)
    assert table(three) == table(one) == [(12_000, 12_001, 2, "type-error"), (15_000, 15_001, 3, "missing-cell")]
    assert (three.rows, three.sha256) == (one.rows, one.sha256) == (20_000, one.sha256)
    assert three.extra["fast_chunks"] > one.extra["fast_chunks"]
