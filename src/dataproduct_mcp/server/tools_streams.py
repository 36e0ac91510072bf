"""Streaming tools (contract §10): open_stream and close_stream."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from dataproduct_mcp.app import Application
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations
from dataproduct_mcp.services.streams import MAX_BATCH_ROWS


class OpenStreamResult(BaseModel):
    session_id: str = Field(description="The session's id (also the last segment of url).")
    url: str = Field(description="WebSocket URL on this server, e.g. ws://127.0.0.1:8765/streams/<session_id>.")
    token: str = Field(
        description="Send as `Authorization: Bearer <token>` (or `?token=` where headers are impossible). "
        "Shown once; keep it secret."
    )
    expires_at: datetime = Field(description="The session ends at this time (UTC) whatever its progress.")
    rows_total: int | None = Field(
        description="Rows in the file from its metadata (Parquet, Arrow IPC file, Avro block headers); null "
        "when unknown (CSV, TSV, JSON Lines, JSON, xlsx, Arrow IPC stream)."
    )
    source_format: str = Field(
        description="Format of the file being streamed (parquet, arrow, csv, tsv, jsonl, json, avro, xlsx)."
    )
    columns: list[str] = Field(description="The columns that will be streamed, in order.")


class CloseStreamResult(BaseModel):
    session_id: str
    closed: bool = Field(description="True: the session ended; a connected client got close code 4410.")
    rows_sent: int = Field(description="Rows sent over the session's connections so far.")


def register(server: DataProductServer, app: Application) -> None:
    tenant = server.tenant

    @server.tool(annotations=tool_annotations("Open a data stream", read_only=True, idempotent=False))
    async def open_stream(
        source: Annotated[
            str,
            Field(
                description="A data product's id (UUID) or ord_id, or a source inside the allowed roots: a file, "
                "directory, glob, s3:// object or prefix, or Delta table (its files stream in order, partition "
                "columns included). Examples: '3f2b…-…', 'customer.dpmcp:dataProduct:sales-orders:v1', "
                "'data/orders.parquet', 's3://lake/orders/'.",
                min_length=1,
                max_length=4096,
            ),
        ],
        format: Annotated[
            Literal["jsonl", "csv", "arrow"],
            Field(
                description="Wire format: 'jsonl' (text frames of JSON Lines), 'csv' (text frames of CSV rows, "
                "header in the schema message) or 'arrow' (binary frames, each an Arrow IPC stream of one "
                "record batch; fastest)."
            ),
        ],
        batch_rows: Annotated[
            int,
            Field(
                ge=1,
                le=MAX_BATCH_ROWS,
                description="Rows per message (1..100000). A batch larger than the server's message limit "
                "(DPMCP_STREAM_MAX_MESSAGE_BYTES, default 16 MiB) is split. Example: 10000.",
            ),
        ] = 10_000,
        columns: Annotated[
            list[str] | None,
            Field(
                description="Columns to stream, in this order (default: all). Example: ['id', 'amount'].",
                max_length=1000,
            ),
        ] = None,
        start_row: Annotated[
            int,
            Field(
                ge=0,
                description="0-based index of the first row to send (rows already received, to resume). "
                "The WebSocket URL's ?start_row= overrides it per connection.",
            ),
        ] = 0,
        file: Annotated[
            int | str | None,
            Field(
                description="For a product with several files: the index (0-based) or path of the file to "
                "stream (default: its first file). Not allowed with a path source."
            ),
        ] = None,
    ) -> OpenStreamResult:
        """Open a WebSocket streaming session over one data file (Parquet, Arrow IPC, CSV, TSV, JSON Lines,
        a JSON array of objects — text formats optionally gzip-compressed — Avro, or an xlsx workbook's first
        sheet) and return its URL and a short-lived token. Connect with any
        WebSocket client sending `Authorization: Bearer <token>`; the server sends a JSON `schema` message,
        then batches of `batch_rows` rows, each with a sequence number `seq` and first row `row`, then
        `{"type":"end","rows":N}`. Reconnect with `?start_row=<next row>` to resume after a disconnect.
        Limits: a session expires DPMCP_STREAM_TTL_SECONDS (default 300) after opening and ends after
        DPMCP_STREAM_IDLE_SECONDS (default 60) without progress; at most DPMCP_STREAM_MAX_PER_TENANT (default 8)
        open sessions per caller and DPMCP_STREAM_MAX_TOTAL (default 64) in all — beyond, `rate-limited`.
        The file is read batch by batch, never whole. Protocol: docs/streams.md."""
        session, token, url = await app.streams.open_for_client(
            tenant(), source, format=format, batch_rows=batch_rows, columns=columns, start_row=start_row, file=file
        )
        return OpenStreamResult(
            session_id=session.id,
            url=url,
            token=token,
            expires_at=session.expires_at,
            rows_total=session.rows_total,
            source_format=session.source.format,
            columns=session.source.schema.names,
        )

    @server.tool(
        annotations=tool_annotations("Close a data stream", read_only=False, destructive=False, idempotent=False)
    )
    async def close_stream(
        session_id: Annotated[
            str, Field(description="The session_id open_stream returned.", min_length=1, max_length=64)
        ],
    ) -> CloseStreamResult:
        """End a streaming session at once: a connected client receives close code 4410 and the token stops
        working. Sessions also end by themselves when their stream completes, expires or idles out; a session
        that no longer exists (or is another caller's) is `not-found`."""
        session = app.streams.close(tenant(), session_id)
        return CloseStreamResult(session_id=session.id, closed=True, rows_sent=session.rows_sent)
