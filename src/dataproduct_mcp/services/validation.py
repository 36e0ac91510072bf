"""File validation use case: path policy → cache → validator registry (in a worker thread) → report.

A source that is not one local file (a directory, glob, ``s3://`` object or prefix, Delta table)
is listed first and validated into one report (:mod:`dataproduct_mcp.validators.dataset`); its
cache key is the listing's identity (every file's path, size and mtime) with the options, and it
is re-listed afterwards: a report is cached only if nothing changed meanwhile, and not while an
object is younger than the mtime resolution of object storage allows to tell apart (``racy``).

The cache is an LRU bounded in bytes (``DPMCP_CACHE_MAX_BYTES``), keyed by tenant, real path,
size, modification time and options, so a changed file is never served stale; a file that
changes while it is being validated is not cached. Concurrent identical requests share one
run. Validations run in worker threads, at most one per CPU at a time.

A data contract (ODCS text, or a parsed :class:`~dataproduct_mcp.contracts.DataContract`) takes
the place of ``schema``: its schema object is the declared schema, its quality rules are counted
in the same pass and evaluated afterwards (:mod:`.validation_contract`).
"""

from __future__ import annotations

import codecs
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from cachetools import LRUCache
from pydantic import ValidationError

from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.domain.tasks import Task
from dataproduct_mcp.domain.validation import DEFAULT_MAX_ERRORS, MAX_ERRORS_LIMIT, Report
from dataproduct_mcp.errors import DpError, InvalidArgument
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.services.files import PathPolicy
from dataproduct_mcp.services.products import invalid_argument_from
from dataproduct_mcp.services.tasks import TaskService
from dataproduct_mcp.services.validation_contract import ContractRequest, apply_contract, prepare_contract
from dataproduct_mcp.validators import registry
from dataproduct_mcp.validators.base import DISTINCT_CAP, ValidationOptions
from dataproduct_mcp.validators.dataset import validate_file_of, validate_listing
from dataproduct_mcp.validators.registry import FormatInfo

if TYPE_CHECKING:
    from dataproduct_mcp.contracts import DataContract

__all__ = ["VALIDATE_FILE", "CacheStats", "ReportCache", "ValidationService", "codec_name"]

log = get_logger(__name__)

VALIDATE_FILE = "validate-file"  # the task kind of background validations (services/task_kinds.py)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    entries: int = 0
    bytes: int = 0
    max_bytes: int = 0


class _CountingLRU(LRUCache[Any, Report]):
    def __init__(self, maxsize: int, getsizeof: Callable[[Report], int]) -> None:
        super().__init__(maxsize=maxsize, getsizeof=getsizeof)
        self.evictions = 0

    def popitem(self) -> tuple[Any, Report]:
        item = super().popitem()
        self.evictions += 1
        return item


class ReportCache:
    """Validation reports by key, bounded in bytes (the size of each report's JSON)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._sizes: dict[int, int] = {}
        self._lru = _CountingLRU(maxsize=max(1, max_bytes), getsizeof=self._size_of)
        self.hits = 0
        self.misses = 0

    def _size_of(self, report: Report) -> int:
        return self._sizes.get(id(report)) or len(report.model_dump_json())

    def get(self, key: Any) -> Report | None:
        if self.max_bytes == 0:
            self.misses += 1
            return None
        report = self._lru.get(key)
        if report is None:
            self.misses += 1
        else:
            self.hits += 1
        return report

    def put(self, key: Any, report: Report) -> None:
        size = len(report.model_dump_json())
        if self.max_bytes == 0 or size > self.max_bytes:
            return  # too big for the cache: not an error, just not cached
        self._sizes[id(report)] = size
        self._lru[key] = report
        live = {id(v) for v in self._lru.values()}
        if len(self._sizes) > 2 * len(live) + 16:
            self._sizes = {k: v for k, v in self._sizes.items() if k in live}

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self.hits,
            misses=self.misses,
            evictions=self._lru.evictions,
            entries=len(self._lru),
            bytes=int(self._lru.currsize) if self.max_bytes else 0,
            max_bytes=self.max_bytes,
        )


def codec_name(encoding: str) -> str:
    """The codec's canonical name (``latin-1`` -> ``iso8859-1``); an unknown one is ``invalid-argument``."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidArgument(
            f"unknown encoding {encoding!r}",
            field="encoding",
            suggestion="Use a Python codec name such as 'utf-8', 'latin-1', 'cp1252' or 'utf-16'.",
        ) from None


