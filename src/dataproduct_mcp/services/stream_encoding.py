"""Encoding record batches into WebSocket messages (docs/streams.md is the protocol).

- ``jsonl`` / ``csv``: one text message per batch: a one-line JSON envelope
  ``{"type":"batch","seq":n,"row":r,"rows":k}``, a newline, then the rows (JSON Lines, or CSV
  without a header; the header is in the ``schema`` message), each row ending in a newline.
- ``arrow``: one binary message per batch: a complete Arrow IPC stream (schema, one record
  batch, end-of-stream) whose schema metadata carries ``dpmcp.seq`` and ``dpmcp.row``.

A batch whose message would exceed the size limit is split in halves until each part fits;
a single row that does not fit is ``too-large``. Blocking code: run it in a worker thread.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc

from dataproduct_mcp.errors import InvalidArgument, TooLarge
from dataproduct_mcp.readers.source import SourceInfo, iter_rows

__all__ = ["OUTPUT_FORMATS", "Frame", "FrameProducer", "check_output_schema", "csv_header", "encode_bounded"]

OUTPUT_FORMATS = ("jsonl", "csv", "arrow")


@dataclass(frozen=True)
class Frame:
    """One WebSocket message: ``data`` is ``str`` (text frame) or ``bytes`` (binary frame)."""

    data: str | bytes
    seq: int
    row: int
    rows: int
    size: int


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default)


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: they become null (documented)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_line(row: dict[str, Any]) -> str:
    try:
        return _encoder.encode(row)
    except ValueError:  # NaN or Infinity somewhere in the row
        return _encoder.encode(_finite(row))


def _json_column(col: pa.Array) -> pa.Array | None:
    """Each value of ``col`` as JSON text (null as ``null``), vectorised; None if the type needs the
    row-by-row path (temporal, decimal, binary, nested types, or strings with control characters)."""
    import pyarrow.compute as pc  # ~0.1 s to import: paid by the first stream, not at start-up

    t = col.type
    if pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
        col, t = pc.cast(col, t.value_type), t.value_type
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        text = pc.cast(col, pa.string())
    elif pa.types.is_floating(t):
        finite = pc.is_finite(col)
        text = pc.cast(pc.if_else(finite, col, pa.scalar(None, t)), pa.string())
        whole = pc.match_substring_regex(text, r"^-?[0-9]+$")
        text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        if pc.any(pc.match_substring_regex(col, r"[\x00-\x1f]")).as_py():
            return None
        text = pc.replace_substring(pc.replace_substring(col, "\\", "\\\\"), '"', '\\"')
        text = pc.binary_join_element_wise('"', text, '"', "")
    elif pa.types.is_null(t):
        text = pa.nulls(len(col), pa.string())
    else:
        return None
    return pc.fill_null(pc.cast(text, pa.string()), "null")


def _jsonl_fast(batch: pa.RecordBatch) -> str | None:
    """The batch as JSON Lines built column-wise by Arrow kernels (10-20x the row-by-row speed)."""
    if batch.num_rows == 0:
        return ""
    parts: list[Any] = []
    for i, (name, col) in enumerate(zip(batch.schema.names, batch.columns, strict=True)):
        text = _json_column(col)
        if text is None:
            return None
        parts += [("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":", text]
    parts.append("}\n")
    import pyarrow.compute as pc

    lines = pc.binary_join_element_wise(*parts, "")
    return "".join(lines.to_pylist())


def check_output_schema(fmt: str, schema: pa.Schema) -> None:
    if fmt not in OUTPUT_FORMATS:
        raise InvalidArgument(f"format must be one of {', '.join(OUTPUT_FORMATS)}", field="format")
    if fmt == "csv":
        nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        if nested:
            raise InvalidArgument(
                f"columns {nested[:10]} are nested (list/struct/map) and cannot be written as CSV",
                field="format",
                suggestion="Stream as jsonl or arrow, or select flat columns with `columns`.",
            )


def csv_header(schema: pa.Schema) -> str:
    out = io.BytesIO()
    pacsv.write_csv(schema.empty_table(), out, pacsv.WriteOptions(include_header=True))
    return out.getvalue().decode("utf-8")


def _encode(fmt: str, batch: pa.RecordBatch, seq: int, row: int) -> Frame:
    if fmt == "arrow":
        meta = dict(batch.schema.metadata or {})
        meta.update({b"dpmcp.seq": str(seq).encode(), b"dpmcp.row": str(row).encode()})
        batch = batch.replace_schema_metadata(meta)
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        data: str | bytes = sink.getvalue().to_pybytes()
        return Frame(data, seq, row, batch.num_rows, len(data))
    envelope = f'{{"type":"batch","seq":{seq},"row":{row},"rows":{batch.num_rows}}}\n'
    if fmt == "jsonl":
        fast = _jsonl_fast(batch)
        if fast is not None:
            body = fast
        else:
            lines = [_json_line(r) for r in batch.to_pylist()]
            body = "\n".join(lines) + "\n" if lines else ""
    else:
        out = io.BytesIO()
        pacsv.write_csv(batch, out, pacsv.WriteOptions(include_header=False))
        body = out.getvalue().decode("utf-8")
    text = envelope + body
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    return Frame(text, seq, row, batch.num_rows, size)


def encode_bounded(fmt: str, batch: pa.RecordBatch, row: int, seq: int, limit: int) -> list[Frame]:
    """Frames for ``batch`` (first row ``row``, first sequence number ``seq``), each at most
    ``limit`` bytes: an oversized batch is split in halves, recursively."""
    frame = _encode(fmt, batch, seq, row)
    if frame.size <= limit:
        return [frame]
    if batch.num_rows <= 1:
        raise TooLarge(
            f"row {row} alone encodes to {frame.size} bytes; the message limit is {limit}",
            size=frame.size,
            limit=limit,
            suggestion="Raise DPMCP_STREAM_MAX_MESSAGE_BYTES or select fewer columns.",
        )
    half = batch.num_rows // 2
    first = encode_bounded(fmt, batch.slice(0, half), row, seq, limit)
    return first + encode_bounded(fmt, batch.slice(half), row + half, seq + len(first), limit)


class FrameProducer:
    """Reads and encodes one batch per call (blocking: call it from a worker thread)."""

    def __init__(self, info: SourceInfo, fmt: str, batch_rows: int, start_row: int, limit: int) -> None:
        self.fmt = fmt
        self.limit = limit
        self.seq = 0
        self.rows = 0
        self._batches = iter_rows(info, batch_rows, start_row)

    def next_frames(self) -> list[Frame] | None:
        """The frames of the next batch (sequence numbers from 1), or None at the end."""
        item = next(self._batches, None)
        if item is None:
            return None
        row, batch = item
        frames = encode_bounded(self.fmt, batch, row, self.seq + 1, self.limit)
        self.seq += len(frames)
        self.rows += batch.num_rows
        return frames

    def close(self) -> None:
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()
