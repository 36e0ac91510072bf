"""Excel workbooks (xlsx): the zip container first, then the first sheet as a table.

An xlsx file is a zip of XML parts, so before any XML is parsed the container is bounded: total
and per-member uncompressed sizes (``options.max_uncompressed_bytes``), member count and
compression ratio (zip bombs), then every member is decompressed once to verify its CRC. The
first sheet is then read with openpyxl in read-only mode (streaming; openpyxl parses with
defusedxml when it is installed, which it is) and checked as a table by the shared
:class:`~dataproduct_mcp.validators.tabular.TableChecker`: the first non-blank row is the
header, cells are turned into text the way a CSV export would write them, types are inferred
from the first rows and every other value is checked against them, wherever it is. ``row`` is
the data record (header not counted), ``line`` the sheet's row number. Blank rows at the end of
a sheet (formatting only) are not records. Other sheets are read too (they are part of the
file) and summarised in ``extra["sheets"]``.
"""

from __future__ import annotations

import datetime as dt
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any

from dataproduct_mcp.domain.schema import ColumnType
from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._threads import BackgroundHash
from dataproduct_mcp.validators.base import (
    Cancelled,
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
)
from dataproduct_mcp.validators.formats import SPECS
from dataproduct_mcp.validators.tabular import TableChecker
from dataproduct_mcp.validators.values import infer_text_type

__all__ = ["VALIDATOR", "XlsxValidator"]

ZIP_MAGIC = b"PK\x03\x04"
MAX_MEMBERS = 10_000
MAX_RATIO = 250  # uncompressed / compressed, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 1 << 20
READ_CHUNK = 1 << 20
INFER_ROWS = 1000
CHECKPOINT_ROWS = 2000


