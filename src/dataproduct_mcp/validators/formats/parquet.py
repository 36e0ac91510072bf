"""Apache Parquet: magic bytes, footer, every row group decoded, page CRCs, declared schema.

The container is checked from the outside in: ``PAR1`` at both ends and a footer length that
fits the file (a truncated file fails here with a precise message), then the footer metadata,
then every row group decoded batch by batch with page CRC verification on (pages whose writer
wrote no CRC are decoded without one: Parquet makes the CRC optional). A row group that fails to
decode is reported and the next one is still read, so one corrupt page does not hide the rest.
Memory is bounded by one batch per column plus the read buffer, whatever the file size.

A string column that the first row group shows to be dictionary-encoded is read as a dictionary
from the second row group on: its values are not copied out once per row, and their UTF-8 is
checked once per dictionary. Fixed-width columns built by the decoder need no full validation
(strings, dictionaries, decimals and nested values get it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._batches import BatchChecker, column_infos
from dataproduct_mcp.validators._threads import BackgroundHash, prefetch
from dataproduct_mcp.validators.base import (
    Cancelled,
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
)
from dataproduct_mcp.validators.formats import SPECS

if TYPE_CHECKING:
    import pyarrow.parquet as pq

__all__ = ["VALIDATOR", "ParquetValidator"]

MAGIC = b"PAR1"
ENCRYPTED_MAGIC = b"PARE"
BATCH_ROWS = 64 * 1024
READ_BUFFER = 1 << 20  # buffered column-chunk reads: a huge row group is not loaded whole
REMOTE_PRE_BUFFER_MAX = 256 << 20  # uncompressed bytes of a row group that a remote read pre-buffers

Event = tuple[int, pa.RecordBatch | None, Exception | None]


def _decode(source: Source, pf: pq.ParquetFile, groups: int, pre_buffer: bool) -> Iterator[Event]:
    """Every row group, batch by batch: ``(rg, batch, None)``, then ``(rg, None, error-or-None)``
    when the row group ends. A row group that fails is reported once and the next one is still
    decoded. From the second row group on, the string columns the first one shows to be
    dictionary-encoded are read as dictionaries (module docstring)."""
    reader = pf
    try:
        for rg in range(groups):
            try:
                for batch in reader.iter_batches(batch_size=BATCH_ROWS, row_groups=[rg]):
                    yield rg, batch, None
            except Exception as exc:  # pyarrow: OSError (CRC, IO), ArrowInvalid, ... - all mean a bad row group
                yield rg, None, exc
            else:
                yield rg, None, None
                if rg == 0 and groups > 1 and (columns := _dictionary_columns(pf, 0)):
                    reader = _open(source, read_dictionary=columns, pre_buffer=pre_buffer)
    finally:
        if reader is not pf:
            reader.close()


def _open(source: Source, read_dictionary: list[str] | None = None, *, pre_buffer: bool = False) -> pq.ParquetFile:
    """A local file is read in buffered pieces; a remote object with each row group's column
    chunks fetched as coalesced ranges (``pre_buffer``: few large requests, memory bounded by a
    row group) unless a row group is larger than ``REMOTE_PRE_BUFFER_MAX``."""
    import pyarrow.parquet as pq  # imported when a Parquet file is validated, not at detection

    return pq.ParquetFile(
        source.target(),
        page_checksum_verification=True,
        buffer_size=READ_BUFFER,
        pre_buffer=pre_buffer,
        read_dictionary=read_dictionary,
    )


def _pre_buffer(source: Source, metadata: Any) -> bool:
    if source.remote is None:
        return False
    return all(metadata.row_group(rg).total_byte_size <= REMOTE_PRE_BUFFER_MAX for rg in range(metadata.num_row_groups))


def _dictionary_columns(pf: pq.ParquetFile, rg: int) -> list[str]:
    """Top-level string columns of row group ``rg`` whose data pages hold at most two bytes per
    value: dictionary indices (a plain-encoded string costs at least four). Call it only for a
    row group that decoded: its column-chunk metadata is then known to be sound (pyarrow can
    abort the process building it from a corrupt footer)."""
    out = []
    group = pf.metadata.row_group(rg)
    arrow = pf.schema_arrow
    for i in range(group.num_columns):
        leaf = pf.schema.column(i)
        name = leaf.path
        if "." in name or arrow.get_field_index(name) < 0:
            continue
        if not pa.types.is_string(arrow.field(name).type):
            continue
        chunk = group.column(i)
        if not chunk.has_dictionary_page or chunk.num_values <= 0:
            continue
        dictionary_bytes = max(0, chunk.data_page_offset - chunk.dictionary_page_offset)
        if chunk.total_uncompressed_size - dictionary_bytes <= 2 * chunk.num_values:
            out.append(name)
    return out


def _is_crc_error(exc: BaseException) -> bool:
    return "crc" in str(exc).lower() and "checksum" in str(exc).lower()


class ParquetValidator:
    name, title, extensions, media_type, checks, binary = SPECS["parquet"].fields()

    def sniff(self, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def validate(self, source: Source, ctx: ValidationContext) -> FormatResult:
        result = FormatResult()
        findings = ctx.findings
        size = source.size
        if size == 0:
            findings.error(FindingCode.empty_file, "the file is empty")
            return result
        ctx.check("magic")
        try:
            with source.open_raw() as fh:
                head = fh.read(4)
                fh.seek(max(0, size - 8))
                tail = fh.read(8)
        except OSError as exc:
            findings.error(FindingCode.format_error, f"cannot read the file: {exc.strerror}")
            return result
        if head != MAGIC:
            findings.error(FindingCode.format_error, "not a Parquet file: no PAR1 magic at the start", byte_offset=0)
            return result
        if size < 12:
            findings.error(FindingCode.format_error, f"truncated Parquet file: only {size} bytes", byte_offset=size)
            return result
        if tail[4:] == ENCRYPTED_MAGIC:
            findings.error(
                FindingCode.format_error,
                "the footer is encrypted (PARE): encrypted Parquet cannot be validated without keys",
                byte_offset=size - 4,
            )
            return result
        if tail[4:] != MAGIC:
            findings.error(
                FindingCode.format_error,
                "truncated or corrupt Parquet file: no PAR1 magic at the end (footer missing)",
                byte_offset=size - 4,
            )
            return result
        ctx.check("footer")
        footer_len = int.from_bytes(tail[:4], "little")
        footer_start = size - 8 - footer_len
        if footer_start < 4:
            findings.error(
                FindingCode.format_error,
                f"corrupt footer: its length ({footer_len} bytes) does not fit in the file",
                byte_offset=size - 8,
            )
            return result
        try:
            pf = _open(source)
            metadata = pf.metadata
            schema = pf.schema_arrow
            if _pre_buffer(source, metadata):
                pf.close()
                pf = _open(source, pre_buffer=True)
        except (Cancelled, TimeBudgetExceeded):
            raise
        except Exception as exc:  # pyarrow raises OSError/ArrowInvalid/... for a bad footer
            findings.error(FindingCode.format_error, f"corrupt footer: {exc}", byte_offset=footer_start)
            return result
        try:
            self._row_groups(source, pf, metadata, schema, ctx, result)
        finally:
            pf.close()
        return result

    def _row_groups(
        self,
        source: Source,
        pf: pq.ParquetFile,
        metadata: Any,
        schema: Any,
        ctx: ValidationContext,
        result: FormatResult,
    ) -> None:
        findings = ctx.findings
        result.columns = column_infos(schema)
        declared_rows = metadata.num_rows
        groups = metadata.num_row_groups
        result.extra = {"row_groups": groups, "format_version": metadata.format_version}
        try:
            result.extra["created_by"] = metadata.created_by
        except UnicodeDecodeError:
            findings.warning(FindingCode.encoding_error, "the footer's created_by is not valid UTF-8")
        checker = BatchChecker(schema, ctx, decoded=True)
        for name in ("row-groups", "page-crc", "row-count"):
            ctx.check(name)
        # Rows of each row group, from the footer. Column-chunk metadata is deliberately not
        # touched: on a corrupt footer pyarrow can abort the process building it (seen by fuzzing).
        group_rows_of = [metadata.row_group(rg).num_rows for rg in range(groups)]
        total_rows = max(sum(group_rows_of), 1)
        row_offset = 0
        decoded_total = 0
        decoded = 0
        decode = _decode(source, pf, groups, _pre_buffer(source, metadata))
        with BackgroundHash(source), prefetch(decode) as events:
            for rg, batch, failure in events:
                group_rows = group_rows_of[rg]
                if batch is not None:
                    checker.check(batch, row_offset + decoded)
                    decoded += batch.num_rows
                    done = min(total_rows, row_offset + decoded)
                    ctx.checkpoint(source.size * done // total_rows)
                    continue
                if failure is not None:
                    code = FindingCode.checksum_error if _is_crc_error(failure) else FindingCode.format_error
                    findings.error(code, f"row group {rg} cannot be decoded: {failure}", row=row_offset + decoded + 1)
                elif decoded != group_rows:
                    findings.error(
                        FindingCode.format_error,
                        f"row group {rg} decoded {decoded} rows, its metadata says {group_rows}",
                        row=row_offset + decoded + 1,
                    )
                row_offset += group_rows
                decoded_total += decoded
                decoded = 0
        if row_offset != declared_rows:
            findings.error(
                FindingCode.format_error,
                f"the footer says {declared_rows} rows but its row groups hold {row_offset}",
            )
        result.rows = decoded_total


VALIDATOR = ParquetValidator()
