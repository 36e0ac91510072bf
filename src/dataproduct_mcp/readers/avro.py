"""Record batches from Avro object container files, with fastavro (the validator's: its codec
readers bound every decompressed block, so a decompression bomb is an error, not memory).

The Arrow schema comes from the writer schema in the header:

    Avro                                   Arrow
    null, boolean, int, long               null, bool, int32, int64
    float, double, bytes, string           float32, float64, binary, string
    enum / fixed(n)                        string / fixed_size_binary(n)
    date                                   date32
    timestamp-millis / -micros             timestamp[ms/us, tz=UTC]
    local-timestamp-millis / -micros       timestamp[ms/us]
    time-millis / time-micros              time32[ms] / time64[us]
    decimal(p, s), p <= 38                 decimal128(p, s)   (p > 38: string)
    uuid                                   string
    ["null", T]                            T, nullable
    array<T> / map<T> / record             list<T> / map<string, T> / struct   (when T maps so)
    any other union, a recursive type,     string: the value as JSON text (bytes as latin-1
    a container holding one of those      text, decimals, dates and uuids as strings)

A top-level schema that is not a record is one column, ``value``. Other logical types are read as
their underlying type (fastavro does not convert them either). ``rows_total`` of a local file is
the sum of its blocks' record counts, read from the block headers by seeking past each block
(nothing is decompressed), for files of up to ``COUNT_BLOCK_LIMIT`` blocks; otherwise null.
``start_row`` skips whole blocks without decoding their records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import IO, Any

import pyarrow as pa

from dataproduct_mcp.readers.records import (
    BLOCK_BYTES,
    Opener,
    guarded,
    guarded_iter,
    records_batch,
)
from dataproduct_mcp.validators.formats.avro import PRIMITIVE_ARROW

__all__ = ["avro_batches", "avro_schema"]

COUNT_BLOCK_LIMIT = 20_000
VALUE_COLUMN = "value"

_LOGICAL: dict[str, pa.DataType] = {  # keyed as fastavro's LOGICAL_READERS: what it converts
    "int-date": pa.date32(),
    "long-timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "long-timestamp-micros": pa.timestamp("us", tz="UTC"),
    "long-local-timestamp-millis": pa.timestamp("ms"),
    "long-local-timestamp-micros": pa.timestamp("us"),
    "int-time-millis": pa.time32("ms"),
    "long-time-micros": pa.time64("us"),
}


class _NotNative(Exception):
    """The Avro type has no Arrow type its fastavro values convert to as they are."""


def _native(avro: Any, named: dict[str, Any], stack: tuple[str, ...]) -> tuple[pa.DataType, bool]:
    """``(Arrow type, nullable)`` whose pyarrow conversion takes fastavro's values unchanged."""
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) != 1:
            raise _NotNative
        return _native(branches[0], named, stack)[0], len(branches) < len(avro)
    if isinstance(avro, str):
        if avro in PRIMITIVE_ARROW:
            return PRIMITIVE_ARROW[avro], False
        if avro in stack or avro not in named:
            raise _NotNative  # recursive
        return _native(named[avro], named, stack)[0], False
    kind = avro.get("type")
    logical = avro.get("logicalType")
    if isinstance(kind, str) and logical is not None:
        key = f"{'bytes' if kind == 'fixed' else kind}-{logical}"
        if key in _LOGICAL:
            return _LOGICAL[key], False
        if logical == "decimal" and kind in ("bytes", "fixed"):
            precision, scale = int(avro.get("precision", 0)), int(avro.get("scale", 0))
            if 1 <= precision <= 38:
                return pa.decimal128(precision, scale), False
            raise _NotNative
        if logical == "uuid":
            raise _NotNative  # fastavro gives uuid.UUID objects
    if kind in ("record", "error"):
        name = str(avro.get("name"))
        named[name] = avro
        fields = []
        for field in avro.get("fields", []):
            t, nullable = _native(field["type"], named, (*stack, name))
            fields.append(pa.field(field["name"], t, nullable))
        return pa.struct(fields), False
    if kind == "enum":
        named[str(avro.get("name"))] = avro
        return pa.string(), False
    if kind == "fixed":
        named[str(avro.get("name"))] = avro
        return pa.binary(int(avro["size"])), False
    if kind == "array":
        return pa.list_(_native(avro["items"], named, stack)[0]), False
    if kind == "map":
        return pa.map_(pa.string(), _native(avro["values"], named, stack)[0]), False
    if isinstance(kind, str | list | dict):
        return _native(kind, named, stack)
    raise _NotNative


def _register(avro: Any, named: dict[str, Any]) -> None:
    """Remember the named types a field defines (a later field may refer to them by name)."""
    if isinstance(avro, list):
        for branch in avro:
            _register(branch, named)
    elif isinstance(avro, dict):
        if avro.get("type") in ("record", "error", "enum", "fixed") and "name" in avro:
            named.setdefault(str(avro["name"]), avro)
        for field in avro.get("fields", []):
            _register(field.get("type"), named)
        for key in ("items", "values"):
            if key in avro:
                _register(avro[key], named)
        if isinstance(avro.get("type"), dict | list):
            _register(avro["type"], named)


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _column(avro: Any, named: dict[str, Any]) -> tuple[pa.DataType, bool, Callable[[Any], Any] | None]:
    """A top-level field: ``(type, nullable, conversion of its non-null values or None)``."""
    try:
        t, nullable = _native(avro, dict(named), ())
        return t, nullable, None
    except _NotNative:
        pass
    branches = [b for b in avro if b != "null"] if isinstance(avro, list) else [avro]
    nullable = isinstance(avro, list) and len(branches) < len(avro)
    only = branches[0] if len(branches) == 1 else None
    if isinstance(only, dict) and only.get("logicalType") in ("uuid", "decimal"):
        return pa.string(), nullable, str
    return pa.string(), True, lambda v: json.dumps(v, ensure_ascii=False, default=_json_value)


