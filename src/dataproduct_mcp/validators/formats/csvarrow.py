"""The CSV validator's fast path: one part of the file through Arrow's CSV reader.

A part becomes a typed table (the column types declared or inferred) or None when Arrow refuses
it; :meth:`~dataproduct_mcp.validators.tabular.TableChecker.batch_is_clean` then decides whether
it is clean. Nothing here reports findings or touches shared state, so the parallel pass of
:mod:`.csv` runs :func:`parse_part` on worker threads.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv

from dataproduct_mcp.domain.schema import ColumnType
from dataproduct_mcp.validators.tabular import TableChecker
from dataproduct_mcp.validators.values import arrow_type_for

__all__ = ["arrow_types", "ends_inside_quotes", "parse_part"]


def arrow_types(checker: TableChecker) -> tuple[list[str], dict[str, pa.DataType]]:
    """Positional column names and the Arrow type each column is converted to."""
    names = [f"c{i}" for i in range(checker.width)]
    types = {
        n: arrow_type_for(c.type or ColumnType.string, tz=c.tz) for n, c in zip(names, checker.columns, strict=True)
    }
    return names, types


def parse_part(
    delimiter: str, names: list[str], types: dict[str, pa.DataType], part: bytes | memoryview
) -> pa.Table | None:
    """``part`` converted to the column types, or None if Arrow refuses it or it ends inside
    a quoted value."""
    try:
        table = pacsv.read_csv(
            pa.py_buffer(part),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=names, block_size=1 << 20),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,  # blank lines become all-null rows: blank-row
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows and ends_inside_quotes(table):
        return None
    return table


def ends_inside_quotes(table: pa.Table) -> bool:
    """A part cut inside a quoted value leaves the newline at the end of the last value."""
    last = table.column(table.num_columns - 1)
    if not pa.types.is_string(last.type):
        return False
    value = last[-1].as_py()
    return isinstance(value, str) and value.endswith(("\n", "\r"))
