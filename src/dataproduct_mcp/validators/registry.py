"""The one registry of format validators: what formats exist, which one a file is, and the
synchronous entry point that validates a file into a :class:`Report`.

Detection (contract §6): content first, extension second.

1. A gzip stream (``1f 8b``) is looked through: its first 8 KiB are decompressed (bounded)
   and detection runs on them; only text formats may be gzip-wrapped.
2. Binary formats have real magic bytes (Parquet ``PAR1``, Arrow ``ARROW1``, Avro ``Obj\\x01``,
   xlsx ``PK``): a match wins.
3. Otherwise the extension's validator is used when its sniff accepts the content; then the
   first text format whose sniff accepts it (JSON, JSON Lines, XML, TSV, CSV, in that order;
   CSV and TSV accept nearly any text, so JSON or XML content wins over a .csv name);
   then the extension's validator anyway (it reports what is wrong with the content).

Whenever the chosen format differs from what the extension says, a ``format-error``
*warning* says so. An explicit ``format`` skips detection (a content mismatch is still a
warning). No fitting validator raises :class:`~dataproduct_mcp.errors.UnsupportedFormat`.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import time
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path, PurePath, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO, cast

from pydantic import BaseModel, ConfigDict

from dataproduct_mcp.domain.validation import Finding, FindingCode, Report
from dataproduct_mcp.errors import FileNotFound, UnsupportedFormat
from dataproduct_mcp.validators.base import (
    Cancelled,
    FindingCollector,
    FormatResult,
    FormatValidator,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
    ValidationOptions,
)
from dataproduct_mcp.validators.formats import SPECS

if TYPE_CHECKING:
    from dataproduct_mcp.sources.remote import RemoteObject
    from dataproduct_mcp.validators.filehash import FileHash
    from dataproduct_mcp.validators.measures import Measured

__all__ = ["FormatInfo", "detect", "get", "list_formats", "validate_path", "validate_remote", "validators"]

log = logging.getLogger(__name__)

SNIFF_BYTES = 8 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_MODULES = ("csv", "tsv", "json", "jsonl", "parquet", "arrow", "avro", "xlsx", "xml")
_TEXT_ORDER = ("json", "jsonl", "xml", "tsv", "csv")
_WEAK_TEXT = ("tsv", "csv")


class FormatInfo(BaseModel):
    """One supported format, as ``list_file_formats`` shows it."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    extensions: list[str]
    media_types: list[str]
    checks: list[str]
    binary: bool


def _import(name: str) -> ModuleType | None:
    module_name = f"{__package__}.formats.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # not written yet; any other import error is a bug to surface
            return None
        raise


@cache
def validators() -> tuple[FormatValidator, ...]:
    """Every registered validator, in ``_MODULES`` order."""
    found: list[FormatValidator] = []
    for name in _MODULES:
        module = _import(name)
        if module is not None:
            found.append(module.VALIDATOR)
    return tuple(found)


def get(name: str) -> FormatValidator:
    for validator in validators():
        if validator.name == name.lower():
            return validator
    raise UnsupportedFormat(f"unknown format {name!r}", format=name, known=[v.name for v in validators()])


def list_formats() -> list[FormatInfo]:
    """The formats as ``list_file_formats`` shows them (from their descriptions: nothing heavy imported)."""
    out = []
    for name in _MODULES:
        v = SPECS[name]
        media = [v.media_type] if v.binary else [v.media_type, "application/gzip"]
        extensions = list(v.extensions) if v.binary else [*v.extensions, *(f"{e}.gz" for e in v.extensions)]
        out.append(
            FormatInfo(
                name=v.name,
                title=v.title,
                extensions=extensions,
                media_types=media,
                checks=list(v.checks),
                binary=v.binary,
            )
        )
    return out


def _sniff(validator: FormatValidator, head: bytes) -> bool:
    try:
        return bool(validator.sniff(head))
    except Exception:  # a sniff must never break detection
        log.exception("sniff of %s failed", validator.name)
        return False


def _gunzip_head(opener: Callable[[], BinaryIO], limit: int) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = b""
    try:
        with opener() as f:
            while len(out) < SNIFF_BYTES:
                block = f.read(64 * 1024)
                if not block:
                    break
                out += decompressor.decompress(block, min(limit, SNIFF_BYTES) - len(out))
    except (OSError, zlib.error):
        pass
    return out[:SNIFF_BYTES]