class _Layout:
    """The Arrow schema of a writer schema, and the conversions its columns need."""

    def __init__(self, writer_schema: Any) -> None:
        self.wrapped = not (isinstance(writer_schema, dict) and writer_schema.get("type") in ("record", "error"))
        fields = [{"name": VALUE_COLUMN, "type": writer_schema}] if self.wrapped else writer_schema["fields"]
        named: dict[str, Any] = {}
        arrow_fields = []
        self.convert: dict[str, Callable[[Any], Any]] = {}
        for field in fields:
            t, nullable, convert = _column(field["type"], named)
            _register(field["type"], named)
            arrow_fields.append(pa.field(field["name"], t, nullable))
            if convert is not None:
                self.convert[field["name"]] = convert
        self.schema = pa.schema(arrow_fields)

    def record(self, value: Any) -> dict[str, Any]:
        record = {VALUE_COLUMN: value} if self.wrapped else value
        for name, convert in self.convert.items():
            v = record.get(name)
            if v is not None:
                record[name] = convert(v)
        return record  # type: ignore[no-any-return]


def _blocks(fo: IO[bytes]) -> Any:
    from dataproduct_mcp.validators.formats.avro import bounded_fastavro

    return bounded_fastavro().block_reader(fo)


def avro_schema(opener: Opener, *, count_rows: bool) -> tuple[pa.Schema, int | None]:
    def work() -> tuple[pa.Schema, int | None]:
        with opener() as fo:
            layout = _Layout(_blocks(fo).writer_schema)
            return layout.schema, _count_rows(fo) if count_rows else None

    return guarded("avro", work)  # type: ignore[no-any-return]


def avro_batches(
    opener: Opener, schema: pa.Schema, block_rows: int, start_row: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    def batches() -> Iterator[tuple[int, pa.RecordBatch]]:
        with opener() as fo:
            blocks = _blocks(fo)
            layout = _Layout(blocks.writer_schema)
            row = 0
            records: list[dict[str, Any]] = []
            size = 0
            for block in blocks:
                if not records and row + block.num_records <= start_row:
                    row += block.num_records  # decompressed, not decoded
                    continue
                per_record = _inflated(block) // max(block.num_records, 1)
                for value in block:
                    records.append(layout.record(value))
                    size += per_record
                    if len(records) >= block_rows or size >= BLOCK_BYTES:
                        yield row, records_batch("avro", records, schema, row)
                        row += len(records)
                        records, size = [], 0
            if records:
                yield row, records_batch("avro", records, schema, row)

    return guarded_iter("avro", batches())


def _inflated(block: Any) -> int:
    """A block's decompressed size (what its records take to decode), else its stored size."""
    try:
        return len(block.bytes_.getbuffer())
    except (AttributeError, TypeError, ValueError):
        return int(block.size)


# -- counting rows from the block headers ----------------------------------------------------


def _long(data: bytes, at: int) -> tuple[int, int]:
    """Avro's zig-zag varint at ``data[at:]``: ``(value, next position)``."""
    shift = result = 0
    while True:
        if at >= len(data) or shift > 63:
            raise EOFError("truncated or invalid Avro long")
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), at
        shift += 7


def _count_rows(fo: IO[bytes]) -> int | None:
    """The sum of the block counts of a local file, by positioned reads of each block's header
    (the file object itself is not moved)."""
    try:
        fd = fo.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    size = os.fstat(fd).st_size
    pos, sync = _header_end(fd)
    rows = 0
    for _ in range(COUNT_BLOCK_LIMIT):
        if pos == size:
            return rows
        head = os.pread(fd, 20, pos)
        count, at = _long(head, 0)
        length, at = _long(head, at)
        pos += at + length
        if count < 0 or length < 0 or pos + 16 > size or os.pread(fd, 16, pos) != sync:
            return None  # corrupt: the reader says where
        rows += count
        pos += 16
    return None


def _long_at(fd: int, pos: int) -> tuple[int, int]:
    value, used = _long(os.pread(fd, 10, pos), 0)
    return value, pos + used


def _header_end(fd: int) -> tuple[int, bytes]:
    """``(offset of the first block, sync marker)``: past the magic and the metadata map (fastavro
    has parsed the header already, so it is well-formed)."""
    pos = 4
    while True:
        count, pos = _long_at(fd, pos)
        if count == 0:
            return pos + 16, os.pread(fd, 16, pos)
        if count < 0:  # a map block with its byte size
            count = -count
            pos = _long_at(fd, pos)[1]
        for _ in range(2 * count):  # key, value: length-prefixed bytes
            length, pos = _long_at(fd, pos)
            pos += max(length, 0)
