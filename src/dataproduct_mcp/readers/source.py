"""Record batches from a data file, streamed: never the whole file in memory.

Blocking code (run it in a worker thread). :func:`inspect_source` opens a file, tells its
format (content first, extension second, via the validator registry), selects columns and
counts rows where the file's metadata says so; :func:`iter_rows` then yields record batches of
exactly ``batch_rows`` rows (the last may be shorter) starting at ``start_row``.

Per format:
- Parquet: ``ParquetFile.iter_batches`` over the row groups from the one holding ``start_row``
  (whole row groups are skipped through the footer metadata); ``rows_total`` from the footer.
- Arrow IPC file (and Feather v2): memory-mapped, batches by index; ``rows_total`` is the sum of
  the batches' lengths (read from the mapped file, no copy). IPC stream: read in order,
  ``rows_total`` unknown (null).
- CSV/TSV (optionally gzip): ``pyarrow.csv.open_csv`` block by block; JSON Lines (optionally
  gzip): ``pyarrow.json.open_json`` block by block. Types are inferred from the first block;
  ``rows_total`` is null (counting would read the whole file); ``start_row`` reads and drops.
- JSON documents (an array of objects, optionally gzip), Avro object container files and xlsx
  workbooks (the first sheet): decoded record by record into batches by :mod:`.records`
  (its docstring, :mod:`.avro` and :mod:`.xlsx` give the type mappings). Avro's
  ``rows_total`` comes from its block headers (cheap, for files of up to 20,000 blocks) and
  ``start_row`` skips whole blocks; the others' ``rows_total`` is null.

A dataset (directory, glob, object storage, Delta table) streams its files in order through
:mod:`.dataset` (``SourceInfo.dataset``). ``PathPolicy.open_source``
(:mod:`dataproduct_mcp.services.files`) is the one entry for any source a caller names (the path
policy first, then these readers): ``open_stream``, ``preview_data`` and ``profile``.

Text formats are UTF-8 unless ``encoding`` names another Python codec: the bytes are then
transcoded to UTF-8 as they are read (``pyarrow.transcoding_input_stream``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.json as pajson

from dataproduct_mcp.errors import FileNotFound, InvalidArgument, UnsupportedFormat
from dataproduct_mcp.readers.records import RECORD_FORMATS, record_batches, record_schema
from dataproduct_mcp.validators import registry

__all__ = [
    "SOURCE_FORMATS",
    "SourceInfo",
    "inspect_source",
    "iter_rows",
    "select_columns",
    "text_stream",
]

SOURCE_FORMATS = ("parquet", "arrow", "csv", "tsv", "jsonl", "json", "avro", "xlsx")
TEXT_BLOCK_BYTES = 4 * 1024 * 1024
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourceInfo:
    path: Path
    format: str
    gzip: bool
    schema: pa.Schema
    columns: tuple[str, ...] | None
    rows_total: int | None
    dataset: Any = None  # a readers.dataset.DatasetSource when the source is not one local file
    encoding: str = "utf-8"  # of text formats (CSV, TSV, JSON Lines, JSON)


def text_stream(raw: Any, encoding: str) -> Any:
    """``raw`` as UTF-8: transcoded as it is read when ``encoding`` is another codec."""
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        return raw
    return pa.transcoding_input_stream(raw, src_encoding=encoding, dest_encoding="utf-8")


def inspect_source(
    path: Path, declared_format: str | None, columns: list[str] | None, encoding: str = "utf-8"
) -> SourceInfo:
    """Tell the format, read the schema (and row count where metadata has it); check ``columns``."""
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        raise FileNotFound(f"cannot read {path.name}: {exc.strerror}") from exc
    if not head:
        raise UnsupportedFormat("the file is empty: there is nothing to stream", format=None)
    validator, is_gzip, _ = registry.detect(path, head, declared_format)
    fmt = validator.name
    if fmt not in SOURCE_FORMATS:
        raise UnsupportedFormat(
            f"{fmt} files cannot be streamed; streamable formats: {', '.join(SOURCE_FORMATS)}",
            format=fmt,
            suggestion="Convert the file to one of the streamable formats, or validate it instead.",
        )
    try:
        schema, rows_total = _schema_and_rows(path, fmt, is_gzip, encoding)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnsupportedFormat(f"cannot read {path.name} as {fmt}: {exc}", format=fmt) from exc
    schema, selected = select_columns(schema, columns)
    return SourceInfo(path, fmt, is_gzip, schema, selected, rows_total, encoding=encoding)


def select_columns(schema: pa.Schema, columns: list[str] | None) -> tuple[pa.Schema, tuple[str, ...] | None]:
    """The schema of the selected ``columns`` (all when None), checked against ``schema``."""
    selected = tuple(columns) if columns else None
    if selected:
        names = set(schema.names)
        missing = [c for c in selected if c not in names]
        if missing:
            raise InvalidArgument(f"unknown column(s) {missing}; the file has {schema.names[:50]}", field="columns")
        if len(set(selected)) != len(selected):
            raise InvalidArgument("columns lists a name twice", field="columns")
        schema = pa.schema([schema.field(c) for c in selected])
    return schema, selected


def _schema_and_rows(path: Path, fmt: str, is_gzip: bool, encoding: str) -> tuple[pa.Schema, int | None]:
    if fmt in RECORD_FORMATS:
        return record_schema(fmt, lambda: open(path, "rb"), is_gzip, encoding, local=True)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        try:
            return pf.schema_arrow, pf.metadata.num_rows
        finally:
            pf.close()
    if fmt == "arrow":
        with pa.memory_map(str(path), "r") as source:
            try:
                reader = ipc.open_file(source)
            except pa.ArrowInvalid:
                source.seek(0)
                return ipc.open_stream(source).schema, None
            total = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            return reader.schema, total
    with _text_reader(path, fmt, is_gzip, encoding=encoding) as reader:
        return reader.schema, None


class _text_reader:
    """A CSV/TSV/JSON Lines batch reader with its input stream, as a context manager."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        is_gzip: bool,
        columns: tuple[str, ...] | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self.stream = pa.input_stream(str(path), compression="gzip" if is_gzip else None)
        try:
            text = text_stream(self.stream, encoding)
            if fmt == "jsonl":
                self.reader = pajson.open_json(text, read_options=pajson.ReadOptions(block_size=TEXT_BLOCK_BYTES))
            else:
                self.reader = pacsv.open_csv(
                    text,
                    read_options=pacsv.ReadOptions(block_size=TEXT_BLOCK_BYTES),
                    parse_options=pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ","),
                    convert_options=pacsv.ConvertOptions(include_columns=list(columns) if columns else None),
                )
        except BaseException:
            self.stream.close()
            raise
        self.schema: pa.Schema = self.reader.schema

    def __enter__(self) -> _text_reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                yield self.reader.read_next_batch()
            except StopIteration:
                return