def fit_report(report: Report, budget: int) -> Report:
    """Cap the findings so the report's JSON stays within ``budget`` bytes (error_count stays true)."""
    if len(report.model_dump_json()) <= budget:
        return report
    errors, warnings = list(report.errors), list(report.warnings)
    while (errors or warnings) and len(
        report.model_copy(update={"errors": errors, "warnings": warnings}).model_dump_json()
    ) > budget:
        if len(errors) >= len(warnings):
            errors = errors[: len(errors) // 2]
        else:
            warnings = warnings[: len(warnings) // 2]
    fitted = report.model_copy(
        update={
            "errors": errors,
            "warnings": warnings,
            "truncated": report.truncated or len(errors) < report.error_count,
        }
    )
    files = fitted.extra.get("files")
    while isinstance(files, list) and files and len(fitted.model_dump_json()) > budget:
        files = files[: len(files) // 2]  # a dataset's per-file summary is the next to shrink
        fitted = fitted.model_copy(update={"extra": {**fitted.extra, "files": files, "files_truncated": True}})
    return fitted


class ValidationService:
    def __init__(
        self,
        policy: PathPolicy,
        cache: ReportCache,
        tasks: TaskService,
        *,
        max_result_bytes: int = 64 * 1024,
        time_budget_s: float = 600.0,
        concurrency: int | None = None,
        parallel_files: int = 4,
        distinct_cap: int = DISTINCT_CAP,
        observer: Callable[[Report, float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.cache = cache
        self.tasks = tasks  # background validations are durable tasks (kind validate-file)
        self.max_result_bytes = max_result_bytes
        self.time_budget_s = time_budget_s
        self.parallel_files = parallel_files  # files of one dataset validated at once
        self.distinct_cap = distinct_cap  # distinct values held per duplicateValues count of a contract
        self.clock = clock  # wall time, against object storage's LastModified (Listing.racy)
        self._limiter = anyio.CapacityLimiter(concurrency or max(1, os.cpu_count() or 1))
        self._inflight: dict[Any, anyio.Event] = {}
        self.observer = observer  # (report, seconds) of every validation that ran: the metrics

    async def submit(
        self,
        tenant: str,
        path: str,
        *,
        format: str | None = None,
        schema: Any = None,
        max_errors: int = DEFAULT_MAX_ERRORS,
        encoding: str = "utf-8",
        contract: str | bytes | DataContract | None = None,
        contract_table: str | None = None,
    ) -> Task:
        """Queue a background validation (a durable task whose result is the report). The path and
        options (the contract too) are checked now, so a bad request fails at once rather than in the task."""
        request = await self._contract(schema, contract, contract_table)
        self.options(format=format, schema=schema, max_errors=max_errors, encoding=encoding, contract=request)
        if self.policy.is_local_file(path):
            await anyio.to_thread.run_sync(self.policy.identify, path)
        else:  # a directory, glob, object, prefix or table: refused or missing now, not in the task
            await anyio.to_thread.run_sync(lambda: self.policy.listing(path, format=format))
        params = {"path": path, "format": format, "schema": schema, "max_errors": max_errors, "encoding": encoding}
        if request is not None:
            params |= {"contract": request.text, "contract_table": contract_table}
        return await self.tasks.submit(tenant, VALIDATE_FILE, params)

    @staticmethod
    async def _contract(
        schema: Any, contract: str | bytes | DataContract | None, table: str | None
    ) -> ContractRequest | None:
        if contract is None:
            if table is not None:
                raise InvalidArgument("contract_table needs a contract", field="contract_table")
            return None
        if schema is not None:
            raise InvalidArgument(
                "give a schema or a contract, not both",
                field="contract",
                suggestion="Leave out schema: the contract's schema object is the declared schema.",
            )
        return await anyio.to_thread.run_sync(prepare_contract, contract, table)

    @staticmethod
    def list_formats() -> list[FormatInfo]:
        return registry.list_formats()

    def options(
        self,
        *,
        format: str | None,
        schema: Any,
        max_errors: int,
        encoding: str = "utf-8",
        contract: ContractRequest | None = None,
    ) -> ValidationOptions:
        if not 1 <= max_errors <= MAX_ERRORS_LIMIT:
            raise InvalidArgument(f"max_errors must be between 1 and {MAX_ERRORS_LIMIT}", field="max_errors")
        if format is not None:
            known = {f.name for f in registry.list_formats()}
            if format not in known:
                raise InvalidArgument(
                    f"unknown format {format!r}", field="format", suggestion=f"Use one of: {', '.join(sorted(known))}."
                )
        parsed: TableSchema | None = None
        if schema is not None:
            try:
                parsed = schema if isinstance(schema, TableSchema) else TableSchema.model_validate(schema)
            except ValidationError as exc:
                raise invalid_argument_from(exc, "schema") from exc
        encoding = codec_name(encoding)
        if contract is not None:
            parsed = contract.checks.schema_
        return ValidationOptions(
            format=format,
            schema=parsed,
            max_errors=max_errors,
            encoding=encoding,
            time_budget_s=self.time_budget_s,
            measurements=contract.measurements if contract is not None else (),
            distinct_cap=self.distinct_cap,
        )

    async def validate(
        self,
        tenant: str,
        path: str,
        *,
        format: str | None = None,
        schema: Any = None,
        max_errors: int = DEFAULT_MAX_ERRORS,
        encoding: str = "utf-8",
        contract: str | bytes | DataContract | None = None,
        contract_table: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        is_cancelled: Callable[[], bool] | None = None,
    ) -> Report:
        """Validate one file — or any source: a directory, glob, object, prefix or Delta table (one
        report for the dataset) — inside the allowed roots; cached by (tenant, identity, options).
        ``contract`` (ODCS text, or a parsed DataContract; not with ``schema``) is checked too:
        its schema object ``contract_table`` (needed when it has several) is the declared schema,
        its quality rules' findings are added and ``report.contract`` sums them up."""
        request = await self._contract(schema, contract, contract_table)
        options = self.options(format=format, schema=schema, max_errors=max_errors, encoding=encoding, contract=request)
        if not self.policy.is_local_file(path):
            return await self._validate_source(tenant, path, options, progress, is_cancelled, request)
        ident = self.policy.identify(path)
        key = (tenant, str(ident.real_path), ident.size, ident.mtime_ns, options.cache_key(), _key(request))

        def run() -> Report:
            report = registry.validate_path(ident.real_path, options, progress=progress, is_cancelled=cancelled)
            return report if request is None else apply_contract(report, request, options)

        def unchanged() -> bool:
            after = self.policy.identify(path)
            return (after.size, after.mtime_ns) == (ident.size, ident.mtime_ns)

        abandoned = threading.Event()

        def cancelled() -> bool:
            return abandoned.is_set() or (is_cancelled is not None and is_cancelled())

        return await self._cached(key, path, run, unchanged, abandoned)

    async def _validate_source(
        self,
        tenant: str,
        path: str,
        options: ValidationOptions,
        progress: Callable[[int, int], None] | None,
        is_cancelled: Callable[[], bool] | None,
        request: ContractRequest | None = None,
    ) -> Report:
        """A source that is not one local file: listed first (path policy, then existence), cached
        by the listing's identity (every file's path, size and mtime), re-listed afterwards."""
        listing = await anyio.to_thread.run_sync(lambda: self.policy.listing(path, format=options.format))
        key = (tenant, "source", listing.identity, options.cache_key(), _key(request))
        abandoned = threading.Event()

        def cancelled() -> bool:
            return abandoned.is_set() or (is_cancelled is not None and is_cancelled())

        def run() -> Report:
            storage = self.policy.storage
            if listing.single:
                entry = listing.files[0]
                report = validate_file_of(listing, entry, storage, options, progress=progress, is_cancelled=cancelled)
            else:
                report = validate_listing(
                    listing, storage, options, parallel=self.parallel_files, progress=progress, is_cancelled=cancelled
                )
            return report if request is None else apply_contract(report, request, options)

        def unchanged() -> bool:
            if listing.racy(self.clock()):
                return False  # too new for its mtime to tell a rewrite apart: not cached
            try:
                return self.policy.listing(path, format=options.format).identity == listing.identity
            except DpError:
                return False  # gone or unreachable now: the report stands, uncached

        return await self._cached(key, path, run, unchanged, abandoned)

    async def _cached(
        self,
        key: Any,
        path: str,
        run: Callable[[], Report],
        unchanged: Callable[[], bool],
        abandoned: threading.Event,
    ) -> Report:
        """The cached report for ``key``, or ``run()`` in a worker thread (one run per key at a time),
        cached when ``unchanged()`` says the input did not change while it ran."""
        while True:
            started = time.perf_counter()
            cached = self.cache.get(key)
            if cached is not None:
                elapsed = round((time.perf_counter() - started) * 1000, 3)
                return cached.model_copy(update={"cached": True, "elapsed_ms": elapsed, "path": path})
            pending = self._inflight.get(key)
            if pending is None:
                break
            await pending.wait()  # an identical validation is running: share its result
        done = self._inflight[key] = anyio.Event()
        try:
            run_started = time.perf_counter()
            try:
                report = await anyio.to_thread.run_sync(run, abandon_on_cancel=True, limiter=self._limiter)
            except anyio.get_cancelled_exc_class():
                abandoned.set()  # the worker thread stops at its next checkpoint
                raise
            if self.observer is not None:
                self.observer(report, time.perf_counter() - run_started)
            if await anyio.to_thread.run_sync(unchanged):
                self.cache.put(key, report)
            else:
                log.info("input changed during validation; report not cached: %s", path)
        finally:
            del self._inflight[key]
            done.set()
        return fit_report(report, self.max_result_bytes - 2048).model_copy(update={"path": path})


def _key(request: ContractRequest | None) -> str | None:
    return request.key if request is not None else None
