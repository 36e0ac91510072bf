"""Record batches from a dataset (a directory, glob, ``s3://`` object or prefix, Delta table): its
files in listing order, each read in bounded memory, with the partition columns appended.

Blocking code (run it in a worker thread). The dataset's schema is the Delta table's, else the
first file's with the partition columns after it (``integer`` partitions as int64, others as
string; a Delta table's partition values are cast to its schema's types). A file whose columns
cannot be cast to the dataset's ends the stream with ``schema-mismatch``-style
``invalid-argument`` — nothing is padded or dropped silently. ``rows_total`` comes from metadata:
the Delta log's record counts, or the Parquet footers (for datasets of up to
``FOOTER_COUNT_LIMIT`` files); otherwise it is null. A storage failure while reading is the
mapped storage error (``storage-unavailable``, ``forbidden``...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataproduct_mcp.errors import DpError, InvalidArgument, UnsupportedFormat
from dataproduct_mcp.sources.listing import ListedFile, Listing
from dataproduct_mcp.sources.storage import Storage, storage_error

if TYPE_CHECKING:
    from dataproduct_mcp.readers.source import SourceInfo

__all__ = ["DatasetSource", "dataset_batches", "inspect_dataset", "inspect_listing"]

FOOTER_COUNT_LIMIT = 1000
TEXT_BLOCK_BYTES = 4 * 1024 * 1024
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class DatasetSource:
    listing: Listing
    storage: Storage
    file_schema: pa.Schema  # the columns the files hold (the dataset's minus its partition columns)
    partition_fields: tuple[pa.Field, ...]
    file_rows: tuple[int | None, ...]


def _fs(source: DatasetSource | Storage, listing: Listing) -> Any:
    storage = source.storage if isinstance(source, DatasetSource) else source
    return storage.filesystem(listing.storage)


def _guard(uri: str) -> Any:
    class _Guard:
        def __enter__(self) -> None:
            return None

        def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
            if exc is not None and isinstance(exc, OSError) and not isinstance(exc, DpError):
                raise storage_error(exc, uri) from exc

    return _Guard()


def _open_reader(
    fs: Any, entry: ListedFile, fmt: str, gzip: bool, columns: list[str] | None, encoding: str = "utf-8"
) -> Iterator[Any]:
    """Batches of one file, read through ``fs``."""
    import pyarrow.csv as pacsv
    import pyarrow.ipc as ipc
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    from dataproduct_mcp.readers.records import RECORD_FORMATS, record_batches, record_schema
    from dataproduct_mcp.readers.source import text_stream

    if fmt in RECORD_FORMATS:
        opener = lambda: fs.open_input_file(entry.path)  # noqa: E731
        schema = record_schema(fmt, opener, gzip, encoding, local=False)[0]
        for _, batch in record_batches(fmt, opener, gzip, encoding, schema, 64 * 1024):
            yield batch
        return
    if fmt == "parquet":
        pf = pq.ParquetFile(fs.open_input_file(entry.path), pre_buffer=True, buffer_size=1 << 20)
        try:
            yield from pf.iter_batches(batch_size=64 * 1024, columns=columns)
        finally:
            pf.close()
        return
    if fmt == "arrow":
        with fs.open_input_file(entry.path) as raw:
            try:
                reader = ipc.open_file(raw)
            except pa.ArrowInvalid:
                raw.seek(0)
                yield from ipc.open_stream(raw)
                return
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
        return
    with fs.open_input_stream(entry.path, compression="gzip" if gzip else None) as raw:
        stream = text_stream(raw, encoding)
        if fmt == "jsonl":
            reader = pajson.open_json(stream, read_options=pajson.ReadOptions(block_size=TEXT_BLOCK_BYTES))
        else:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=TEXT_BLOCK_BYTES),
                parse_options=pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ","),
            )
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return


def _first_schema(
    fs: Any, entry: ListedFile, fmt: str, gzip: bool, encoding: str = "utf-8"
) -> tuple[pa.Schema, int | None]:
    from dataproduct_mcp.readers.records import RECORD_FORMATS, record_schema

    if fmt in RECORD_FORMATS:
        return record_schema(fmt, lambda: fs.open_input_file(entry.path), gzip, encoding, local=False)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(fs.open_input_file(entry.path))
        try:
            return pf.schema_arrow, pf.metadata.num_rows
        finally:
            pf.close()
    batches = _open_reader(fs, entry, fmt, gzip, None, encoding)
    try:
        first = next(batches, None)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if first is None:
        raise UnsupportedFormat(f"{entry.uri} holds no records: there is nothing to stream", format=fmt)
    return first.schema, None


def _partition_fields(listing: Listing) -> tuple[pa.Field, ...]:
    if listing.delta is not None:
        schema = listing.delta.schema
        return tuple(schema.field(name) for name in listing.delta.partition_columns)
    kinds = {"integer": pa.int64()}
    return tuple(pa.field(c.name, kinds.get(c.type, pa.string())) for c in listing.partition_columns)


def inspect_dataset(
    listing: Listing, storage: Storage, declared_format: str | None, encoding: str = "utf-8"
) -> tuple[DatasetSource, str, bool]:
    """``(dataset, format, gzip)``: the format (extensions, else the first file's content), the
    schemas and the per-file row counts known from metadata."""
    from dataproduct_mcp.readers.source import SOURCE_FORMATS
    from dataproduct_mcp.validators import registry

    if not listing.files:
        raise UnsupportedFormat(f"{listing.source} has no files: there is nothing to stream", format=None)
    fs = _fs(storage, listing)
    first = listing.files[0]
    with _guard(first.uri):
        with fs.open_input_file(first.path) as raw:
            head = raw.read(SNIFF_BYTES)
        opener = lambda: fs.open_input_file(first.path)  # noqa: E731
        validator, gzip, _ = registry.detect(
            PurePosixPath(first.path), head, declared_format or listing.format, opener=opener
        )
        fmt = validator.name
        if fmt not in SOURCE_FORMATS:
            raise UnsupportedFormat(
                f"{fmt} files cannot be streamed; streamable formats: {', '.join(SOURCE_FORMATS)}", format=fmt
            )
        partitions = _partition_fields(listing)
        names = {f.name for f in partitions}
        if listing.delta is not None:
            file_schema = pa.schema([f for f in listing.delta.schema if f.name not in names])
            rows: list[int | None] = [f.rows for f in listing.files]
        else:
            file_schema, first_rows = _first_schema(fs, first, fmt, gzip, encoding)
            rows = [first_rows] + [None] * (len(listing.files) - 1)
            if fmt == "parquet" and len(listing.files) <= FOOTER_COUNT_LIMIT:
                rows = [first_rows] + [_first_schema(fs, f, fmt, gzip)[1] for f in listing.files[1:]]
        clash = [n for n in file_schema.names if n in names]
        if clash:
            raise InvalidArgument(f"partition column(s) {clash} are also columns of the files", field="source")
    return DatasetSource(listing, storage, file_schema, partitions, tuple(rows)), fmt, gzip


def dataset_schema(dataset: DatasetSource) -> pa.Schema:
    if dataset.listing.delta is not None:
        return dataset.listing.delta.schema
    return pa.schema([*dataset.file_schema, *dataset.partition_fields])


def _align(batch: pa.RecordBatch, dataset: DatasetSource, entry: ListedFile) -> pa.RecordBatch:
    arrays = []
    for field in dataset.file_schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            raise InvalidArgument(f"{entry.uri} has no column {field.name!r} (schema-mismatch)", field="source")
        column = batch.column(index)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                message = f"{entry.uri}: column {field.name!r} is {column.type}, the dataset's is {field.type}"
                raise InvalidArgument(f"{message} (schema-mismatch)", field="source") from exc
        arrays.append(column)
    for field in dataset.partition_fields:
        value = dict(entry.partition).get(field.name)
        scalar = pa.scalar(value, pa.string()).cast(field.type) if value is not None else pa.scalar(None, field.type)
        arrays.append(pa.repeat(scalar, batch.num_rows))
    out = pa.RecordBatch.from_arrays(arrays, schema=pa.schema([*dataset.file_schema, *dataset.partition_fields]))
    return out.select(dataset_schema(dataset).names)


def dataset_batches(
    dataset: DatasetSource,
    fmt: str,
    gzip: bool,
    columns: list[str] | None,
    start_row: int,
    encoding: str = "utf-8",
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(first_row, batch)`` over every file in order; files wholly before ``start_row`` are
    skipped without reading when their row count is known."""
    fs = _fs(dataset, dataset.listing)
    row = 0
    for entry, known in zip(dataset.listing.files, dataset.file_rows, strict=True):
        if known is not None and row + known <= start_row:
            row += known
            continue
        with _guard(entry.uri):
            for batch in _open_reader(fs, entry, fmt, gzip, None, encoding):
                aligned = _align(batch, dataset, entry)
                yield row, aligned.select(columns) if columns else aligned
                row += batch.num_rows


def inspect_listing(
    listing: Listing,
    storage: Storage,
    declared_format: str | None,
    columns: list[str] | None,
    encoding: str = "utf-8",
) -> SourceInfo:
    """The stream source of a dataset (blocking)."""
    from dataproduct_mcp.readers.source import SourceInfo, select_columns

    dataset, fmt, gzip = inspect_dataset(listing, storage, declared_format, encoding)
    schema, selected = select_columns(dataset_schema(dataset), columns)
    known = dataset.file_rows
    rows_total = sum(r for r in known if r is not None) if all(r is not None for r in known) else None
    return SourceInfo(Path(listing.root), fmt, gzip, schema, selected, rows_total, dataset, encoding)
