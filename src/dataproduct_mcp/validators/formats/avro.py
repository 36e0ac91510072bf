"""Apache Avro object container files: header, schema, every block decoded, sync markers.

Read sequentially through the hashing :meth:`Source.open` stream (fastavro needs no seeking),
so the sha256 costs no second pass. Every block is decompressed and every record decoded; a
corrupt block, a wrong sync marker, a truncated file or a codec failure is a ``format-error``
at the first record of that block, and reading stops there (Avro has no index to resume from).
Declared schemas are checked record by record with the shared tabular checker.

Memory: fastavro inflates a whole block at once, so the block readers of the codecs it ships with
(deflate, bzip2, xz) are replaced at import by bounded ones: a block that inflates beyond
``MAX_BLOCK_BYTES`` (or ``options.max_uncompressed_bytes`` if smaller) is a ``format-error``,
not gigabytes of memory (a decompression bomb). Records are checked as they are decoded, never
held a block at a time. (fastavro documents ``BLOCK_READERS`` as its codec extension point; the
bound applies to any other fastavro reader in the process too, which is what a server wants.)
fastavro is imported, and its readers replaced, when the first Avro file is validated
(:func:`bounded_fastavro`): detecting formats or validating other ones does not load it.
"""

from __future__ import annotations

import bz2
import io
import lzma
import threading
import zlib
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import IO, Any, cast

import pyarrow as pa

from dataproduct_mcp.domain.validation import ColumnInfo, FindingCode
from dataproduct_mcp.validators._batches import declared_checker
from dataproduct_mcp.validators.base import (
    ByteStream,
    Cancelled,
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
)
from dataproduct_mcp.validators.formats import SPECS

__all__ = ["VALIDATOR", "AvroValidator"]

MAGIC = b"Obj\x01"
DRAIN_CHUNK = 1 << 20
MAX_BLOCK_BYTES = 64 << 20  # one decompressed block; real writers use kilobytes to a few MiB


class BlockTooLarge(ValueError):
    """A compressed block inflates beyond the bound (reported as a corrupt block)."""


_bound = threading.local()  # validations run on worker threads: each has its own bound


def _limit() -> int:
    return int(getattr(_bound, "bytes", MAX_BLOCK_BYTES))


def _read_long(fo: Any) -> int:
    """Avro's zig-zag varint, from a file object (what fastavro's compiled reader hands codecs)."""
    shift = result = 0
    while True:
        byte = fo.read(1)
        if not byte:
            raise EOFError("truncated block length")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return (result >> 1) ^ -(result & 1)
        shift += 7
        if shift > 63:
            raise ValueError("block length is not a valid Avro long")


def _block_bytes(fo: Any) -> bytes:
    if hasattr(fo, "read_bytes"):  # fastavro's pure-Python reader passes a decoder
        return cast(bytes, fo.read_bytes())
    size = _read_long(fo)
    if size < 0:
        raise ValueError(f"negative block size {size}")
    data = cast(bytes, fo.read(size))
    if len(data) != size:
        raise EOFError(f"block truncated: {len(data)} of {size} bytes")
    return data


def _inflate(make: Callable[[], Any], data: bytes) -> bytes:
    """``data`` through a fresh decompressor, refusing to produce more than the bound."""
    limit = _limit()
    decompressor = make()
    out = decompressor.decompress(data, limit)
    if hasattr(decompressor, "unconsumed_tail"):  # zlib: input left over means output was held back
        more = bool(decompressor.unconsumed_tail)
    else:  # bz2 / lzma
        more = not decompressor.eof and not decompressor.needs_input
    if more:
        raise BlockTooLarge(f"a block inflates to more than {limit} bytes (a decompression bomb?)")
    return cast(bytes, out)


def _bounded_reader(make: Callable[[], Any]) -> Callable[[Any], io.BytesIO]:
    def read_block(fo: Any) -> io.BytesIO:
        return io.BytesIO(_inflate(make, _block_bytes(fo)))

    return read_block


@cache
def bounded_fastavro() -> ModuleType:
    """fastavro, with the bounded block readers installed (module docstring)."""
    import fastavro
    import fastavro.read

    fastavro.read.BLOCK_READERS.update(
        {
            "deflate": _bounded_reader(lambda: zlib.decompressobj(-15)),
            "bzip2": _bounded_reader(bz2.BZ2Decompressor),
            "xz": _bounded_reader(lzma.LZMADecompressor),
        }
    )
    return fastavro


#: Avro primitive types as Arrow types (the stream readers use the same map: readers/avro.py).
PRIMITIVE_ARROW: dict[str, pa.DataType] = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_LOGICAL_ARROW: dict[str, pa.DataType] = {
    "date": pa.date32(),
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "local-timestamp-millis": pa.timestamp("ms"),
    "local-timestamp-micros": pa.timestamp("us"),
    "time-millis": pa.time32("ms"),
    "time-micros": pa.time64("us"),
    "uuid": pa.string(),
}


class _Positioned:
    """fastavro asks the stream for ``tell()``; the hashing stream only counts what it read."""

    def __init__(self, raw: ByteStream) -> None:
        self._raw = raw
        self.position = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position


