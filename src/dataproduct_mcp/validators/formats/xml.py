"""XML: well-formedness with line and column, streaming, hostile documents refused.

Built directly on expat (the parser under ``defusedxml``), fed 64 KiB at a time from the hashing
:meth:`Source.open` stream, with the same defences as ``defusedxml`` (``forbid_entities``,
``forbid_external``): any entity declaration (billion laughs, XXE) or external entity
reference is refused as a ``format-error`` at its position and parsing stops there: nothing is
ever expanded or fetched. No tree is built, so memory is bounded whatever the file size.
A gzip-wrapped file is read through a decompressor bounded by
``options.max_uncompressed_bytes`` (byte offsets are then in the uncompressed document).
``rows`` counts the records: the root's children carrying the most frequent tag; ``columns``
are the attribute and child-element names of those records.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from typing import IO, Any, cast
from xml.parsers import expat

from dataproduct_mcp.domain.validation import ColumnInfo, FindingCode
from dataproduct_mcp.validators.base import (
    Cancelled,
    FormatResult,
    Source,
    ValidationContext,
)
from dataproduct_mcp.validators.formats import SPECS

__all__ = ["VALIDATOR", "XmlValidator"]

CHUNK = 64 * 1024
MAX_COLUMNS = 1000
MAX_RECORD_TAGS = 100
_ENCODING_ERRORS = {
    expat.errors.codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING],
    expat.errors.codes[expat.errors.XML_ERROR_INCORRECT_ENCODING],
}


_INVALID_TOKEN = expat.errors.codes[expat.errors.XML_ERROR_INVALID_TOKEN]


def _bad_utf8_at(chunk: bytes, index: int) -> bool:
    """Whether the bytes where expat stopped are not UTF-8 (then it is an encoding problem)."""
    if not 0 <= index < len(chunk):
        return False
    try:
        chunk[index : index + 4].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start == 0 and exc.reason != "unexpected end of data"
    return False


class _TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"uncompressed size exceeds the limit of {limit} bytes")
        self.limit = limit


class _Bounded:
    """A decompressing stream that stops at ``limit`` uncompressed bytes (gzip bombs)."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._done = 0

    def read(self, n: int) -> bytes:
        data: bytes = self._stream.read(n)
        self._done += len(data)
        if self._done > self._limit:
            raise _TooLarge(self._limit)
        return data


class _Refused(Exception):
    """A construct we refuse (entity declaration, external reference) was met."""


class _Scan:
    """Expat handlers: element depth, records and their fields, refusals."""

    def __init__(self, parser: Any, ctx: ValidationContext) -> None:
        self.parser = parser
        self.ctx = ctx
        self.depth = 0
        self.root: str | None = None
        self.tags: Counter[str] = Counter()
        self.record_tag: str | None = None
        self.columns: dict[str, int] = {}  # name -> number of records holding it
        self.in_record: set[str] | None = None
        self.records = 0
        self.refused = False
        self.last_event = 0

    def _refuse(self, message: str) -> None:
        self.refused = True
        p = self.parser
        self.ctx.findings.error(
            FindingCode.format_error,
            message,
            line=p.CurrentLineNumber,
            column=p.CurrentColumnNumber + 1,
            byte_offset=p.CurrentByteIndex,
        )
        raise _Refused(message)  # propagates out of Parse(): parsing stops here

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        self.last_event = self.parser.CurrentByteIndex
        if self.depth == 1:
            self.root = name
        elif self.depth == 2:
            if name in self.tags or len(self.tags) < MAX_RECORD_TAGS:
                self.tags[name] += 1
            if self.record_tag is None:
                self.record_tag = name
            if name == self.record_tag:
                self.records += 1
                self.in_record = set()
                for key in attrs:
                    self._field("@" + key)
        elif self.depth == 3 and self.in_record is not None:
            self._field(name)

    def _field(self, name: str) -> None:
        assert self.in_record is not None
        if name in self.in_record:
            return
        self.in_record.add(name)
        if name in self.columns:
            self.columns[name] += 1
        elif len(self.columns) < MAX_COLUMNS:
            self.columns[name] = 1

    def end(self, name: str) -> None:
        self.last_event = self.parser.CurrentByteIndex
        if self.depth == 2:
            self.in_record = None
        self.depth -= 1

    def entity_decl(self, name: str, is_parameter: bool, value: Any, base: Any, system_id: Any, *_: Any) -> None:
        kind = "external entity" if system_id else "entity"
        self._refuse(
            f"{kind} declaration {name!r} refused: entity expansion and external entities "
            "are not processed (billion laughs / XXE defence)"
        )

    def unparsed_entity_decl(self, name: str, *_: Any) -> None:
        self._refuse(f"unparsed entity declaration {name!r} refused")

    def external_entity_ref(self, context: Any, base: Any, system_id: Any, public_id: Any) -> int:
        self._refuse("external entity reference refused: nothing is fetched")
        return 0

    def doctype(self, name: str, system_id: Any, public_id: Any, has_internal_subset: bool) -> None:
        if system_id:
            self.ctx.findings.warning(
                FindingCode.format_error,
                f"external DTD {system_id!r} is not loaded: entities it defines are not checked",
                line=self.parser.CurrentLineNumber,
                column=self.parser.CurrentColumnNumber + 1,
            )


