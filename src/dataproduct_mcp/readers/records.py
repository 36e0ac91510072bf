"""Record batches from the formats pyarrow has no batch reader for: JSON documents (a top-level
array of objects), Avro object container files (:mod:`.avro`) and xlsx workbooks
(:mod:`.xlsx`). :mod:`.source` and :mod:`.dataset` call them through
:func:`record_schema` and :func:`record_batches`, with an ``opener`` that opens the file (a local
path or an object of a dataset's filesystem), so every caller of the one reader gets them.

Blocking code, bounded memory: records are decoded one at a time and gathered into batches of at
most ``block_rows`` rows and about ``BLOCK_BYTES`` of input; a schema is decided once, when the
source is inspected, from the first ``INFER_RECORDS`` records (at most ``INFER_BYTES``) — Avro's
comes from its header. A value that does not fit its column later is ``unsupported-format``
naming the column and the row, as the CSV and JSON Lines readers do; nothing is cast or dropped
silently, and a string column takes any value (as JSON text).

JSON: the array is read element by element with :meth:`json.JSONDecoder.raw_decode` over a text
window (the validator's method), so memory holds the window and one element, at most
``MAX_RECORD_BYTES``; gzip and ``encoding`` as for the other text formats. The columns are the
keys of the sampled objects in first-seen order; their types are pyarrow's inference over the
sample (nested objects and arrays become structs and lists); a column of mixed types, or with
no value in the sample, is a string column (non-string values as JSON text). A key that the
sample did not have, an element that is not an object, a syntax error or a document that is not
an array is ``unsupported-format``. ``rows_total`` is null.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from typing import IO, Any

import pyarrow as pa

from dataproduct_mcp.errors import DpError, UnsupportedFormat

__all__ = [
    "RECORD_FORMATS",
    "Opener",
    "column_array",
    "guarded",
    "guarded_iter",
    "infer_type",
    "json_text",
    "record_batches",
    "record_schema",
    "records_batch",
    "unreadable",
]

RECORD_FORMATS = ("json", "avro", "xlsx")
INFER_RECORDS = 1000
INFER_BYTES = 4 * 1024 * 1024
BLOCK_BYTES = 4 * 1024 * 1024
MAX_BLOCK_ROWS = 64 * 1024
MAX_RECORD_BYTES = 16 * 1024 * 1024  # one JSON element (the validator's default max_line_bytes)
READ_CHUNK = 1 << 20

Opener = Callable[[], IO[bytes]]  # opens the file from its start (seekable for xlsx and Avro counts)


def unreadable(fmt: str, message: str) -> UnsupportedFormat:
    return UnsupportedFormat(f"cannot read the file as {fmt}: {message}"[:400], format=fmt)


def record_schema(fmt: str, opener: Opener, gzip: bool, encoding: str, *, local: bool) -> tuple[pa.Schema, int | None]:
    """``(schema, rows_total)`` of a file of one of :data:`RECORD_FORMATS` (``local``: a file on
    this machine, where Avro's row count is cheap to read)."""
    if fmt == "avro":
        from dataproduct_mcp.readers.avro import avro_schema

        return avro_schema(opener, count_rows=local)
    if fmt == "xlsx":
        from dataproduct_mcp.readers.xlsx import xlsx_schema

        return xlsx_schema(opener), None
    return guarded(fmt, lambda: _json_schema(opener, gzip, encoding)), None


def record_batches(
    fmt: str, opener: Opener, gzip: bool, encoding: str, schema: pa.Schema, block_rows: int, start_row: int = 0
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(first_row, batch)`` of ``schema``'s columns (a selection of the file's) in file order;
    batches wholly before ``start_row`` may be skipped without being built."""
    rows = max(1, min(block_rows, MAX_BLOCK_ROWS))
    if fmt == "avro":
        from dataproduct_mcp.readers.avro import avro_batches

        return avro_batches(opener, schema, rows, start_row)
    if fmt == "xlsx":
        from dataproduct_mcp.readers.xlsx import xlsx_batches

        return xlsx_batches(opener, schema, rows)
    return _json_batches(opener, gzip, encoding, schema, rows)


def guarded(fmt: str, work: Callable[[], Any]) -> Any:
    """``work()`` with a parser's failure (anything but a storage error) as ``unsupported-format``."""
    try:
        return work()
    except DpError:
        raise
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise unreadable(fmt, str(exc)) from exc
    except Exception as exc:  # json, zipfile, openpyxl, fastavro: ValueError, KeyError, EOFError, ...
        raise unreadable(fmt, f"{type(exc).__name__}: {exc}") from exc


# -- columns ---------------------------------------------------------------------------------


def _has_null(t: pa.DataType) -> bool:
    if pa.types.is_null(t):
        return True
    return any(_has_null(t.field(i).type) for i in range(t.num_fields))


def infer_type(values: list[Any]) -> pa.DataType:
    """pyarrow's type of sampled Python values; string when they are mixed or have no value."""
    try:
        t = pa.array(values).type
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return pa.string()
    return pa.string() if _has_null(t) else t


def json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def column_array(fmt: str, name: str, values: list[Any], t: pa.DataType, first_row: int) -> pa.Array:
    """One column of a batch; a value that is not of the column's type is ``unsupported-format``."""
    if pa.types.is_string(t):
        values = [None if v is None else json_text(v) for v in values]
    try:
        return pa.array(values, type=t)
    except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
        rows = f"rows {first_row + 1}-{first_row + len(values)}"
        raise unreadable(
            fmt, f"column {name!r} is {t} (inferred from the first records) but {rows} hold other values: {exc}"
        ) from exc


def records_batch(fmt: str, records: list[dict[str, Any]], schema: pa.Schema, first_row: int) -> pa.RecordBatch:
    arrays = [column_array(fmt, f.name, [r.get(f.name) for r in records], f.type, first_row) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# -- JSON documents --------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WS = " \t\n\r"


class _JsonArray:
    """The elements of a top-level JSON array, decoded one by one from a text window."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()  # strict: bad bytes are an error
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.count = 0

    def _fill(self, want: int = READ_CHUNK) -> None:
        data = self.raw.read(max(READ_CHUNK, want))
        self.eof = not data
        text = self.decoder.decode(data, final=self.eof)
        self.buf = self.buf[self.pos :] + text
        self.pos = 0

    def _skip_ws(self) -> bool:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return True
            if self.eof:
                return False
            self._fill()

    def _value(self) -> tuple[Any, int]:
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise unreadable("json", f"syntax error in element {self.count + 1}: {exc.msg}") from None
                held = len(self.buf) - self.pos
                if held > MAX_RECORD_BYTES:
                    raise unreadable(
                        "json", f"element {self.count + 1} is longer than {MAX_RECORD_BYTES} bytes or malformed"
                    ) from None
                self._fill(held)  # maybe only cut by the window: read on (doubling) and decode again
                continue
            except RecursionError:
                raise unreadable("json", f"element {self.count + 1} is nested too deeply") from None
            if end == len(self.buf) and not self.eof:
                self._fill()  # a number touching the window's end may go on
                continue
            return value, end

    def __iter__(self) -> Iterator[tuple[dict[str, Any], int]]:
        """``(object, its length in characters)`` per element."""
        if not self._skip_ws():
            raise unreadable("json", "the file holds no JSON value")
        if self.buf[self.pos] != "[":
            raise unreadable("json", "the document is not an array of records")
        self.pos += 1
        while True:
            if not self._skip_ws():
                raise unreadable("json", "the file ends inside the array")
            c = self.buf[self.pos]
            if c == "]":
                self.pos += 1
                if self._skip_ws():
                    raise unreadable("json", "extra data after the array")
                return
            if self.count:
                if c != ",":
                    raise unreadable("json", f"expected ',' or ']' after element {self.count}")
                self.pos += 1
                if not self._skip_ws() or self.buf[self.pos] == "]":
                    raise unreadable("json", f"a trailing comma or the file's end after element {self.count}")
            value, end = self._value()
            self.count += 1
            if not isinstance(value, dict):
                raise unreadable("json", f"element {self.count} is a JSON {type(value).__name__}, not an object")
            yield value, end - self.pos
            self.pos = end


class _json_file:
    """The file's text as UTF-8 bytes (gunzipped, transcoded), as a context manager."""

    def __init__(self, opener: Opener, gzip: bool, encoding: str) -> None:
        from dataproduct_mcp.readers.source import text_stream

        self.raw = opener()
        try:
            self.stream = text_stream(pa.input_stream(self.raw, compression="gzip" if gzip else None), encoding)
        except BaseException:
            self.raw.close()
            raise

    def __enter__(self) -> IO[bytes]:
        return self.stream  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def _json_schema(opener: Opener, gzip: bool, encoding: str) -> pa.Schema:
    sample: list[dict[str, Any]] = []
    size = 0
    with _json_file(opener, gzip, encoding) as stream:
        for record, chars in _JsonArray(stream):
            sample.append(record)
            size += chars
            if len(sample) >= INFER_RECORDS or size >= INFER_BYTES:
                break
    if not sample:
        raise unreadable("json", "the array holds no records: there is nothing to read")
    names = list(dict.fromkeys(k for r in sample for k in r))
    return pa.schema([pa.field(n, infer_type([r.get(n) for r in sample])) for n in names])


def _json_batches(
    opener: Opener, gzip: bool, encoding: str, schema: pa.Schema, block_rows: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    def batches() -> Iterator[tuple[int, pa.RecordBatch]]:
        with _json_file(opener, gzip, encoding) as stream:
            known: set[str] = set()  # the keys of the records the schema was inferred from
            sampled = sampled_size = 0
            records: list[dict[str, Any]] = []
            size = row = 0
            for record, chars in _JsonArray(stream):
                if sampled < INFER_RECORDS and sampled_size < INFER_BYTES:  # as in _json_schema
                    known.update(record)
                    sampled += 1
                    sampled_size += chars
                elif not record.keys() <= known:
                    extra = sorted(set(record) - known)[:5]
                    where = row + len(records) + 1
                    raise unreadable("json", f"record {where} has keys {extra} that the first records do not have")
                records.append(record)
                size += chars
                if len(records) >= block_rows or size >= BLOCK_BYTES:
                    yield row, records_batch("json", records, schema, row)
                    row += len(records)
                    records, size = [], 0
            if records:
                yield row, records_batch("json", records, schema, row)

    return guarded_iter("json", batches())


def guarded_iter(fmt: str, it: Iterator[Any]) -> Iterator[Any]:
    """``it`` with parser failures as ``unsupported-format`` (see :func:`guarded`)."""
    try:
        while True:
            item = guarded(fmt, lambda: next(it, _END))
            if item is _END:
                return
            yield item
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


_END = object()