def _raw_batches(info: SourceInfo, batch_rows: int, start_row: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(first_row, batch)`` pairs from the file; batches before ``start_row`` may be skipped whole."""
    cols = list(info.columns) if info.columns else None
    if info.dataset is not None:
        from dataproduct_mcp.readers.dataset import dataset_batches

        yield from dataset_batches(info.dataset, info.format, info.gzip, cols, start_row, info.encoding)
        return
    if info.format in RECORD_FORMATS:
        opener = lambda: open(info.path, "rb")  # noqa: E731
        yield from record_batches(info.format, opener, info.gzip, info.encoding, info.schema, batch_rows, start_row)
        return
    if info.format == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(info.path)
        try:
            meta = pf.metadata
            first_group, row = 0, 0
            while first_group < meta.num_row_groups and row + meta.row_group(first_group).num_rows <= start_row:
                row += meta.row_group(first_group).num_rows
                first_group += 1
            groups = list(range(first_group, meta.num_row_groups))
            if groups:
                for batch in pf.iter_batches(batch_size=batch_rows, row_groups=groups, columns=cols):
                    yield row, batch
                    row += batch.num_rows
        finally:
            pf.close()
        return
    if info.format == "arrow":
        with pa.memory_map(str(info.path), "r") as source:
            try:
                file_reader = ipc.open_file(source)
            except pa.ArrowInvalid:
                source.seek(0)
                row = 0
                for batch in ipc.open_stream(source):
                    yield row, _select(batch, cols)
                    row += batch.num_rows
                return
            row = 0
            for i in range(file_reader.num_record_batches):
                batch = file_reader.get_batch(i)
                if row + batch.num_rows > start_row:
                    yield row, _select(batch, cols)
                row += batch.num_rows
        return
    with _text_reader(info.path, info.format, info.gzip, info.columns, info.encoding) as reader:
        row = 0
        for batch in reader:
            yield row, _select(batch, cols)
            row += batch.num_rows


def _select(batch: pa.RecordBatch, cols: list[str] | None) -> pa.RecordBatch:
    return batch.select(cols) if cols else batch


def iter_rows(info: SourceInfo, batch_rows: int, start_row: int) -> Generator[tuple[int, pa.RecordBatch], None, None]:
    """``(first_row, batch)`` with batches of exactly ``batch_rows`` rows (the last may be
    shorter), from row ``start_row`` (0-based) on; memory holds at most one batch plus one block."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    next_row = start_row
    for row, batch in _raw_batches(info, batch_rows, start_row):
        if row + batch.num_rows <= start_row:
            continue
        if row < start_row:
            batch = batch.slice(start_row - row)
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= batch_rows:
            merged = pending[0] if len(pending) == 1 else pa.concat_batches(pending)
            out = merged.slice(0, batch_rows)
            rest = merged.slice(batch_rows)
            yield next_row, out
            next_row += batch_rows
            pending = [rest] if rest.num_rows else []
            pending_rows = rest.num_rows
    if pending_rows:
        merged = pending[0] if len(pending) == 1 else pa.concat_batches(pending)
        yield next_row, merged
