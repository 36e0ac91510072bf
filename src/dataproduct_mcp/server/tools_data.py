"""Data view tools: preview_data and profile (services/dataviews.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.dataviews import (
    DEFAULT_PREVIEW_ROWS,
    DEFAULT_PROFILE_MAX_ROWS,
    DEFAULT_TOP_VALUES,
    MAX_PREVIEW_COLUMNS,
    MAX_PREVIEW_ROWS,
    MAX_PROFILE_COLUMNS,
    MAX_PROFILE_ROWS,
    MAX_TOP_VALUES,
    PreviewResult,
    ProfileResult,
)
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations

PATH_DESCRIPTION = (
    "A file inside the allowed roots (absolute, or relative to the first root), or a dataset: a directory, "
    "a glob ('data/**/*.parquet'), an s3://bucket/key object or prefix, Hive partitions, or a Delta table "
    "(add @v<N> for a version). Example: 'data/orders.parquet'."
)
FORMAT_DESCRIPTION = "Force a format: parquet, arrow, csv, tsv, jsonl, json, avro or xlsx; detected if omitted."
ENCODING_DESCRIPTION = (
    "Text encoding of CSV, TSV, JSON Lines and JSON, e.g. 'latin-1' or 'utf-16'; transcoded to UTF-8 as it is read."
)


def register(server: DataProductServer, app: Application) -> None:
    @server.tool(annotations=tool_annotations("Preview data", read_only=True, idempotent=True))
    async def preview_data(
        path: Annotated[str, Field(description=PATH_DESCRIPTION, max_length=4096)],
        rows: Annotated[
            int, Field(ge=1, le=MAX_PREVIEW_ROWS, description=f"Rows to return, 1 to {MAX_PREVIEW_ROWS}.")
        ] = DEFAULT_PREVIEW_ROWS,
        columns: Annotated[
            list[str] | None,
            Field(
                min_length=1,
                max_length=MAX_PREVIEW_COLUMNS,
                description="Columns to return, in this order (all if omitted). Example: ['id', 'amount'].",
            ),
        ] = None,
        format: Annotated[str | None, Field(description=FORMAT_DESCRIPTION, max_length=32)] = None,
        encoding: Annotated[str, Field(description=ENCODING_DESCRIPTION, min_length=1, max_length=40)] = "utf-8",
    ) -> PreviewResult:
        """The first rows of a data source — Parquet, Arrow/Feather, CSV, TSV, JSON Lines, a JSON array of
        objects (text formats gzip too), Avro, or the first sheet of an xlsx workbook; one file or a dataset
        (directory, glob, s3:// prefix, Hive partitions, Delta table) — as JSON objects.
        Reads only those rows and stops. Default 20 rows, at most 500. Values are JSON-safe: dates and
        timestamps as ISO 8601 strings, decimals as strings, binary as {"$base64", "length"}, NaN as "NaN";
        strings over 1000 characters are cut and end with "…" (values_truncated=true). The result fits the
        result budget: rows (then columns) are dropped if needed and truncated=true says so. more_rows tells
        whether the source goes on; rows_total is given when metadata knows it (Parquet, Arrow, Avro, Delta).
        Example: {"path": "data/orders.parquet", "rows": 5, "columns": ["id", "amount"]}."""
        return await app.dataviews.preview(path, rows=rows, columns=columns, format=format, encoding=encoding)

    @server.tool(annotations=tool_annotations("Profile data", read_only=True, idempotent=True))
    async def profile(
        path: Annotated[str, Field(description=PATH_DESCRIPTION, max_length=4096)],
        columns: Annotated[
            list[str] | None,
            Field(
                min_length=1,
                max_length=MAX_PROFILE_COLUMNS,
                description=f"Columns to profile (the first {MAX_PROFILE_COLUMNS} if omitted). Example: ['amount'].",
            ),
        ] = None,
        max_rows: Annotated[
            int,
            Field(
                ge=1,
                le=MAX_PROFILE_ROWS,
                description="Stop after this many rows (complete=false, reason='row-limit'). Default 10 million.",
            ),
        ] = DEFAULT_PROFILE_MAX_ROWS,
        top: Annotated[
            int, Field(ge=0, le=MAX_TOP_VALUES, description=f"Most frequent values per column, 0 to {MAX_TOP_VALUES}.")
        ] = DEFAULT_TOP_VALUES,
        format: Annotated[str | None, Field(description=FORMAT_DESCRIPTION, max_length=32)] = None,
        encoding: Annotated[str, Field(description=ENCODING_DESCRIPTION, min_length=1, max_length=40)] = "utf-8",
    ) -> ProfileResult:
        """Per-column figures of a data source (same sources and formats as preview_data), streamed in
        bounded memory: count, nulls, null_fraction, min, max, mean and stddev (numeric columns), a distinct
        estimate (exact up to 16,384 values, then a HyperLogLog sketch: distinct_method 'hll', ~95% bounds
        in distinct_bounds, about ±3%) and the `top` most frequent values (Misra-Gries summary: counts are
        lower bounds, under by at most top_values_max_error, 0 = exact). Stops at max_rows rows or the
        validation time budget: complete=false with reason 'row-limit' or 'time-budget'. The result fits the
        result budget (top values, then columns dropped; truncated=true).
        Example: {"path": "data/orders.parquet", "columns": ["amount", "country"], "top": 5}."""
        return await app.dataviews.profile(
            path, columns=columns, max_rows=max_rows, top=top, format=format, encoding=encoding
        )
