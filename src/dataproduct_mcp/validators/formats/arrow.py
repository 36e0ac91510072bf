"""Apache Arrow IPC: the file format (``ARROW1``, also Feather v2), the stream format, Feather v1.

Every record batch is read and fully validated (``RecordBatch.validate(full=True)``: buffer
sizes, offsets, dictionary indices, UTF-8), then checked against the declared schema. A
truncated file (no trailing ``ARROW1``/footer) or a stream cut inside a message is a
``format-error`` at the batch where reading stopped. Memory is bounded by one record batch
(as large as its writer made it). Feather v1 (deprecated by Arrow, no batches) is read whole by
Arrow's v1 reader in a child process, which streams it back as IPC batches: that reader is not
hardened against hostile files, so it must not run inside the server.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from dataproduct_mcp.domain.validation import FindingCode
from dataproduct_mcp.validators._batches import BatchChecker, column_infos
from dataproduct_mcp.validators._threads import BackgroundHash
from dataproduct_mcp.validators.base import (
    Cancelled,
    FormatResult,
    Source,
    TimeBudgetExceeded,
    ValidationContext,
)
from dataproduct_mcp.validators.formats import SPECS

__all__ = ["VALIDATOR", "ArrowValidator"]

FILE_MAGIC = b"ARROW1"
FEATHER_V1_MAGIC = b"FEA1"
CONTINUATION = b"\xff\xff\xff\xff"
MAX_FIRST_MESSAGE = 64 * 1024 * 1024
V1_CHILD_HEAP = 1 << 30  # heap of the Feather v1 child process, on top of 4x the file size


def _looks_like_stream(head: bytes) -> bool:
    """An IPC stream starts with a continuation marker and a plausible metadata length."""
    if len(head) < 8 or not head.startswith(CONTINUATION):
        return False
    length = int.from_bytes(head[4:8], "little")
    return 8 <= length <= MAX_FIRST_MESSAGE and length % 8 == 0


class ArrowValidator:
    name, title, extensions, media_type, checks, binary = SPECS["arrow"].fields()

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
            with source.open_raw() as fh:
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
        with _native(source) as raw:
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
        with _native(source) as raw:
            failure = self._read_stream(raw, raw.tell, ctx, result)
        if failure is not None:
            message, row, offset = failure
            ctx.findings.error(FindingCode.format_error, message, row=row, byte_offset=offset)

    def _read_stream(
        self, raw: Any, tell: Any, ctx: ValidationContext, result: FormatResult
    ) -> tuple[str, int | None, int | None] | None:
        """Read and check every batch of an IPC stream; the failure that stopped it, if any."""
        try:
            reader = ipc.open_stream(raw)
            schema = reader.schema
        except (Cancelled, TimeBudgetExceeded):
            raise
        except Exception as exc:
            return f"corrupt Arrow IPC stream schema message: {exc}", None, 0
        result.columns = column_infos(schema)
        checker = BatchChecker(schema, ctx)
        ctx.check("record-batches")
        rows = 0
        batches = 0
        failure = None
        while True:
            offset = tell()
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (Cancelled, TimeBudgetExceeded):
                raise
            except Exception as exc:  # truncated or corrupt message
                message = f"record batch {batches} cannot be read (truncated or corrupt stream): {exc}"
                failure = (message, rows + 1, offset)
                break
            checker.check(batch, rows)
            rows += batch.num_rows
            batches += 1
            ctx.checkpoint(min(tell(), ctx.total_bytes))
        result.rows = rows
        result.extra["record_batches"] = batches
        return failure

    def _feather_v1(self, source: Source, ctx: ValidationContext, result: FormatResult) -> None:
        """Feather v1 is read by Arrow's own v1 reader in a child process, which streams it back
        as Arrow IPC: that reader is deprecated and not hardened (fuzzing made it crash the
        process), so a hostile file may kill the child, never the server."""
        if source.remote is not None:
            ctx.findings.error(
                FindingCode.format_error,
                "Feather v1 is validated from local files only (its reader runs in a child process); "
                "convert the file to Feather v2 / Arrow IPC",
            )
            return
        remaining = max(0.1, ctx.options.time_budget_s - (time.monotonic() - ctx.started))
        with tempfile.TemporaryFile() as errors:
            child = subprocess.Popen(
                [sys.executable, "-c", _FEATHER_V1_CHILD, str(source.path), str(V1_CHILD_HEAP + 4 * source.size)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
            watchdog = threading.Timer(remaining, child.kill)
            watchdog.start()
            try:
                assert child.stdout is not None
                read = 0

                def tell() -> int:
                    return read

                failure = self._read_stream(child.stdout, tell, ctx, result)
                returncode = child.wait()
            finally:
                watchdog.cancel()
                if child.stdout is not None:
                    child.stdout.close()
                if child.poll() is None:
                    child.kill()
                    child.wait()
            errors.seek(0)
            last = [line for line in errors.read()[-4000:].decode("utf-8", "replace").splitlines() if line.strip()]
        if returncode != 0:
            if returncode < 0:
                why = f"the Feather v1 reader crashed on this file (signal {-returncode}) or ran out of time"
            else:
                why = f"the Feather v1 reader failed: {last[-1] if last else 'no message'}"
            row = failure[1] if failure is not None else None
            ctx.findings.error(FindingCode.format_error, f"{why}; convert the file to Feather v2", row=row)
        elif failure is not None:
            ctx.findings.error(FindingCode.format_error, failure[0], row=failure[1])


def _native(source: Source) -> Any:
    """A pyarrow file: the OS file of a local path, or the remote object's stream."""
    if source.remote is None:
        return pa.OSFile(str(source.path))
    return pa.PythonFile(source.open_raw(), mode="r")


_FEATHER_V1_CHILD = """
import resource, sys, warnings
# Cap the heap first: a forged v1 header must not make the reader allocate the machine's memory.
resource.setrlimit(resource.RLIMIT_DATA, (int(sys.argv[2]), int(sys.argv[2])))
warnings.simplefilter("ignore")
import pyarrow.feather as feather, pyarrow.ipc as ipc
table = feather.read_table(sys.argv[1], memory_map=False, use_threads=False)
with ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
    for batch in table.to_batches(max_chunksize=65536):
        writer.write_batch(batch)
"""


VALIDATOR = ArrowValidator()