def _field_type(avro_type: Any) -> tuple[pa.DataType | None, bool, str]:
    """(Arrow type or None when not a flat type, nullable, readable type name) of an Avro field type."""
    nullable = False
    if isinstance(avro_type, list):  # union
        branches = [b for b in avro_type if b != "null"]
        nullable = len(branches) < len(avro_type)
        if len(branches) != 1:
            return None, nullable, "union"
        avro_type = branches[0]
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical in _LOGICAL_ARROW:
            return _LOGICAL_ARROW[logical], nullable, logical
        if logical == "decimal":
            return pa.float64(), nullable, "decimal"
        kind = avro_type.get("type")
        if isinstance(kind, str) and kind in PRIMITIVE_ARROW:
            return PRIMITIVE_ARROW[kind], nullable, kind
        if kind == "enum":
            return pa.string(), nullable, "enum"
        return None, nullable, str(kind)
    if isinstance(avro_type, str) and avro_type in PRIMITIVE_ARROW:
        return PRIMITIVE_ARROW[avro_type], nullable, avro_type
    return None, nullable, str(avro_type)


_CONTRACT = {
    "int": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
    "decimal": "number",
    "string": "string",
    "uuid": "string",
    "enum": "string",
    "boolean": "boolean",
    "date": "date",
    "timestamp-millis": "datetime",
    "timestamp-micros": "datetime",
    "local-timestamp-millis": "datetime",
    "local-timestamp-micros": "datetime",
}


class AvroValidator:
    name, title, extensions, media_type, checks, binary = SPECS["avro"].fields()

    def sniff(self, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        result = FormatResult()
        if source.size == 0:
            ctx.findings.error(FindingCode.empty_file, "the file is empty")
            return result
        stream = source.open()
        cancelled = False
        try:
            self._read(_Positioned(stream), source, ctx, result)
        except Cancelled:
            cancelled = True
            raise
        finally:
            try:
                if not cancelled:  # the report's sha256 covers the whole file
                    while stream.read(DRAIN_CHUNK):
                        pass
            finally:
                stream.close()
        return result

    def _read(self, fo: _Positioned, source: Source, ctx: ValidationContext, result: FormatResult) -> None:
        findings = ctx.findings
        ctx.check("magic")
        head = fo.read(4)
        if head != MAGIC:
            findings.error(FindingCode.format_error, "not an Avro container file: no Obj\\x01 magic", byte_offset=0)
            return
        ctx.check("header")
        try:
            blocks = bounded_fastavro().block_reader(cast(IO[bytes], _Prefixed(head, fo)))
            writer_schema = blocks.writer_schema
            codec = blocks.metadata.get("avro.codec", "null")
        except (Cancelled, TimeBudgetExceeded):
            raise
        except Exception as exc:  # EOFError, ValueError (codec, schema), UnicodeDecodeError, ...
            findings.error(FindingCode.format_error, f"corrupt Avro header: {exc}", byte_offset=0)
            return
        record = writer_schema if isinstance(writer_schema, dict) else {}
        fields = record.get("fields", [])
        arrow_fields: list[pa.Field] = []
        for field in fields:
            arrow_type, nullable, type_name = _field_type(field["type"])
            result.columns.append(
                ColumnInfo(name=field["name"], type=_CONTRACT.get(type_name, type_name), nullable=nullable)
            )
            arrow_fields.append(pa.field(field["name"], arrow_type or pa.null(), nullable))
        result.extra = {"codec": codec, "schema_name": record.get("name")}
        checker = declared_checker(pa.schema(arrow_fields), ctx)
        if ctx.options.schema is not None and not fields:
            findings.error(FindingCode.schema_mismatch, "the Avro schema is not a record: it has no columns")
        for name in ("blocks", "sync-markers", "codec", "records"):
            ctx.check(name)
        _bound.bytes = min(MAX_BLOCK_BYTES, ctx.options.max_uncompressed_bytes)  # for this validation only
        try:
            rows = 0
            count = 0
            iterator = iter(blocks)
            while True:
                start = fo.tell()
                decoded = 0
                try:
                    block = next(iterator)
                    for value in block:
                        decoded += 1
                        if checker is not None:
                            checker.check_mapping_typed(value if isinstance(value, dict) else {}, row=rows + decoded)
                except StopIteration:
                    break
                except (Cancelled, TimeBudgetExceeded):
                    raise
                except Exception as exc:
                    findings.error(
                        FindingCode.format_error,
                        f"block {count} is corrupt ({type(exc).__name__}: {exc}); the rest of the file is not checked",
                        row=rows + decoded + 1,
                        byte_offset=start,
                    )
                    break
                rows += block.num_records
                count += 1
                ctx.checkpoint(fo.tell())
        finally:
            del _bound.bytes
        result.rows = rows
        result.extra["blocks"] = count


class _Prefixed:
    """Puts back the magic bytes already read, so fastavro sees the file from its start."""

    def __init__(self, prefix: bytes, fo: _Positioned) -> None:
        self._prefix = prefix
        self._fo = fo

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n < 0:
                data, self._prefix = self._prefix + self._fo.read(), b""
                return data
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            return data + (self._fo.read(n - len(data)) if n > len(data) else b"")
        return self._fo.read(n)

    def tell(self) -> int:
        return self._fo.tell() - len(self._prefix)


VALIDATOR = AvroValidator()
