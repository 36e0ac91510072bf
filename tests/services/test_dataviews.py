"""The data views' parts without the MCP layer: the time budget, the Misra-Gries summary's
error bound, JSON-safe cells, and the fitting to a result budget."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dataproduct_mcp.domain.dataviews import ColumnProfile, ProfileResult, TopValue
from dataproduct_mcp.readers.cells import Cells
from dataproduct_mcp.readers.profiling import MisraGries
from dataproduct_mcp.services.dataviews import PROFILE_BATCH_ROWS, DataViewService, fit_profile
from dataproduct_mcp.services.files import PathPolicy

pytestmark = pytest.mark.anyio


class StepClock:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


async def test_profile_stops_at_the_time_budget_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": pa.array(range(3 * PROFILE_BATCH_ROWS), pa.int64())}), path)
    service = DataViewService(PathPolicy([tmp_path]), time_budget_s=1.5, clock=StepClock())
    out = await service.profile(str(path))
    assert not out.complete and out.reason == "time-budget"
    assert 0 < out.rows_scanned < 3 * PROFILE_BATCH_ROWS and out.rows_scanned % PROFILE_BATCH_ROWS == 0


def test_misra_gries_counts_are_lower_bounds_within_the_reported_error() -> None:
    rng = random.Random(7)
    values = [int(rng.paretovariate(1.2)) for _ in range(200_000)]
    summary = MisraGries(size=64)
    for start in range(0, len(values), 10_000):
        vc = pc.value_counts(pa.array(values[start : start + 10_000]))
        summary.add_counts(vc.field("values"), vc.field("counts"))
    truth = Counter(values)
    assert summary.max_error > 0 and len(summary.counts) <= 64
    for value, count in summary.top(20):
        assert truth[value] - summary.max_error <= count <= truth[value]
    assert summary.max_error <= len(values) / 65
    heavy = [v for v, c in truth.items() if c > summary.max_error]
    assert all(v in summary.counts for v in heavy)  # every value above the error is kept


def test_cells_are_json_safe_and_cut_long_values() -> None:
    cells = Cells(10)
    assert cells.value(float("nan")) == "NaN" and cells.value(float("-inf")) == "-Infinity"
    assert cells.value(Decimal("1.10")) == "1.10" and cells.value(dt.timedelta(seconds=1, microseconds=5)) == (
        "PT1.000005S"
    )
    assert not cells.truncated
    assert cells.value("y" * 11) == "y" * 10 + "…" and cells.truncated
    ts = pa.array([1_700_000_000_123_456_789], pa.timestamp("ns", tz="UTC"))
    assert Cells(50).column(ts) == ["2023-11-14T22:13:20.123456789+00:00"]
    assert Cells(50).column(pa.array([5_500], pa.duration("ms"))) == ["PT5.5S"]
    assert Cells(50).column(pa.array(["a", "b"]).dictionary_encode()) == ["a", "b"]


def test_fit_profile_drops_top_values_then_columns_and_never_exceeds() -> None:
    columns = [
        ColumnProfile(
            name=f"c{i}",
            type="string",
            count=1,
            nulls=0,
            null_fraction=0.0,
            top_values=[TopValue(value="v" * 150, count=1) for _ in range(20)],
        )
        for i in range(30)
    ]
    result = ProfileResult(
        source="x", format="csv", columns=columns, columns_total=30, rows_scanned=1, complete=True, elapsed_ms=1.0
    )
    for budget in (100_000, 20_000, 3_000, 400):
        fitted = fit_profile(result, budget)
        assert len(fitted.model_dump_json()) <= budget
        assert fitted.truncated == (len(result.model_dump_json()) > budget)
