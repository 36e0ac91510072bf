"""Reading text files for validation: bounded chunks of UTF-8 bytes, whatever the file is.

:class:`TextChunks` hides the three ways a text file reaches a validator:

* plain UTF-8 (the fast case): chunks are the file's own bytes, byte offsets are file
  offsets, and line numbers are counted lazily (:meth:`TextChunks.line_at` re-reads the
  file up to an offset only when a finding needs a line number);
* gzip: the uncompressed stream, bounded by ``options.max_uncompressed_bytes`` (a
  ``format-error`` stops the read beyond it); byte offsets are in the uncompressed stream;
* another encoding (``options.encoding``): transcoded to UTF-8; undecodable bytes are
  ``encoding-error`` findings with their offset in the file, and byte offsets of other
  findings are unknown (None).

A UTF-8 byte-order mark is skipped (offsets still count it). A UTF-16/32 byte-order mark
under the default strict UTF-8 is an ``encoding-error`` and nothing is read.
"""

from __future__ import annotations

import codecs
import gzip
import os
import threading
import zlib
from typing import Any

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators.base import Source, ValidationContext

__all__ = ["CHUNK_BYTES", "TextChunks", "is_utf8_encoding"]

CHUNK_BYTES = 4 * 1024 * 1024
_COUNT_BYTES = 8 * 1024 * 1024
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

_decode_errors = threading.local()