def _extension(path: PurePath) -> tuple[str, bool]:
    suffixes = [s.lower().lstrip(".") for s in path.suffixes]
    if suffixes and suffixes[-1] == "gz":
        return (suffixes[-2] if len(suffixes) > 1 else ""), True
    return (suffixes[-1] if suffixes else ""), False


def _warning(message: str) -> Finding:
    return Finding(code=FindingCode.format_error, message=message, column=None, value=None)


def detect(
    path: PurePath,
    head: bytes,
    explicit_format: str | None = None,
    *,
    max_uncompressed_bytes: int = 1 << 30,
    opener: Callable[[], BinaryIO] | None = None,
) -> tuple[FormatValidator, bool, list[Finding]]:
    """``(validator, gzip, warnings)`` for ``path`` whose first bytes are ``head`` (``opener``
    opens the file when it is not a local path: a remote object)."""
    warnings: list[Finding] = []
    is_gzip = head.startswith(GZIP_MAGIC)
    ext, gz_ext = _extension(path)
    inner = _gunzip_head(opener or (lambda: open(path, "rb")), max_uncompressed_bytes) if is_gzip else head
    if gz_ext and not is_gzip:
        warnings.append(_warning("the name ends in .gz but the content is not gzip-compressed"))
    every = validators()
    by_ext = {e: v for v in every for e in v.extensions}
    ext_v = by_ext.get(ext)
    if explicit_format:
        chosen = get(explicit_format)
        if inner and not _sniff(chosen, inner):
            warnings.append(_warning(f"the content does not look like {chosen.name}; validating as asked"))
    else:
        strong = [v for v in every if v.binary and _sniff(v, inner)]
        text = sorted((v for v in every if not v.binary), key=lambda v: _rank(v.name))
        if strong:
            chosen = ext_v if ext_v in strong else strong[0]
        elif ext_v is not None and _sniff(ext_v, inner) and not _structured_text(ext_v, text, inner):
            chosen = ext_v
        else:
            sniffed = [v for v in text if _sniff(v, inner)]
            if sniffed:
                chosen = sniffed[0]
            elif ext_v is not None:
                chosen = ext_v
            else:
                raise UnsupportedFormat(
                    f"cannot tell the format of {path.name!r} from its content or extension",
                    extension=ext or None,
                )
        if ext_v is not None and chosen is not ext_v:
            warnings.append(
                _warning(
                    f"the extension says {ext_v.name} but the content is {chosen.name}; validated as {chosen.name}"
                )
            )
    if is_gzip and chosen.binary:
        raise UnsupportedFormat(
            f"gzip-compressed {chosen.name} is not supported; decompress it first", format=chosen.name
        )
    return chosen, is_gzip, warnings


def _structured_text(ext_v: FormatValidator, text: list[FormatValidator], head: bytes) -> bool:
    """CSV/TSV sniffs accept nearly any text: JSON, JSON Lines or XML content wins over them."""
    if ext_v.name not in _WEAK_TEXT or not head.strip():
        return False
    return any(v.name not in _WEAK_TEXT and _sniff(v, head) for v in text)


def _rank(name: str) -> int:
    return _TEXT_ORDER.index(name) if name in _TEXT_ORDER else len(_TEXT_ORDER)


def _hash_file(path: Path, ctx: ValidationContext) -> str:
    hasher = hashlib.sha256()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            hasher.update(view[:n])
            if ctx.is_cancelled():
                raise Cancelled()
    return hasher.hexdigest()


def validate_path(
    path: Path,
    options: ValidationOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    started: float | None = None,
    sha256_ahead: FileHash | None = None,
) -> Report:
    """Validate one file (blocking; run it in a worker thread). Findings never raise; only
    :class:`UnsupportedFormat`, :class:`FileNotFound` and :class:`Cancelled` do. ``started``
    (monotonic) is when the time budget began (a dataset's files share one budget); ``sha256_ahead``:
    the file's sha256, already being computed by the caller (then the validator does not hash)."""
    started = time.monotonic() if started is None else started
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except FileNotFoundError as exc:
        raise FileNotFound(f"no such file: {path.name}") from exc
    except IsADirectoryError as exc:
        raise FileNotFound(f"not a regular file: {path.name}") from exc
    return _validate(path, size, head, None, options, progress, is_cancelled, started, sha256_ahead)


def validate_remote(
    remote: RemoteObject,
    options: ValidationOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    started: float | None = None,
) -> Report:
    """Validate one object of object storage, read once through ``remote`` (blocking). A storage
    failure raises its mapped error (``storage-unavailable``, ``forbidden``...), never a finding."""
    started = time.monotonic() if started is None else started
    try:
        head = remote.read_range(0, SNIFF_BYTES)
    except OSError:
        assert remote.failure is not None
        raise remote.failure from None
    name = PurePosixPath(remote.path)
    report = _validate(name, remote.size, head, remote, options, progress, is_cancelled, started)
    return report.model_copy(update={"path": remote.uri})


