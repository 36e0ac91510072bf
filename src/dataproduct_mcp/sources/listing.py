"""A source resolved into an immutable listing: its storage, its files, one format, its partitions.

Listing rules (``docs/validation.md`` § Sources):

* a file or an object is a listing of one;
* a directory or a prefix lists every file below it, recursively, in path order; names (of files
  or directories below the root) starting with ``.`` or ``_`` are skipped (``_SUCCESS``,
  ``.crc``, ``_delta_log``), as pyarrow.dataset and Spark do; symlinked directories are not
  followed, and a symlinked file must resolve inside the allowed roots (the caller's ``check``);
* a glob lists the files under its base that match it (``*``/``?`` within a segment, ``**``
  across segments), with the same skipping below the base;
* a directory or prefix holding ``_delta_log/`` is a Delta Lake table (:mod:`.delta`);
* at most ``max_files`` files (more is ``too-large``); none is ``file-not-found``;
* one format per dataset: the format of the files' extensions (``.gz`` looked through); files
  of two formats are ``unsupported-format``; files without a known extension take the dataset's.

The identity of a listing (:attr:`Listing.identity`) is every file's path, size and mtime: the
validation cache keys on it, so a changed, added or removed file is never served stale.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dataproduct_mcp.errors import FileNotFound, TooLarge, UnsupportedFormat
from dataproduct_mcp.sources.partitions import Partition, PartitionColumn, infer_columns, parse_partition
from dataproduct_mcp.sources.storage import Storage, storage_error
from dataproduct_mcp.sources.uri import SourceSpec, glob_regex

__all__ = ["DeltaInfo", "ListedFile", "Listing", "NotADeltaTable", "list_source"]

DEFAULT_MAX_FILES = 100_000
RACY_SECONDS = 2.0
DELTA_LOG = "_delta_log"

Kind = Literal["file", "directory", "glob", "delta"]


@dataclass(frozen=True)
class ListedFile:
    path: str  # what the filesystem opens: a real local path, or ``bucket/key``
    uri: str  # what reports show: the local path or ``s3://bucket/key``
    relative: str  # below the dataset root, ``/``-separated (the name alone for a single file)
    size: int
    mtime_ns: int
    partition: Partition = ()
    rows: int | None = None  # from metadata where known (Delta add actions)


@dataclass(frozen=True)
class DeltaInfo:
    version: int
    schema: Any  # pyarrow.Schema of the table (partition columns included)
    partition_columns: tuple[str, ...]
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    source: str  # the canonical source text (real local path or s3:// URI, with any glob)
    storage: Literal["local", "s3"]
    kind: Kind
    files: tuple[ListedFile, ...]
    format: str | None  # None: no known extension (each file's content tells)
    partition_columns: tuple[PartitionColumn, ...] = ()
    delta: DeltaInfo | None = None
    root: str = ""  # the dataset root (directory, prefix or table), fs-style
    notes: tuple[str, ...] = field(default=())

    @property
    def single(self) -> bool:
        """One plain file or object (validated and reported exactly as a file)."""
        return self.kind == "file"

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def identity(self) -> tuple[Any, ...]:
        version = self.delta.version if self.delta is not None else None
        return (self.storage, self.source, version, tuple((f.path, f.size, f.mtime_ns) for f in self.files))

    @property
    def latest_mtime_ns(self) -> int:
        return max((f.mtime_ns for f in self.files), default=0)

    def racy(self, now_s: float) -> bool:
        """True when an object is too new for its mtime to identify it: object storage gives
        LastModified to the second, so an object rewritten with the same size within the second
        it was listed in would look unchanged. Such a listing's report is not cached (git's
        "racy timestamp" rule; the margin allows for clock skew)."""
        if self.storage == "local":
            return False
        return self.latest_mtime_ns >= int((now_s - RACY_SECONDS) * 1e9)

    @property
    def fingerprint(self) -> str:
        """A short digest of the identity (for logs and the product's recorded file state)."""
        return hashlib.sha256(repr(self.identity).encode()).hexdigest()


class NotADeltaTable(Exception):
    """A source ended in ``@v<N>`` but is not a Delta table: the caller takes the suffix as part of
    the name (parse again with ``versions=False``, check it again, list again)."""


def _ext_format(name: str, formats: Mapping[str, str]) -> str | None:
    parts = name.lower().split(".")
    if len(parts) > 2 and parts[-1] == "gz":
        return formats.get(parts[-2])
    return formats.get(parts[-1]) if len(parts) > 1 else None


def _skipped(relative: str) -> bool:
    return any(seg[:1] in (".", "_") for seg in relative.split("/"))


def _local_walk(
    root: str, check: Callable[[Path], None], max_depth: int | None
) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, stat) of the regular files below ``root``, in path order, not following
    directory symlinks; skipped names are not entered."""
    stack: list[tuple[str, int]] = [("", 0)]
    while stack:
        rel_dir, depth = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        subdirs = []
        for entry in reversed(entries):
            if entry.name[:1] in (".", "_"):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if max_depth is None or depth + 1 < max_depth:
                        subdirs.append((rel, depth + 1))
                    continue
                if entry.is_symlink():
                    check(Path(os.path.realpath(entry.path)))
                st = entry.stat(follow_symlinks=True)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                yield rel, st
        stack.extend(reversed(subdirs))


def _local(spec: SourceSpec, check: Callable[[Path], None], max_files: int) -> tuple[Kind, str, list[ListedFile], str]:
    base = spec.path
    if spec.pattern is None:
        try:
            st = os.stat(base)
        except OSError as exc:
            raise FileNotFound(f"no such file or directory: {spec.raw}", path=spec.raw) from exc
        if stat.S_ISREG(st.st_mode):
            name = os.path.basename(base)
            return "file", base, [ListedFile(base, base, name, st.st_size, st.st_mtime_ns)], os.path.dirname(base)
        if not stat.S_ISDIR(st.st_mode):
            raise FileNotFound(f"not a regular file or directory: {spec.raw}", path=spec.raw)
        if os.path.isdir(os.path.join(base, DELTA_LOG)):
            return "delta", base, [], base
        walk = _local_walk(base, check, None)
        kind: Kind = "directory"
    else:
        regex = glob_regex(spec.pattern)
        depth = None if "**" in spec.pattern else spec.pattern.count("/") + 1
        walk = (item for item in _local_walk(base, check, depth) if regex.match(item[0]))
        kind = "glob"
    files: list[ListedFile] = []
    for rel, st in walk:
        if len(files) >= max_files:
            raise _too_many(spec, max_files)
        full = os.path.join(base, rel)
        files.append(ListedFile(full, full, rel, st.st_size, st.st_mtime_ns, parse_partition(os.path.dirname(rel))))
    return kind, base, files, base


def _s3(spec: SourceSpec, storage: Storage, max_files: int) -> tuple[Kind, str, list[ListedFile], str]:
    import pyarrow.fs as pafs

    fs = storage.filesystem("s3")
    base = spec.fs_path
    try:
        if spec.pattern is None and spec.key:
            info = fs.get_file_info(base)
            if info.type == pafs.FileType.File:
                name = spec.key.rsplit("/", 1)[-1]
                one = ListedFile(base, spec.uri, name, info.size, info.mtime_ns or 0)
                return "file", spec.uri, [one], base.rsplit("/", 1)[0]
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=False))
    except Exception as exc:  # OSError subclasses from the AWS SDK: mapped in one place
        raise storage_error(exc, spec.uri) from exc
    prefix = base + "/"
    regex = glob_regex(spec.pattern) if spec.pattern else None
    files: list[ListedFile] = []
    delta = False
    for info in sorted(infos, key=lambda i: i.path):
        rel = info.path[len(prefix) :] if info.path.startswith(prefix) else info.path
        if rel == DELTA_LOG or rel.startswith(DELTA_LOG + "/"):
            delta = regex is None
            continue
        if info.type != pafs.FileType.File or _skipped(rel) or (regex is not None and not regex.match(rel)):
            continue
        if len(files) >= max_files:
            raise _too_many(spec, max_files)
        partition = parse_partition(rel.rsplit("/", 1)[0] if "/" in rel else "")
        files.append(ListedFile(info.path, f"s3://{info.path}", rel, info.size, info.mtime_ns or 0, partition))
    if delta:
        return "delta", spec.uri, [], base
    return ("glob" if regex is not None else "directory"), spec.uri, files, base


def _too_many(spec: SourceSpec, max_files: int) -> TooLarge:
    return TooLarge(
        f"{spec.raw} lists more than {max_files} files",
        limit=max_files,
        suggestion="Name a narrower prefix, directory or glob, or raise DPMCP_SOURCE_MAX_FILES.",
    )


def _dataset_format(files: list[ListedFile], formats: Mapping[str, str], spec: SourceSpec) -> str | None:
    found: dict[str, int] = {}
    for f in files:
        fmt = _ext_format(f.relative.rsplit("/", 1)[-1], formats)
        if fmt is not None:
            found[fmt] = found.get(fmt, 0) + 1
    if len(found) > 1:
        counts = ", ".join(f"{n} {fmt}" for fmt, n in sorted(found.items()))
        raise UnsupportedFormat(
            f"{spec.raw} mixes formats ({counts} files); a dataset has one format",
            suggestion="Name a glob that selects one format, e.g. 'data/**/*.parquet'.",
        )
    return next(iter(found), None)


def list_source(
    spec: SourceSpec,
    storage: Storage,
    formats: Mapping[str, str],
    *,
    check: Callable[[Path], None] = lambda _p: None,
    max_files: int = DEFAULT_MAX_FILES,
    explicit_format: str | None = None,
) -> Listing:
    """List ``spec`` (blocking). ``formats`` maps extensions to format names; ``check`` raises
    for a local path outside the allowed roots (symlinked files)."""
    try:
        if spec.storage == "s3":
            kind, source, files, root = _s3(spec, storage, max_files)
        else:
            kind, source, files, root = _local(spec, check, max_files)
    except FileNotFound:
        if spec.version is not None:
            raise NotADeltaTable(spec.raw) from None
        raise
    if kind == "delta":
        from dataproduct_mcp.sources.delta import list_delta

        return list_delta(spec, storage, root, max_files, check)
    if spec.version is not None:
        raise NotADeltaTable(spec.raw)
    if not files:
        raise FileNotFound(f"{spec.raw} matches no data file", path=spec.raw)
    fmt = explicit_format or _dataset_format(files, formats, spec)
    columns = tuple(infer_columns(f.partition for f in files)) if kind != "file" else ()
    return Listing(source, spec.storage, kind, tuple(files), fmt, columns, None, root)
