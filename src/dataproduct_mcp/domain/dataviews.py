"""Results of the data views: ``preview_data`` (the first rows of a source) and ``profile``
(per-column figures over the whole source, streamed).

Values are JSON-safe (:mod:`dataproduct_mcp.readers.cells`): dates and timestamps as ISO 8601
strings, decimals as strings, binary as ``{"$base64": ..., "length": n}``, NaN and infinities as
the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; strings longer than the documented limits
are cut and end with ``…`` (the result says so: ``values_truncated``). Both results are fitted to
the result budget (``DPMCP_MAX_RESULT_BYTES``): rows, top values and then columns are dropped
until the JSON fits, and ``truncated`` says it happened.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "DEFAULT_PREVIEW_ROWS",
    "DEFAULT_PROFILE_MAX_ROWS",
    "DEFAULT_TOP_VALUES",
    "MAX_PREVIEW_COLUMNS",
    "MAX_PREVIEW_ROWS",
    "MAX_PROFILE_COLUMNS",
    "MAX_PROFILE_ROWS",
    "MAX_TOP_VALUES",
    "ColumnProfile",
    "ColumnRef",
    "PreviewResult",
    "ProfileResult",
    "TopValue",
]

DEFAULT_PREVIEW_ROWS = 20
MAX_PREVIEW_ROWS = 500
MAX_PREVIEW_COLUMNS = 1000  # names in one `columns` argument
DEFAULT_PROFILE_MAX_ROWS = 10_000_000
MAX_PROFILE_ROWS = 1_000_000_000
DEFAULT_TOP_VALUES = 5
MAX_TOP_VALUES = 20
MAX_PROFILE_COLUMNS = 100  # profiled at most per call (the first ones, unless `columns` names them)

StopReason = Literal["row-limit", "time-budget"]
DistinctMethod = Literal["exact", "hll"]


class ColumnRef(BaseModel):
    name: str
    type: str = Field(description="The Arrow type, e.g. 'int64', 'string', 'timestamp[us, tz=UTC]'.")


class PreviewResult(BaseModel):
    source: str = Field(description="The path or URI as given.")
    format: str
    columns: list[ColumnRef]
    rows: list[dict[str, Any]] = Field(description="The first rows, one JSON object per row, keys in column order.")
    rows_returned: int
    more_rows: bool = Field(description="True when the source has rows after the ones returned.")
    rows_total: int | None = Field(None, description="Row count when metadata tells it (Parquet, Arrow, Delta).")
    values_truncated: bool = Field(False, description="Some long strings or binary values were cut.")
    truncated: bool = Field(False, description="Rows or columns were dropped to fit the result budget.")


class TopValue(BaseModel):
    value: Any
    count: int = Field(description="Occurrences (a lower bound when top_values_max_error > 0).")


class ColumnProfile(BaseModel):
    name: str
    type: str = Field(description="The Arrow type.")
    count: int = Field(description="Non-null values scanned.")
    nulls: int
    null_fraction: float = Field(description="nulls / rows_scanned (0 when no row was scanned).")
    distinct_estimate: int | None = Field(None, description="Distinct non-null values (null: not computed).")
    distinct_method: DistinctMethod | None = Field(
        None, description="'exact' (counted) or 'hll' (HyperLogLog sketch, Apache DataSketches, lg_k=12)."
    )
    distinct_relative_error: float | None = Field(
        None, description="Half-width of the ~95% confidence interval relative to the estimate (0 when exact)."
    )
    distinct_bounds: list[int] | None = Field(None, description="[lower, upper] ~95% bounds (equal when exact).")
    min: Any = None
    max: Any = None
    mean: float | None = Field(None, description="Integer and floating-point columns only.")
    stddev: float | None = Field(None, description="Population standard deviation; numeric columns only.")
    top_values: list[TopValue] = Field(default_factory=list, description="Most frequent non-null values.")
    top_values_max_error: int = Field(
        0, description="Counts may be under by at most this much (Misra-Gries summary); 0 means exact."
    )
    note: str | None = Field(None, description="Why some figures are missing (e.g. nested types).")


class ProfileResult(BaseModel):
    source: str = Field(description="The path or URI as given.")
    format: str
    columns: list[ColumnProfile]
    columns_total: int = Field(description="Columns of the source (or of `columns` when given).")
    rows_scanned: int
    rows_total: int | None = Field(None, description="Row count when metadata tells it (Parquet, Arrow, Delta).")
    complete: bool = Field(description="True when every row was scanned.")
    reason: StopReason | None = Field(None, description="Why the scan stopped early: row-limit or time-budget.")
    elapsed_ms: float
    values_truncated: bool = Field(False, description="Some long min/max/top values were cut.")
    truncated: bool = Field(False, description="Top values or columns were dropped to fit the result budget.")