def _record_decode_error(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    errors = getattr(_decode_errors, "positions", None)
    if errors is not None:
        errors.append(exc.start)
    return "\ufffd", exc.end


def _record_and_escape(exc: UnicodeError) -> tuple[str, int]:
    """Like surrogateescape (so re-encoding gives back the exact byte count), but recorded."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    errors = getattr(_decode_errors, "positions", None)
    if errors is not None:
        errors.append(exc.start)
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error("dataproduct-mcp-record", _record_decode_error)
codecs.register_error("dataproduct-mcp-escape", _record_and_escape)


def is_utf8_encoding(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return False


class TextChunks:
    """The file as chunks of UTF-8 bytes (see the module docstring). Close it when done."""

    def __init__(self, source: Source, ctx: ValidationContext, chunk_bytes: int | None = None) -> None:
        self.ctx = ctx
        self.path = source.path
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES  # read at call time: tests shrink it
        self.gzip = getattr(source, "compression", None) == "gzip"
        self.stopped = False  # a finding ended the read early
        self.start_offset = 0  # offset of the first text byte (after a BOM)
        self._raw: Any = source.open_raw()
        self._stream: Any = self._raw
        self._out = 0  # bytes handed out (uncompressed stream offset)
        self._decoder: Any = None
        self._raw_in = 0  # bytes fed to the decoder (for encoding-error offsets)
        self._count_pos = 0  # lazy line counting: offset counted up to
        self._count_lines = 0
        self._first = True
        self._carry = b""
        encoding = ctx.options.encoding
        if self.gzip:
            self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb")
        if not is_utf8_encoding(encoding):
            try:
                self._decoder = codecs.getincrementaldecoder(encoding)(errors="dataproduct-mcp-record")
            except LookupError:
                ctx.findings.error(FindingCode.encoding_error, f"unknown encoding {encoding!r}")
                self.stopped = True
        self.exact_offsets = self._decoder is None
        self.lazy_lines = self.exact_offsets and not self.gzip

    # -- reading ----------------------------------------------------------------------
    @property
    def raw_done(self) -> int:
        """Bytes of the file read so far (for progress)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def read(self, size: int | None = None) -> bytes:
        """The next chunk (about ``size`` or ``chunk_bytes``), ``b""`` at the end or after a
        fatal finding."""
        if self._carry:  # what readinto() could not hand out
            data, self._carry = self._carry, b""
            return data
        if self.stopped:
            return b""
        data = self._read_raw(min(size or self.chunk_bytes, self.chunk_bytes))
        if self._decoder is not None:
            data = self._transcode(data)
        if self._first:
            self._first = False
            data = self._strip_bom(data)
        self._out += len(data)
        return data

    def readinto(self, view: memoryview) -> int:
        """Like :meth:`read` into ``view`` (at most ``chunk_bytes``); 0 at the end. Plain UTF-8
        files are read straight into it (no copy, no fresh allocation per chunk)."""
        if self._carry:
            n = min(len(view), len(self._carry))
            view[:n] = self._carry[:n]
            self._carry = self._carry[n:]
            return n
        if self.lazy_lines and not self._first and not self.stopped:
            n = self._raw.readinto(view[: self.chunk_bytes]) or 0
            self._out += n
            return n
        data = self.read()
        n = min(len(view), len(data))
        view[:n] = data[:n]
        self._carry = data[n:]
        return n

    def _read_raw(self, size: int) -> bytes:
        try:
            data: bytes = self._stream.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            where = "gzip stream" if self.gzip else "file"
            self.ctx.findings.error(FindingCode.format_error, f"cannot read the {where}: {exc}")
            self.stopped = True
            return b""
        if self.gzip and self._out + len(data) > self.ctx.options.max_uncompressed_bytes:
            self.ctx.findings.error(
                FindingCode.format_error,
                f"uncompressed size exceeds the limit of {self.ctx.options.max_uncompressed_bytes} bytes",
                byte_offset=self.ctx.options.max_uncompressed_bytes,
            )
            self.stopped = True
            return b""
        return data

    def _transcode(self, data: bytes) -> bytes:
        held = len(self._decoder.getstate()[0])  # bytes of a sequence begun in the last chunk
        text, positions = decode_recording(self._decoder, data, not data)
        for pos in positions[:100]:
            self.ctx.findings.error(
                FindingCode.encoding_error,
                f"bytes are not valid {self.ctx.options.encoding}",
                byte_offset=None if self.gzip else self._raw_in - held + pos,
            )
        self._raw_in += len(data)
        return text.encode("utf-8")

    def _strip_bom(self, data: bytes) -> bytes:
        if self._decoder is None and data.startswith(_WIDE_BOMS):
            self.ctx.findings.error(
                FindingCode.encoding_error,
                "file starts with a UTF-16/UTF-32 byte-order mark; pass the encoding (e.g. utf-16) to read it",
                byte_offset=0,
                line=1,
            )
            self.stopped = True
            return b""
        if data.startswith(codecs.BOM_UTF8):
            self.ctx.check("bom")
            self.start_offset = self._count_pos = 3
            self._out = 3 if self.exact_offsets else 0
            return data[3:]
        return data

    # -- locations --------------------------------------------------------------------
    def offset(self, value: int) -> int | None:
        """The byte offset to report for a position in the chunk stream."""
        return value if self.exact_offsets else None

    def line_at(self, offset: int) -> int:
        """1-based physical line at ``offset`` of the chunk stream. Offsets must not go back.
        Plain files count lazily from the file; other streams count what :meth:`consumed` saw."""
        if self.lazy_lines and offset > self._count_pos:
            pread = getattr(self._raw, "pread", None)  # a remote object's handle
            if pread is None:
                fd = self._raw.fileno()
                pread = lambda n, at: os.pread(fd, n, at)  # noqa: E731
            pos = self._count_pos
            while pos < offset:
                block = pread(min(_COUNT_BYTES, offset - pos), pos)
                if not block:
                    break
                self._count_lines += block.count(b"\n")
                pos += len(block)
            self._count_pos = offset
        return self._count_lines + 1

    def consumed(self, data: bytes | memoryview) -> None:
        """Tell the counter that ``data`` (the next bytes of the stream) has been processed."""
        if not self.lazy_lines:
            self._count_lines += bytes(data).count(b"\n") if isinstance(data, memoryview) else data.count(b"\n")
            self._count_pos += len(data)

    def close(self) -> None:
        try:
            if self._stream is not self._raw:
                self._stream.close()
        finally:
            self._raw.close()

    def __enter__(self) -> TextChunks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode_recording(decoder: Any, data: bytes, final: bool) -> tuple[str, list[int]]:
    """Decode ``data`` with an incremental ``decoder`` created with
    ``errors="dataproduct-mcp-record"``; returns the text (U+FFFD for bad bytes) and the
    offsets in ``data`` of the undecodable bytes."""
    _decode_errors.positions = []
    try:
        text = decoder.decode(data, final=final)
    finally:
        positions, _decode_errors.positions = _decode_errors.positions, None
    return text, positions
