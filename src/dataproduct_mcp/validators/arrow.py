"""Apache Arrow IPC: the file format (``ARROW1``, also Feather v2), the stream format, Feather v1.

Every record batch is read and fully validated (``RecordBatch.validate(full=True)``: buffer
sizes, offsets, dictionary indices, UTF-8), then checked against the declared schema. A
truncated file (no trailing ``ARROW1``/footer) or a stream cut inside a message is a
``format-error`` at the batch where reading stopped. Memory is bounded by one record batch
(as large as its writer made it); Feather v1, which has no batches, is read one column at a
time, and whole only to check a declared schema (v1 is deprecated by Arrow; convert to v2).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._batches import BatchChecker, column_infos
from dataproduct_mcp.validators._containers import BackgroundHash
from dataproduct_mcp.validators.base import (
    Cancelled,
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
)

__all__ = ["VALIDATOR", "ArrowValidator"]

FILE_MAGIC = b"ARROW1"
FEATHER_V1_MAGIC = b"FEA1"
CONTINUATION = b"\xff\xff\xff\xff"
MAX_FIRST_MESSAGE = 64 * 1024 * 1024


def _looks_like_stream(head: bytes) -> bool:
    """An IPC stream starts with a continuation marker and a plausible metadata length."""
    if len(head) < 8 or not head.startswith(CONTINUATION):
        return False
    length = int.from_bytes(head[4:8], "little")
    return 8 <= length <= MAX_FIRST_MESSAGE and length % 8 == 0


class ArrowValidator:
    name = "arrow"
    title = "Apache Arrow IPC (file, stream) / Feather"
    extensions = ("arrow", "arrows", "feather", "ipc")
    media_type = "application/vnd.apache.arrow.file"
    checks = ("magic", "footer", "record-batches", "values", "schema")
    binary = True

    def sniff(self, head: bytes) -> bool:
        return head.startswith(FILE_MAGIC) or head.startswith(FEATHER_V1_MAGIC) or _looks_like_stream(head)

    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        result = FormatResult()
        findings = ctx.findings
        size = source.size
        if size == 0:
            findings.error(FindingCode.empty_file, "the file is empty")
            return result
        ctx.check("magic")
        try:
            with open(source.path, "rb") as fh:
                head = fh.read(8)
                fh.seek(max(0, size - 6))
                tail = fh.read(6)
        except OSError as exc:
            findings.error(FindingCode.format_error, f"cannot read the file: {exc.strerror}")
            return result
        with BackgroundHash(source):
            if head.startswith(FILE_MAGIC):
                result.extra["layout"] = "file"
                if size < 12 or tail != FILE_MAGIC:
                    findings.error(
                        FindingCode.format_error,
                        "truncated Arrow IPC file: no ARROW1 magic at the end (footer missing)",
                        byte_offset=size - min(size, 6),
                    )
                    return result
                self._file(source, ctx, result)
            elif head.startswith(FEATHER_V1_MAGIC):
                result.extra["layout"] = "feather-v1"
                if tail[-4:] != FEATHER_V1_MAGIC:
                    findings.error(
                        FindingCode.format_error,
                        "truncated Feather v1 file: no FEA1 magic at the end",
                        byte_offset=size - min(size, 4),
                    )
                    return result
                self._feather_v1(source, ctx, result)
            elif _looks_like_stream(head):
                result.extra["layout"] = "stream"
                self._stream(source, ctx, result)
            else:
                findings.error(
                    FindingCode.format_error,
                    "not an Arrow IPC file or stream: no ARROW1 magic or stream message at the start",
                    byte_offset=0,
                )
        return result

    def _file(self, source: Source, ctx: ValidationContext, result: FormatResult) -> None:
        findings = ctx.findings
        ctx.check("footer")
        with pa.OSFile(str(source.path)) as raw:
            try:
                reader = ipc.open_file(raw)
                schema = reader.schema
                batches = reader.num_record_batches
            except (Cancelled, TimeBudgetExceeded):
                raise
            except Exception as exc:  # ArrowInvalid / OSError: a footer that does not parse
                findings.error(FindingCode.format_error, f"corrupt Arrow IPC footer: {exc}")
                return
            result.columns = column_infos(schema)
            result.extra["record_batches"] = batches
            checker = BatchChecker(schema, ctx)
            ctx.check("record-batches")
            rows = 0
            for i in range(batches):
                try:
                    batch = reader.get_batch(i)
                except (Cancelled, TimeBudgetExceeded):
                    raise
                except Exception as exc:
                    findings.error(
                        FindingCode.format_error,
                        f"record batch {i} cannot be read: {exc}; the rest of the file is not checked",
                        row=rows + 1,
                    )
                    break
                checker.check(batch, rows)
                rows += batch.num_rows
                ctx.checkpoint(source.size * (i + 1) // max(batches, 1))
            result.rows = rows

    def _stream(self, source: Source, ctx: ValidationContext, result: FormatResult) -> None:
        findings = ctx.findings
        with pa.OSFile(str(source.path)) as raw:
            try:
                reader = ipc.open_stream(raw)
                schema = reader.schema
            except (Cancelled, TimeBudgetExceeded):
                raise
            except Exception as exc:
                findings.error(FindingCode.format_error, f"corrupt Arrow IPC stream schema message: {exc}")
                return
            result.columns = column_infos(schema)
            checker = BatchChecker(schema, ctx)
            ctx.check("record-batches")
            rows = 0
            batches = 0
            while True:
                offset = raw.tell()
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (Cancelled, TimeBudgetExceeded):
                    raise
                except Exception as exc:  # truncated or corrupt message
                    findings.error(
                        FindingCode.format_error,
                        f"record batch {batches} cannot be read (truncated or corrupt stream): {exc}",
                        row=rows + 1,
                        byte_offset=offset,
                    )
                    break
                checker.check(batch, rows)
                rows += batch.num_rows
                batches += 1
                ctx.checkpoint(raw.tell())
            result.rows = rows
            result.extra["record_batches"] = batches

    def _feather_v1(self, source: Source, ctx: ValidationContext, result: FormatResult) -> None:
        """Feather v1 (deprecated by Arrow) has no record batches: read and check one column at a time."""
        findings = ctx.findings
        try:
            from pyarrow import _feather  # Arrow's own reader; the public one reads whole tables

            reader: Any = _feather.FeatherReader(pa.OSFile(str(source.path)), False, None)
        except (Cancelled, TimeBudgetExceeded):
            raise
        except Exception as exc:
            findings.error(FindingCode.format_error, f"corrupt Feather v1 metadata: {exc}")
            return
        fields: list[pa.Field] = []
        rows: int | None = None
        ctx.check("record-batches")
        index = 0
        while True:
            try:
                table = reader.read_indices([index])
            except pa.ArrowIndexError:
                break
            except (Cancelled, TimeBudgetExceeded):
                raise
            except Exception as exc:
                if "out of bounds" in str(exc):
                    break
                findings.error(FindingCode.format_error, f"column {index + 1} cannot be read: {exc}", column=index + 1)
                index += 1
                continue
            field = table.schema.field(0)
            fields.append(field)
            column_rows = table.num_rows
            if rows is None:
                rows = column_rows
            elif column_rows != rows:
                findings.error(
                    FindingCode.format_error,
                    f"column {field.name!r} has {column_rows} rows, the first column {rows}",
                    column=index + 1,
                    column_name=field.name,
                )
            try:
                table.validate(full=True)
            except pa.ArrowException as exc:
                findings.error(
                    FindingCode.format_error,
                    f"invalid data in column {field.name!r}: {exc}",
                    column=index + 1,
                    column_name=field.name,
                )
            index += 1
            ctx.checkpoint(source.size * index // (index + 1))
            del table
        ctx.check("values")
        schema = pa.schema(fields)
        result.columns = column_infos(schema)
        result.rows = rows or 0
        checker = BatchChecker(schema, ctx, full_validate=False)
        if checker.table is None or len(fields) != index:
            return
        # Declared schema: v1 has no batches, so this reads the whole table (see module docstring).
        table = reader.read_indices(list(range(index)))
        rows_done = 0
        for batch in table.to_batches(max_chunksize=64 * 1024):
            checker.check(batch, rows_done)
            rows_done += batch.num_rows
            ctx.checkpoint(source.size - 1)


VALIDATOR = ArrowValidator()
