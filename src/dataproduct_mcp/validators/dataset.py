"""One report for a dataset: every file of a listing validated with its format's validator, a few
at a time, and the results merged (``docs/validation.md`` § Sources).

* ``rows``, ``bytes`` and ``error_count`` are sums; ``columns`` are the dataset's (the Delta
  table's schema, else the first file's columns) followed by the partition columns;
* findings keep their position and name their ``file``; the report lists at most
  ``max_errors`` errors over all files (``error_count`` stays the true total);
* :mod:`.datasetcheck` adds ``schema-mismatch`` for a file whose columns, or partition keys,
  differ from the dataset's, and checks partition values against a declared schema (whose
  partition columns are not asked of the files);
* ``sha256`` is the sha256 of the lines ``<relative path>\\t<size>\\t<sha256 of the file>\\n`` in
  path order (the digests of the files' bytes, so it changes when any byte of any file changes);
* ``extra`` holds the source (kind, storage, root, file count), the partition columns, the Delta
  version and features, and a summary of the first 50 files.

Files run on ``parallel`` threads in path order (memory: ``parallel`` files' buffers); the time
budget is the dataset's, and cancellation stops every file at its next checkpoint. Progress is
bytes done over the listing's total bytes. A storage failure is an error for the whole call.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dataproduct_mcp.domain.validation import Report
from dataproduct_mcp.sources.listing import ListedFile, Listing
from dataproduct_mcp.sources.storage import Storage
from dataproduct_mcp.validators import registry
from dataproduct_mcp.validators._threads import OrderedPool
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.datasetcheck import DatasetChecks

__all__ = ["dataset_sha256", "validate_file_of", "validate_listing"]


def dataset_sha256(entries: list[tuple[str, int, str]]) -> str:
    """The dataset digest of ``(relative path, size, sha256)`` entries (see the module docstring)."""
    digest = hashlib.sha256()
    for rel, size, sha in sorted(entries):
        digest.update(f"{rel}\t{size}\t{sha}\n".encode())
    return digest.hexdigest()


def validate_file_of(
    listing: Listing,
    entry: ListedFile,
    storage: Storage,
    options: ValidationOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    started: float | None = None,
) -> Report:
    """Validate one file of ``listing`` (blocking): a local path, or an object read once."""
    if listing.storage == "local":
        report = registry.validate_path(
            Path(entry.path), options, progress=progress, is_cancelled=is_cancelled, started=started
        )
        return report.model_copy(update={"path": entry.uri})
    from dataproduct_mcp.sources.remote import RemoteObject

    fs = storage.filesystem(listing.storage)
    with RemoteObject(
        fs, entry.path, entry.size, entry.uri, block_bytes=storage.block_bytes, ahead=storage.read_ahead_blocks
    ) as remote:
        return registry.validate_remote(remote, options, progress=progress, is_cancelled=is_cancelled, started=started)


class _Progress:
    def __init__(self, total: int, report: Callable[[int, int], None] | None) -> None:
        self.total = total
        self.report = report
        self.done: dict[int, int] = {}
        self.finished = 0
        self.lock = threading.Lock()

    def of(self, index: int) -> Callable[[int, int], None] | None:
        if self.report is None:
            return None

        def update(done: int, _total: int) -> None:
            with self.lock:
                self.done[index] = done
                now = self.finished + sum(self.done.values())
            assert self.report is not None
            self.report(min(now, self.total), self.total)

        return update

    def file_done(self, index: int, size: int) -> None:
        with self.lock:
            self.done.pop(index, None)
            self.finished += size
            now = self.finished + sum(self.done.values())
        if self.report is not None:
            self.report(min(now, self.total), self.total)


def validate_listing(
    listing: Listing,
    storage: Storage,
    options: ValidationOptions,
    *,
    parallel: int = 4,
    progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> Report:
    """Validate every file of ``listing`` into one report (blocking; run it in a worker thread)."""
    started = time.monotonic()
    checks = DatasetChecks(listing, options)
    file_options = checks.file_options()
    stop = threading.Event()
    tracker = _Progress(listing.total_bytes, progress)

    def cancelled() -> bool:
        return stop.is_set() or (is_cancelled is not None and is_cancelled())

    def run(item: tuple[int, ListedFile]) -> Report:
        index, entry = item
        try:
            return validate_file_of(
                listing,
                entry,
                storage,
                file_options,
                progress=tracker.of(index),
                is_cancelled=cancelled,
                started=started,
            )
        except BaseException:
            stop.set()  # one file failing ends the others at their next checkpoint
            raise

    pending = list(enumerate(listing.files))
    pending.reverse()
    with OrderedPool(run, workers=max(1, min(parallel, len(listing.files) or 1)), depth=parallel) as pool:
        while pending or len(pool):
            if time.monotonic() - started > options.time_budget_s:
                pending.clear()  # the budget is the dataset's: no file starts after it is spent
            while pending and not pool.full:
                pool.submit(pending.pop())
            if not len(pool):
                break
            (index, entry), report = pool.next()
            tracker.file_done(index, entry.size)
            checks.add(entry, report)
    if checks.files_done < len(listing.files):
        checks.budget_spent()
    return checks.report(started)