def _validate(
    path: PurePath,
    size: int,
    head: bytes,
    remote: RemoteObject | None,
    options: ValidationOptions,
    progress: Callable[[int, int], None] | None,
    is_cancelled: Callable[[], bool] | None,
    started: float,
    sha256_ahead: FileHash | None = None,
) -> Report:
    collector = FindingCollector(options.max_errors, options.max_warnings)
    ctx = ValidationContext(
        options=options,
        findings=collector,
        total_bytes=size,
        progress=progress,
        is_cancelled=is_cancelled or (lambda: False),
        started=started,
    )
    opener = cast(Callable[[], BinaryIO], remote.open) if remote is not None else None
    validator, is_gzip, warnings = _detect_for(path, head, options, opener)
    ctx.check("format-detection")
    for w in warnings:
        collector.warning(w.code, w.message)
    source = Source(cast(Path, path), size, "gzip" if is_gzip else None, sha256_ahead=sha256_ahead, remote=remote)
    result = FormatResult()
    if size == 0:
        ctx.check("empty-file")
        collector.error(FindingCode.empty_file, "file is empty (0 bytes)")
        result.measured = _measured(ctx, result)
    else:
        result = _run(validator, source, ctx)
    ahead = sha256_ahead.result() if sha256_ahead is not None else None
    if remote is not None:
        if remote.failure is not None:  # storage failed under the validator: an error, not a finding
            raise remote.failure
        sha256 = remote.sha256()
    elif ahead is not None and ahead[1] == size:
        sha256 = ahead[0]
    elif source.hashed and source.bytes_read == size:
        sha256 = source.sha256_hex()
    else:
        assert isinstance(path, Path)
        sha256 = _hash_file(path, ctx)
    ctx.check("sha256")
    extra = dict(result.extra)
    if is_gzip:
        extra["compression"] = "gzip"
    report = Report(
        valid=collector.error_count == 0,
        path=str(path),
        format=validator.name,
        media_type=validator.media_type,
        bytes=size,
        sha256=sha256,
        rows=result.rows,
        columns=result.columns,
        errors=sorted(collector.errors, key=_position),
        warnings=collector.warnings,
        error_count=collector.error_count,
        warning_count=collector.warning_count,
        truncated=collector.truncated,
        checks=list(ctx.checks),
        elapsed_ms=round((time.monotonic() - started) * 1000, 3),
        extra=extra,
    )
    report._measured = result.measured
    return report


def _measured(ctx: ValidationContext, result: FormatResult) -> Measured | None:
    if not ctx.options.measurements:
        return None  # no contract: nothing to count
    from dataproduct_mcp.validators.measures import measured_of

    return measured_of(ctx, result)


def _position(finding: Finding) -> tuple[int, int, int]:
    """Findings in file order (file-level findings, which have no row, first)."""
    return (finding.row or 0, finding.line or 0, finding.column or 0)


def _detect_for(
    path: PurePath, head: bytes, options: ValidationOptions, opener: Callable[[], BinaryIO] | None
) -> tuple[FormatValidator, bool, list[Finding]]:
    if not head and not options.format:
        ext, _ = _extension(path)
        for v in validators():
            if ext in v.extensions:
                return v, False, []
        return get("csv"), False, []  # an empty file of unknown type: still an empty-file report
    return detect(path, head, options.format, max_uncompressed_bytes=options.max_uncompressed_bytes, opener=opener)


def _run(validator: FormatValidator, source: Source, ctx: ValidationContext) -> FormatResult:
    try:
        result = validator.validate(source, ctx)
        result.measured = _measured(ctx, result)
        return result
    except Cancelled:
        raise
    except TimeBudgetExceeded:
        ctx.findings.error(
            FindingCode.format_error,
            f"time budget of {ctx.options.time_budget_s:g} s spent before the end of the file",
        )
    except MemoryError:
        ctx.findings.error(FindingCode.format_error, "the file needs more memory than validation may use")
    except Exception as exc:  # a validator bug or an unexpected library error: a finding, never a crash
        log.exception("validator %s failed on %s", validator.name, source.path)
        ctx.findings.error(FindingCode.format_error, f"cannot validate: {type(exc).__name__}: {exc}")
    return FormatResult()