class XmlValidator:
    name, title, extensions, media_type, checks, binary = SPECS["xml"].fields()

    def sniff(self, head: bytes) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if head.startswith((b"\xff\xfe<\x00", b"\xfe\xff\x00<")):
            return True
        return text.startswith(b"<?xml") or (
            text.startswith(b"<") and not text[:20].lower().startswith(b"<!doctype html")
        )

    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        result = FormatResult()
        encoding = None if ctx.options.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else ctx.options.encoding
        parser = expat.ParserCreate(encoding)
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        scan = _Scan(parser, ctx)
        parser.StartElementHandler = scan.start
        parser.EndElementHandler = scan.end
        parser.EntityDeclHandler = scan.entity_decl
        parser.UnparsedEntityDeclHandler = scan.unparsed_entity_decl
        parser.ExternalEntityRefHandler = scan.external_entity_ref
        parser.StartDoctypeDeclHandler = scan.doctype
        for name in ("well-formed", "encoding", "entities-refused", "records"):
            ctx.check(name)
        if ctx.options.schema is not None:
            ctx.findings.warning(
                FindingCode.schema_mismatch, "declared schemas are not checked on XML files (no tabular mapping)"
            )
        stream = source.open()
        text: Any = stream
        if source.compression == "gzip":
            result.extra["compression"] = "gzip"
            raw = cast(IO[bytes], stream)  # a ByteStream reads like a file
            text = _Bounded(gzip.GzipFile(fileobj=raw, mode="rb"), ctx.options.max_uncompressed_bytes)
        cancelled = False
        try:
            empty = self._feed(parser, scan, text, source, ctx, encoding)
        except Cancelled:
            cancelled = True
            raise
        finally:
            try:
                if not cancelled:
                    while stream.read(CHUNK * 16):
                        pass
            finally:
                stream.close()
        if empty:
            ctx.findings.error(FindingCode.empty_file, "the file is empty")
            return result
        result.rows = scan.records
        result.columns = [
            ColumnInfo(name=name, type="string", nullable=count < scan.records) for name, count in scan.columns.items()
        ]
        result.extra = {"root": scan.root, "record_tag": scan.record_tag, "child_tags": dict(scan.tags.most_common(20))}
        return result

    def _feed(
        self, parser: Any, scan: _Scan, stream: Any, source: Source, ctx: ValidationContext, encoding: str | None
    ) -> bool:
        """Feed the whole stream; return True if it was empty."""
        findings = ctx.findings
        done = 0
        limit = max(ctx.options.max_line_bytes, CHUNK)
        while True:
            try:
                chunk = stream.read(CHUNK)
            except (OSError, EOFError, zlib.error) as exc:  # a corrupt or truncated gzip stream
                findings.error(FindingCode.format_error, f"cannot read the gzip stream: {exc}", byte_offset=done)
                return False
            except _TooLarge as exc:
                findings.error(FindingCode.format_error, str(exc), byte_offset=exc.limit)
                return False
            final = not chunk
            if final and done == 0:
                return True
            try:
                parser.Parse(chunk, final)
            except _Refused:
                return False
            except (LookupError, UnicodeError, ValueError) as exc:  # pyexpat asks Python for unknown encodings
                findings.error(
                    FindingCode.encoding_error,
                    f"the document's encoding cannot be decoded: {exc}",
                    line=parser.CurrentLineNumber,
                    column=parser.CurrentColumnNumber + 1,
                )
                return False
            except expat.ExpatError as exc:
                at = parser.ErrorByteIndex
                code = FindingCode.encoding_error if exc.code in _ENCODING_ERRORS else FindingCode.format_error
                if exc.code == _INVALID_TOKEN and encoding is None and _bad_utf8_at(chunk, at - done):
                    code = FindingCode.encoding_error
                findings.error(
                    code,
                    f"XML is not well-formed: {expat.errors.messages[exc.code]}",
                    line=exc.lineno,
                    column=exc.offset + 1,
                    byte_offset=at if at >= 0 else None,
                )
                return False
            done += len(chunk)
            if done - scan.last_event > limit:
                findings.error(
                    FindingCode.format_error,
                    f"no markup for more than {limit} bytes (one token or text node too large)",
                    byte_offset=scan.last_event,
                )
                return False
            if final:
                return False
            ctx.checkpoint(source.bytes_read)


VALIDATOR = XmlValidator()
