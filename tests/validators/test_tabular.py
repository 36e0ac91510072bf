"""The shared tabular checks: the Python converters (precise path) agree with Arrow's CSV
converters (fast path), inference tolerates only a few outliers, Arrow batches are checked."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dataproduct_mcp.domain.schema import ColumnType, TableSchema
from dataproduct_mcp.validators.base import FindingCollector, ValidationContext, ValidationOptions
from dataproduct_mcp.validators.tabular import TableChecker
from dataproduct_mcp.validators.values import arrow_type_for, infer_text_type, parse_text

TEXT = st.text(alphabet="0123456789+-.eExXaAfFinNtTrRuUlsS :Z", min_size=1, max_size=12)


def arrow_accepts(value: str, ctype: ColumnType) -> bool:
    data = b"v\n" + value.encode() + b"\n"
    try:
        pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(quote_char=False),
            convert_options=pacsv.ConvertOptions(column_types={"v": arrow_type_for(ctype)}, null_values=[]),
        )
    except pa.ArrowInvalid:
        return False
    return True


@pytest.mark.parametrize("ctype", [ColumnType.integer, ColumnType.number, ColumnType.boolean, ColumnType.date])
@settings(max_examples=300, deadline=None)
@given(value=TEXT)
@example(value="0x1F")
@example(value=" 12 ")
@example(value="+1")
@example(value="1e5")
@example(value="-inf")
@example(value="2024-02-30")
def test_python_converters_accept_exactly_what_arrow_accepts(ctype, value):
    assert parse_text(value, ctype)[0] == arrow_accepts(value, ctype)


@pytest.mark.parametrize(
    "value",
    ["2024-01-02", "2024-01-02 03:04", "2024-01-02T03:04:05", "2024-01-02 03:04:05.123456", "2024-13-01", "x"],
)
def test_datetime_converter_agrees_with_arrow_on_common_forms(value):
    assert parse_text(value, ColumnType.datetime)[0] == arrow_accepts(value, ColumnType.datetime)


def test_inference_keeps_a_type_despite_one_outlier_but_not_a_coin_toss():
    assert infer_text_type(["1", "2", "x"]) is ColumnType.integer
    assert infer_text_type(["1", "x"]) is ColumnType.string
    assert infer_text_type(["1", "2.5", "3"]) is ColumnType.number
    assert infer_text_type([str(i) for i in range(100)] + ["a", "b"]) is ColumnType.integer
    assert infer_text_type([str(i) for i in range(20)] + ["a", "b", "c"]) is ColumnType.string
    assert infer_text_type(["", None, ""]) is ColumnType.string


def make_checker(schema: dict) -> tuple[TableChecker, ValidationContext]:
    ctx = ValidationContext(options=ValidationOptions(), findings=FindingCollector())
    parsed = TableSchema.model_validate(schema)
    return TableChecker(ctx, [c.name for c in parsed.columns], parsed, header_line=None), ctx


def test_check_batch_reports_constraint_errors_by_row_for_typed_formats():
    checker, ctx = make_checker(
        {
            "columns": [
                {"name": "id", "type": "integer", "unique": True, "minimum": 1},
                {"name": "name", "type": "string", "required": True, "enum": ["a", "b"]},
            ]
        }
    )
    clean = pa.record_batch({"id": [1, 2], "name": ["a", "b"]})
    checker.check_batch(clean, 1)
    assert ctx.findings.errors == []
    dirty = pa.record_batch({"id": [3, 2, 0], "name": ["c", None, "a"]})
    checker.check_batch(dirty, 3)
    got = [(f.row, f.column, f.code.value) for f in ctx.findings.errors]
    assert got == [
        (3, 2, "constraint-error"),
        (4, 1, "unique-error"),
        (4, 2, "constraint-error"),
        (5, 1, "constraint-error"),
    ]
    assert [c.nullable for c in checker.column_infos()] == [False, True]


def test_a_regex_that_re2_cannot_compile_is_still_checked():
    checker, ctx = make_checker({"columns": [{"name": "code", "pattern": r"(?=[A-Z])\w+"}]})
    checker.check_batch(pa.record_batch({"code": ["Abc", "abc"]}), 1)
    assert [(f.row, f.code.value) for f in ctx.findings.errors] == [(2, "constraint-error")]