def cell_text(value: Any) -> str | None:
    """A cell as the text a CSV export would hold (so text and spreadsheet types agree)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    text = str(value)
    return text if text else None


def _trim(cells: Sequence[Any], width: int) -> list[str | None]:
    """Cells as text, empty trailing cells beyond the header dropped (a sheet has no row length)."""
    texts = [cell_text(c) for c in cells]
    end = len(texts)
    while end > width and texts[end - 1] is None:
        end -= 1
    texts = texts[:end]
    if len(texts) < width:
        texts.extend([None] * (width - len(texts)))
    return texts


class XlsxValidator:
    name, title, extensions, media_type, checks, binary = SPECS["xlsx"].fields()

    def sniff(self, head: bytes) -> bool:
        return head.startswith(ZIP_MAGIC) and (b"[Content_Types].xml" in head or b"xl/" in head)

    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        result = FormatResult()
        if source.size == 0:
            ctx.findings.error(FindingCode.empty_file, "the file is empty")
            return result
        with BackgroundHash(source):
            if self._container(source, ctx):
                self._workbook(source, ctx, result)
        return result

    # -- the zip container --------------------------------------------------------------
    def _container(self, source: Source, ctx: ValidationContext) -> bool:
        findings = ctx.findings
        limit = ctx.options.max_uncompressed_bytes
        ctx.check("zip")
        try:
            with zipfile.ZipFile(source.target()) as zf:
                members = zf.infolist()
                ctx.check("zip-bomb")
                if len(members) > MAX_MEMBERS:
                    findings.error(
                        FindingCode.format_error, f"the zip holds {len(members)} members (limit {MAX_MEMBERS})"
                    )
                    return False
                total = sum(m.file_size for m in members)
                if total > limit:
                    findings.error(
                        FindingCode.format_error,
                        f"too large: the workbook expands to {total} bytes (limit {limit}); not opened",
                        value=total,
                    )
                    return False
                for m in members:
                    ratio = m.file_size / max(m.compress_size, 1)
                    if m.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
                        findings.error(
                            FindingCode.format_error,
                            f"member {m.filename!r} expands {ratio:.0f}x (limit {MAX_RATIO}x): "
                            "likely a zip bomb; not opened",
                            value=m.filename,
                        )
                        return False
                ctx.check("crc")
                done = 0
                for m in members:
                    if m.is_dir():
                        continue
                    with zf.open(m) as member:
                        while chunk := member.read(READ_CHUNK):
                            done += len(chunk)
                            ctx.checkpoint(min(source.size - 1, source.size * done // max(total, 1) // 2))
        except (Cancelled, TimeBudgetExceeded):
            raise
        except Exception as exc:  # zipfile raises BadZipFile, zlib.error, EOFError, IndexError... on bad bytes
            findings.error(FindingCode.format_error, f"corrupt xlsx (zip) container: {type(exc).__name__}: {exc}")
            return False
        return True

    # -- the workbook ---------------------------------------------------------------------
    def _workbook(self, source: Source, ctx: ValidationContext, result: FormatResult) -> None:
        import openpyxl

        findings = ctx.findings
        ctx.check("workbook")
        # openpyxl leaves its zip open when a workbook fails to load: hand it a file we close.
        raw_file = open(source.path, "rb") if source.remote is None else source.open_raw()  # noqa: SIM115
        with raw_file as raw, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                wb = openpyxl.load_workbook(raw, read_only=True, data_only=True, keep_links=False)
            except (Cancelled, TimeBudgetExceeded):
                raise
            except Exception as exc:  # KeyError (missing part), InvalidFileException, XML errors, ...
                findings.error(FindingCode.format_error, f"not a readable xlsx workbook: {type(exc).__name__}: {exc}")
                return
            try:
                sheets = wb.worksheets
                if not sheets:
                    findings.error(FindingCode.format_error, "the workbook has no worksheet")
                    return
                facts: list[dict[str, Any]] = []
                for index, ws in enumerate(sheets):
                    try:
                        if index == 0:
                            facts.append(self._table(ws, source, ctx, result))
                        else:
                            facts.append(self._other_sheet(ws, source, ctx))
                    except (Cancelled, TimeBudgetExceeded):
                        raise
                    except Exception as exc:  # corrupt sheet XML, bad shared-string index, ...
                        findings.error(
                            FindingCode.format_error,
                            f"sheet {ws.title!r} cannot be read: {type(exc).__name__}: {exc}",
                        )
                        facts.append({"name": ws.title, "readable": False})
                result.extra["sheets"] = facts
            finally:
                wb.close()
        if caught:
            result.extra["reader_warnings"] = sorted({str(w.message)[:200] for w in caught})[:10]

    @staticmethod
    def _rows(ws: Any) -> Iterator[tuple[int, tuple[Any, ...]]]:
        ws.reset_dimensions()  # do not trust the declared dimension: no padding to a forged width
        yield from enumerate(ws.iter_rows(values_only=True), start=1)

    def _table(self, ws: Any, source: Source, ctx: ValidationContext, result: FormatResult) -> dict[str, Any]:
        findings = ctx.findings
        rows = self._rows(ws)
        header: list[str] | None = None
        header_line = 0
        for line, cells in rows:
            texts = [cell_text(c) for c in cells]
            while texts and texts[-1] is None:
                texts.pop()
            if texts:
                header = [t or "" for t in texts]
                header_line = line
                break
        if header is None:
            findings.error(FindingCode.empty_file, f"sheet {ws.title!r} has no cells")
            return {"name": ws.title, "rows": 0, "columns": 0}
        width = len(header)
        sample: list[tuple[int, list[str | None]]] = []
        pending_blank: list[int] = []
        for line, cells in rows:
            texts = _trim(cells, width)
            sample.append((line, texts))
            if len(sample) >= INFER_ROWS:
                break
        types: list[ColumnType | None] = [
            infer_text_type([t[i] if i < len(t) else None for _, t in sample]) for i in range(width)
        ]
        for name in ("header", "cells", "type"):
            ctx.check(name)
        checker = TableChecker(ctx, header, ctx.options.schema, types, header_line=header_line)
        record = 0

        def check(line: int, texts: list[str | None]) -> None:
            nonlocal record
            if all(t is None for t in texts):
                pending_blank.append(line)  # a blank row is a finding only if data follows
                return
            for blank_line in pending_blank:
                record += 1
                checker.check_record([None] * width, row=record, line=blank_line)
            pending_blank.clear()
            record += 1
            checker.check_record(texts, row=record, line=line)

        for line, texts in sample:
            check(line, texts)
        last = header_line
        for line, cells in rows:
            check(line, _trim(cells, width))
            last = line
            if line % CHECKPOINT_ROWS == 0:
                ctx.checkpoint(source.size // 2 + min(source.size // 2 - 1, line * 64))
        result.rows = record
        result.columns = checker.column_infos()
        return {"name": ws.title, "rows": record, "columns": width, "header_line": header_line, "last_line": last}

    def _other_sheet(self, ws: Any, source: Source, ctx: ValidationContext) -> dict[str, Any]:
        used = 0
        width = 0
        for line, cells in self._rows(ws):
            last = len(cells)
            while last and cells[last - 1] is None:
                last -= 1
            if last:
                used += 1
                width = max(width, last)
            if line % CHECKPOINT_ROWS == 0:
                ctx.checkpoint(source.size - 1)
        return {"name": ws.title, "non_blank_rows": used, "columns": width}


VALIDATOR = XlsxValidator()
