"""The contract between the validation service and the per-format validators.

A format validator is a module in this package exposing one :class:`FormatValidator`
instance, registered in :mod:`dataproduct_mcp.validators.registry`. Validators are
synchronous and blocking (the service runs them in a worker thread); they read the file
they are handed through :class:`Source` in bounded chunks/batches, report problems as
findings on the :class:`ValidationContext` (findings are data, not exceptions), and
return a :class:`FormatResult`. They raise only when they cannot continue at all, and
the registry turns even that into a ``format-error`` finding.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast

from dataproduct_mcp.domain.contract import Measurement
from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.domain.validation import DEFAULT_MAX_ERRORS, ColumnInfo, Finding, FindingCode

if TYPE_CHECKING:
    from dataproduct_mcp.sources.remote import RemoteObject
    from dataproduct_mcp.validators.filehash import FileHash

__all__ = [
    "DISTINCT_CAP",
    "Cancelled",
    "FindingCollector",
    "FormatResult",
    "FormatValidator",
    "Source",
    "TimeBudgetExceeded",
    "ValidationContext",
    "ValidationOptions",
]

MAX_VALUE_CHARS = 200
DISTINCT_CAP = 4_000_000  # distinct values held per duplicateValues measurement (8 bytes each)


class Cancelled(Exception):
    """Raised by :meth:`ValidationContext.checkpoint` when the caller cancelled the work."""


class TimeBudgetExceeded(Exception):
    """Raised by :meth:`ValidationContext.checkpoint` when the per-file time budget is spent."""


@dataclass(frozen=True)
class ValidationOptions:
    format: str | None = None
    schema: TableSchema | None = None
    max_errors: int = DEFAULT_MAX_ERRORS
    max_warnings: int = 100
    encoding: str = "utf-8"  # strict; other encodings only when asked
    time_budget_s: float = 600.0
    max_line_bytes: int = 16 * 1024 * 1024  # one line / field / cell bigger than this is a finding
    max_uncompressed_bytes: int = 8 * 1024 * 1024 * 1024  # bound for gzip / xlsx (zip-bomb guard)
    threads: int = 0  # parser threads for one file; 0 = the cores this process may use (at most 4)
    #: a data contract's counts to take (validators/measures.py); the report carries them
    measurements: tuple[Measurement, ...] = ()
    distinct_cap: int = DISTINCT_CAP  # past this many distinct values a duplicateValues count is given up

    def cache_key(self) -> tuple[Any, ...]:
        schema = self.schema.model_dump_json() if self.schema is not None else None
        measured = tuple(m.key for m in self.measurements)
        return (self.format, schema, self.max_errors, self.encoding, measured, self.distinct_cap if measured else None)


class FindingCollector:
    """Keeps the first ``max_errors`` errors and counts every one (``error_count`` is the true total)."""

    def __init__(self, max_errors: int = DEFAULT_MAX_ERRORS, max_warnings: int = DEFAULT_MAX_ERRORS) -> None:
        self.max_errors = max_errors
        self.max_warnings = max_warnings
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        self.error_count = 0
        self.warning_count = 0
        self.error_codes: set[FindingCode] = set()  # every code reported as an error

    @property
    def truncated(self) -> bool:
        return self.error_count > len(self.errors)

    @staticmethod
    def _make(code: FindingCode | str, message: str, value: Any, **where: Any) -> Finding:
        if value is not None:
            value = str(value)
            if len(value) > MAX_VALUE_CHARS:
                value = value[: MAX_VALUE_CHARS - 1] + "…"
        return Finding(code=FindingCode(code), message=message, value=value, **where)

    def error(self, code: FindingCode | str, message: str, *, value: Any = None, **where: Any) -> None:
        self.error_count += 1
        self.error_codes.add(FindingCode(code))
        if len(self.errors) < self.max_errors:
            self.errors.append(self._make(code, message, value, **where))

    def warning(self, code: FindingCode | str, message: str, *, value: Any = None, **where: Any) -> None:
        self.warning_count += 1
        if len(self.warnings) < self.max_warnings:
            self.warnings.append(self._make(code, message, value, **where))


@dataclass
class ValidationContext:
    """What a validator gets besides the bytes: options, the finding sink, progress and cancellation."""

    options: ValidationOptions
    findings: FindingCollector
    total_bytes: int = 0
    progress: Callable[[int, int], None] | None = None  # (bytes_done, total_bytes)
    is_cancelled: Callable[[], bool] = lambda: False
    started: float = field(default_factory=time.monotonic)
    checks: list[str] = field(default_factory=list)
    measures: Any = None  # the file's Measures (validators/measures.py), set by the TableChecker that takes them

    def checkpoint(self, bytes_done: int) -> None:
        """Call between chunks/batches: reports progress, honours cancellation and the time budget."""
        if self.progress is not None:
            self.progress(bytes_done, self.total_bytes)
        if self.is_cancelled():
            raise Cancelled()
        if time.monotonic() - self.started > self.options.time_budget_s:
            raise TimeBudgetExceeded()

    def check(self, name: str) -> None:
        """Record that a check was performed (reported in ``Report.checks``)."""
        if name not in self.checks:
            self.checks.append(name)


@dataclass
class FormatResult:
    rows: int = 0
    columns: list[ColumnInfo] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the contract's counts (a validators.measures.Measured), filled by the registry after the
    #: validator ran; None when the file was not read to its end
    measured: Any = None


class ByteStream(Protocol):
    """What :meth:`Source.open` returns: a readable binary stream (a file, a remote object, or one
    that hashes)."""

    def read(self, n: int = -1, /) -> bytes: ...

    def readinto(self, buffer: Any, /) -> int | None: ...

    def readable(self) -> bool: ...

    def close(self) -> None: ...

    def __enter__(self) -> ByteStream: ...

    def __exit__(self, *exc: Any) -> Any: ...


class Source:
    """The file being validated. Validators read through it so that the sha256 and byte count
    are computed on the same pass: use :meth:`open` for a hashing stream, or, for formats whose
    reader needs the path (pyarrow, fastavro, openpyxl), read via ``path`` and let the caller
    hash separately (``hashed`` stays False). When the caller already hashes the file
    (``sha256_ahead``, a :class:`~dataproduct_mcp.validators.filehash.FileHash`), :meth:`open` is
    a plain stream and nothing here hashes again."""

    #: ``"gzip"`` when the registry detected a gzip-wrapped text file: text validators then
    #: read the uncompressed stream (bounded by ``options.max_uncompressed_bytes``).
    compression: str | None = None

    def __init__(
        self,
        path: Path | PurePosixPath,
        size: int,
        compression: str | None = None,
        sha256_ahead: FileHash | None = None,
        remote: RemoteObject | None = None,
    ) -> None:
        self.path = path
        self.size = size
        self.compression = compression
        self.sha256_ahead = sha256_ahead
        #: set for an object in object storage: every read goes through it, and it hashes the
        #: object as it fetches it (no second pass: :class:`~._threads.BackgroundHash` stands down)
        self.remote = remote
        self._hasher = hashlib.sha256()
        self.hashed = False
        self.bytes_read = 0

    def open(self) -> ByteStream:
        """A binary stream that updates the sha256 as it is read (read it to the end once); a
        plain one when the caller hashes the file (``sha256_ahead``)."""
        if self.sha256_ahead is not None:
            return open(self.path, "rb")  # noqa: SIM115 - closed by the caller
        if self.remote is not None:
            return cast(ByteStream, self.remote.open())
        self.hashed = True
        return _HashingReader(open(self.path, "rb"), self)  # noqa: SIM115 - closed by the caller

    def open_raw(self) -> BinaryIO:
        """A seekable, unbuffered binary stream of the file that hashes nothing."""
        if self.remote is not None:
            return cast(BinaryIO, self.remote.open())
        return open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed by the caller

    def target(self) -> Any:
        """What a library that opens files itself (pyarrow, zipfile, openpyxl) is given: the local
        path (its native reader is fastest), or a seekable stream of the remote object."""
        return str(self.path) if self.remote is None else self.open_raw()

    def sha256_hex(self) -> str:
        return self._hasher.hexdigest()


class _HashingReader:
    def __init__(self, raw: io.BufferedReader, source: Source) -> None:
        self._raw = raw
        self._source = source

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._source._hasher.update(data)
        self._source.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        if n:
            self._source._hasher.update(memoryview(buffer)[:n])
            self._source.bytes_read += n
        return n or 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def __enter__(self) -> _HashingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FormatValidator(Protocol):
    """One file format."""

    name: str  # "csv", "tsv", "json", "jsonl", "parquet", "arrow", "xlsx", "avro", "xml"
    title: str
    extensions: tuple[str, ...]  # without dots, lower case, e.g. ("csv",)
    media_type: str  # IANA media type
    checks: tuple[str, ...]  # names of the checks it can perform (for list_file_formats)
    binary: bool  # False for text formats (gzip wrapping applies to those)

    def sniff(self, head: bytes) -> bool:
        """True if the first bytes (up to 8 KiB) look like this format (magic bytes)."""
        ...

    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        """Validate the whole file, report findings on ``ctx.findings``."""
        ...
