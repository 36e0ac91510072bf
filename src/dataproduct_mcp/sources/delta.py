"""Delta Lake tables (read with ``deltalake``, imported on first use): the active files of a version.

A directory or prefix holding ``_delta_log/`` is a table. Its version is the latest, or the one
an ``@v<N>`` suffix names (``s3://lake/orders@v12``). From the log we take the table schema,
the partition columns and, for every active file (its ``add`` actions), the path, size,
modification time, record count and partition values; the files are then validated like any
other Parquet files. Tables whose readers need column mapping are ``unsupported-format`` (the
physical column names in the files differ from the logical ones); deletion vectors are noted
(rows are counted per file, deleted rows included).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from dataproduct_mcp.errors import FileNotFound, PathNotAllowed, TooLarge, UnsupportedFormat
from dataproduct_mcp.sources.listing import DeltaInfo, ListedFile, Listing
from dataproduct_mcp.sources.partitions import infer_columns
from dataproduct_mcp.sources.storage import Storage, storage_error
from dataproduct_mcp.sources.uri import SourceSpec

__all__ = ["list_delta"]

_UNSUPPORTED_FEATURES = ("columnMapping",)


def _open_table(uri: str, spec: SourceSpec, storage: Storage) -> Any:
    import deltalake

    options = storage.s3.delta_storage_options() if spec.storage == "s3" else None
    try:
        return deltalake.DeltaTable(uri, version=spec.version, storage_options=options)
    except Exception as exc:  # deltalake raises its own TableNotFoundError, OSError, DeltaError...
        text = str(exc).lower()
        if spec.version is not None and "version" in text and "s3" not in type(exc).__name__.lower():
            raise FileNotFound(
                f"the Delta table {spec.uri} has no version {spec.version}",
                path=spec.raw,
                suggestion="Drop the @v<N> suffix for the latest version, or name an existing one.",
            ) from exc
        raise storage_error(exc, spec.uri) from exc


def _arrow(obj: Any) -> Any:
    import pyarrow as pa

    return pa.table(obj) if not isinstance(obj, pa.Table) else obj


def list_delta(
    spec: SourceSpec, storage: Storage, root: str, max_files: int, check: Callable[[Path], None] = lambda _p: None
) -> Listing:
    """The listing of the Delta table at ``root`` (a local directory or ``bucket/prefix``); ``check``
    refuses a local file that resolves outside the allowed roots (a symlink in the table)."""
    import pyarrow as pa

    uri = f"s3://{root}" if spec.storage == "s3" else root
    table = _open_table(uri, spec, storage)
    try:
        protocol = table.protocol()
        features = tuple(sorted(set(protocol.reader_features or ()) | set(protocol.writer_features or ())))
        if any(f in _UNSUPPORTED_FEATURES for f in features):
            raise UnsupportedFormat(
                f"the Delta table {spec.uri} uses column mapping, which file-by-file validation cannot follow",
                format="delta",
                suggestion="Validate a table without column mapping, or its Parquet files by path.",
            )
        version = table.version()
        schema = pa.schema(table.schema().to_arrow())
        partition_columns = tuple(table.metadata().partition_columns)
        actions = _arrow(table.get_add_actions(flatten=True))
    except (UnsupportedFormat, FileNotFound):
        raise
    except Exception as exc:
        raise storage_error(exc, spec.uri) from exc
    if actions.num_rows > max_files:
        raise TooLarge(
            f"the Delta table {spec.uri} has more than {max_files} active files",
            limit=max_files,
            suggestion="Raise DPMCP_SOURCE_MAX_FILES, or validate a partition of the table by path.",
        )
    files = []
    for row in actions.to_pylist():
        rel = unquote(str(row["path"]))
        if "://" in rel or rel.startswith("/"):
            prefix = uri.rstrip("/") + "/"
            if not rel.startswith(prefix):
                raise PathNotAllowed(f"the Delta table {spec.uri} references a file outside the table", path=None)
            rel = rel[len(prefix) :]
        if ".." in rel.split("/"):
            raise PathNotAllowed(f"the Delta table {spec.uri} references a file outside the table", path=None)
        partition = tuple(
            (name, None if row.get(f"partition.{name}") is None else str(row[f"partition.{name}"]))
            for name in partition_columns
        )
        mtime_ns = int(row.get("modification_time") or 0) * 1_000_000
        path = f"{root}/{rel}"
        if spec.storage == "local":
            check(Path(os.path.realpath(path)))
        shown = f"s3://{path}" if spec.storage == "s3" else path
        rows = row.get("num_records")
        files.append(ListedFile(path, shown, rel, int(row["size_bytes"]), mtime_ns, partition, rows))
    files.sort(key=lambda f: f.relative)
    notes = ("deletion-vectors",) if "deletionVectors" in features else ()
    delta = DeltaInfo(version, schema, partition_columns, features)
    columns = tuple(infer_columns([f.partition for f in files])) if files else ()
    if not files and partition_columns:
        columns = ()
    return Listing(uri, spec.storage, "delta", tuple(files), "parquet", columns, delta, root, notes)
