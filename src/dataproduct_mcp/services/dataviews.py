"""Data views: the first rows of any source (``preview_data``) and per-column figures over all of
it (``profile``), within the result budget.

A source is anything ``validate_file`` accepts that has a batch reader: one local file, a
directory, a glob, an ``s3://`` object or prefix, Hive partitions, a Delta table (``@v<N>``) of
Parquet, Arrow/Feather, CSV, TSV, JSON Lines or JSON arrays (gzip too), Avro or xlsx (the first
sheet). It is opened once, through the path policy, by
:meth:`~dataproduct_mcp.services.files.PathPolicy.open_source` — the reader ``open_stream`` uses — and
read in a worker thread:

- preview reads ``rows + 1`` rows (to tell ``more_rows``) and closes the reader;
- profile streams every batch through :mod:`dataproduct_mcp.readers.profiling` until the end, ``max_rows`` rows
  (``reason: row-limit``) or the time budget (``DPMCP_VALIDATION_TIME_BUDGET_SECONDS``,
  ``reason: time-budget``); a cancelled call stops its thread at the next batch.

Both results are fitted to ``DPMCP_MAX_RESULT_BYTES`` (less the envelope's 2 KiB, as validation
reports are): preview halves its rows, then its columns; profile halves every column's top
values, then the columns; ``truncated`` says so. A read failure mid-way is ``unsupported-format``
(a local file) or the mapped storage error; nothing is cached.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import anyio

from dataproduct_mcp.domain.dataviews import (
    DEFAULT_PREVIEW_ROWS,
    DEFAULT_PROFILE_MAX_ROWS,
    DEFAULT_TOP_VALUES,
    MAX_PREVIEW_COLUMNS,
    MAX_PREVIEW_ROWS,
    MAX_PROFILE_COLUMNS,
    MAX_PROFILE_ROWS,
    MAX_TOP_VALUES,
    ColumnRef,
    PreviewResult,
    ProfileResult,
    StopReason,
)
from dataproduct_mcp.errors import DpError, FileNotFound, InvalidArgument, UnsupportedFormat
from dataproduct_mcp.services.files import PathPolicy
from dataproduct_mcp.services.validation import codec_name

if TYPE_CHECKING:
    import pyarrow as pa

    from dataproduct_mcp.readers.source import SourceInfo

__all__ = ["PROFILE_BATCH_ROWS", "DataViewService", "fit_preview", "fit_profile"]

PROFILE_BATCH_ROWS = 64 * 1024
ENVELOPE_BYTES = 2048  # what the tool result adds around the model's JSON (as for validation reports)
MESSAGE_CHARS = 300


def _size(model: PreviewResult | ProfileResult) -> int:
    return len(model.model_dump_json())


def fit_preview(result: PreviewResult, budget: int) -> PreviewResult:
    """Halve the rows, then the columns, until the JSON fits ``budget`` bytes."""
    if _size(result) <= budget:
        return result
    rows = result.rows
    while rows and _size(result.model_copy(update={"rows": rows})) > budget:
        rows = rows[: len(rows) // 2]
    fitted = result.model_copy(update={"rows": rows, "rows_returned": len(rows), "truncated": True, "more_rows": True})
    columns = fitted.columns
    while columns and _size(fitted) > budget:
        columns = columns[: len(columns) // 2]
        names = [c.name for c in columns]
        fitted = fitted.model_copy(update={"columns": columns, "rows": [{n: r[n] for n in names} for r in rows]})
    return fitted


def fit_profile(result: ProfileResult, budget: int) -> ProfileResult:
    """Halve every column's top values, then the columns, until the JSON fits ``budget`` bytes."""
    if _size(result) <= budget:
        return result
    columns = result.columns
    keep = max((len(c.top_values) for c in columns), default=0)
    fitted = result
    while keep and _size(fitted) > budget:
        keep //= 2
        columns = [c.model_copy(update={"top_values": c.top_values[:keep]}) for c in columns]
        fitted = result.model_copy(update={"columns": columns, "truncated": True})
    while columns and _size(fitted) > budget:
        columns = columns[: len(columns) // 2]
        fitted = result.model_copy(update={"columns": columns, "truncated": True})
    return fitted


def _read_error(info: SourceInfo, exc: BaseException) -> DpError:
    import pyarrow as pa

    name = info.path.name or str(info.path)
    # Arrow reports corrupt content as ArrowException or as an OSError without an errno
    if isinstance(exc, pa.ArrowException | ValueError) or (isinstance(exc, OSError) and exc.errno is None):
        return UnsupportedFormat(f"cannot read {name} as {info.format}: {exc}"[:MESSAGE_CHARS], format=info.format)
    return FileNotFound(f"cannot read {name}: {exc}"[:MESSAGE_CHARS])


def _batches(info: SourceInfo, batch_rows: int) -> Generator[pa.RecordBatch, None, None]:
    """The source's batches; a read failure becomes the caller-facing error (storage errors of a
    dataset are mapped already)."""
    import pyarrow as pa

    from dataproduct_mcp.readers.source import iter_rows

    rows = iter_rows(info, batch_rows, 0)
    try:
        while True:
            try:
                _, batch = next(rows)
            except StopIteration:
                return
            except DpError:
                raise
            except (pa.ArrowException, ValueError, OSError) as exc:
                raise _read_error(info, exc) from exc
            yield batch
    finally:
        rows.close()


class DataViewService:
    def __init__(
        self,
        policy: PathPolicy,
        *,
        max_result_bytes: int = 64 * 1024,
        time_budget_s: float = 600.0,
        concurrency: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.max_result_bytes = max_result_bytes
        self.time_budget_s = time_budget_s
        self.clock = clock
        self._limiter = anyio.CapacityLimiter(concurrency or max(1, os.cpu_count() or 1))

    @property
    def budget(self) -> int:
        return self.max_result_bytes - ENVELOPE_BYTES

    @staticmethod
    def _columns(columns: list[str] | None, limit: int) -> list[str] | None:
        if columns is None:
            return None
        if not 1 <= len(columns) <= limit:
            raise InvalidArgument(f"columns must list 1 to {limit} names", field="columns")
        return columns

    def _open(self, path: str, format: str | None, columns: list[str] | None, encoding: str) -> SourceInfo:

        return self.policy.open_source(path, format, columns, encoding)

    async def _run(self, work: Callable[[threading.Event], Any]) -> Any:
        abandoned = threading.Event()
        try:
            return await anyio.to_thread.run_sync(
                lambda: work(abandoned), abandon_on_cancel=True, limiter=self._limiter
            )
        except anyio.get_cancelled_exc_class():
            abandoned.set()  # the worker stops at its next batch
            raise

    async def preview(
        self,
        path: str,
        *,
        rows: int = DEFAULT_PREVIEW_ROWS,
        columns: list[str] | None = None,
        format: str | None = None,
        encoding: str = "utf-8",
    ) -> PreviewResult:
        """The first ``rows`` rows of any source, JSON-safe, fitted to the result budget."""
        if not 1 <= rows <= MAX_PREVIEW_ROWS:
            raise InvalidArgument(f"rows must be between 1 and {MAX_PREVIEW_ROWS}", field="rows")
        selected = self._columns(columns, MAX_PREVIEW_COLUMNS)
        codec = codec_name(encoding)

        def work(_: threading.Event) -> PreviewResult:
            from dataproduct_mcp.readers.cells import PREVIEW_CHARS, Cells

            info = self._open(path, format, selected, codec)
            batches = _batches(info, rows + 1)
            try:
                first = next(batches, None)
            finally:
                batches.close()  # the reader is closed: nothing past the first rows is read
            cells = Cells(PREVIEW_CHARS)
            names = info.schema.names
            out_rows: list[dict[str, Any]] = []
            more = False
            if first is not None:
                more = first.num_rows > rows
                head = first.slice(0, rows)
                values = [cells.column(head.column(i)) for i in range(head.num_columns)]
                out_rows = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
            return PreviewResult(
                source=path,
                format=info.format,
                columns=[ColumnRef(name=f.name, type=str(f.type)) for f in info.schema],
                rows=out_rows,
                rows_returned=len(out_rows),
                more_rows=more,
                rows_total=info.rows_total,
                values_truncated=cells.truncated,
            )

        return fit_preview(await self._run(work), self.budget)

    async def profile(
        self,
        path: str,
        *,
        columns: list[str] | None = None,
        max_rows: int = DEFAULT_PROFILE_MAX_ROWS,
        top: int = DEFAULT_TOP_VALUES,
        format: str | None = None,
        encoding: str = "utf-8",
    ) -> ProfileResult:
        """Per-column figures over the whole source (or its first ``max_rows`` rows, or what the
        time budget allows), in bounded memory, fitted to the result budget."""
        if not 1 <= max_rows <= MAX_PROFILE_ROWS:
            raise InvalidArgument(f"max_rows must be between 1 and {MAX_PROFILE_ROWS}", field="max_rows")
        if not 0 <= top <= MAX_TOP_VALUES:
            raise InvalidArgument(f"top must be between 0 and {MAX_TOP_VALUES}", field="top")
        selected = self._columns(columns, MAX_PROFILE_COLUMNS)
        codec = codec_name(encoding)

        def work(abandoned: threading.Event) -> ProfileResult:
            return self._profile(path, selected, max_rows, top, format, codec, abandoned)

        return fit_profile(await self._run(work), self.budget)

    def _profile(
        self,
        path: str,
        columns: list[str] | None,
        max_rows: int,
        top: int,
        format: str | None,
        encoding: str,
        abandoned: threading.Event,
    ) -> ProfileResult:
        from dataproduct_mcp.readers.cells import PROFILE_CHARS, Cells
        from dataproduct_mcp.readers.profiling import ColumnProfiler

        started = self.clock()
        info = self._open(path, format, columns, encoding)
        columns_total = len(info.schema)
        if columns_total > MAX_PROFILE_COLUMNS:  # the first ones; `columns` picks others
            info = self._open(path, format, info.schema.names[:MAX_PROFILE_COLUMNS], encoding)
        profilers = [ColumnProfiler(f) for f in info.schema]
        scanned = 0
        reason: StopReason | None = None
        batches = _batches(info, PROFILE_BATCH_ROWS)
        try:
            for batch in batches:
                if abandoned.is_set():
                    break
                if scanned >= max_rows:
                    reason = "row-limit"
                    break
                if self.clock() - started > self.time_budget_s:
                    reason = "time-budget"
                    break
                if scanned + batch.num_rows > max_rows:
                    batch = batch.slice(0, max_rows - scanned)
                    reason = "row-limit"  # rows were left in this batch
                for i, profiler in enumerate(profilers):
                    profiler.update(batch.column(i))
                scanned += batch.num_rows
                if reason is not None:
                    break
        finally:
            batches.close()
        cells = Cells(PROFILE_CHARS)
        return ProfileResult(
            source=path,
            format=info.format,
            columns=[p.result(scanned, top, cells) for p in profilers],
            columns_total=columns_total,
            rows_scanned=scanned,
            rows_total=info.rows_total,
            complete=reason is None,
            reason=reason,
            elapsed_ms=round((self.clock() - started) * 1000, 3),
            values_truncated=cells.truncated,
            truncated=len(profilers) < columns_total,
        )
