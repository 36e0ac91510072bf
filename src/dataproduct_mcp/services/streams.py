"""WebSocket streaming sessions (contract §10): open, authenticate, attach, close, reap.

A session names one file (a product's file or a path inside the allowed roots), an output
format and a batch size; it lives in memory on the replica that opened it (its URL names the
replica). ``open`` returns the session and a random token shown once; only the token's
SHA-256 is kept and compared in constant time.

A session ends — and is removed, its ``closed`` event set — when its stream completes, on
``close_stream``, on its absolute expiry (``DPMCP_STREAM_TTL_SECONDS`` after opening), after
``DPMCP_STREAM_IDLE_SECONDS`` without progress (no connection, or a connection whose client
does not read), on a read error, and at shutdown. A disconnect in mid-stream keeps the session
(so the client can resume with ``start_row``) until it idles out. The reaper is a tracked task
started and stopped with the Application.

Limits: ``DPMCP_STREAM_MAX_PER_TENANT`` open sessions per tenant and ``DPMCP_STREAM_MAX_TOTAL``
in all; past either, ``open`` fails with ``rate-limited`` (retry_after = when the oldest
session of the tenant expires at the latest).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from dataproduct_mcp.errors import (
    Conflict,
    Internal,
    InvalidArgument,
    NotFound,
    RateLimited,
    ShuttingDown,
    Unauthorized,
)
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.services.files import PathPolicy
from dataproduct_mcp.services.products import ProductService

if TYPE_CHECKING:
    from dataproduct_mcp.readers.source import SourceInfo

__all__ = ["StreamLimits", "StreamService", "StreamSession"]

log = get_logger(__name__)
REATTACH_WAIT_S = 2.0  # a reconnect waits this long for the previous connection to wind down
REATTACH_POLL_S = 0.02

MAX_BATCH_ROWS = 100_000
MAX_COLUMNS = 1000
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class StreamLimits:
    ttl_s: float = 300.0
    idle_s: float = 60.0
    max_per_tenant: int = 8
    max_total: int = 64
    max_message_bytes: int = 16 * 1024 * 1024


@dataclass(eq=False)
class StreamSession:
    id: str
    tenant: str
    token_sha256: bytes
    source: SourceInfo
    format: str
    batch_rows: int
    start_row: int
    created_at: datetime
    expires_at: datetime
    opened: float  # monotonic
    deadline: float  # monotonic absolute expiry
    last_activity: float  # monotonic
    attached: bool = False
    close_reason: str | None = None
    closed: anyio.Event = field(default_factory=anyio.Event)
    rows_sent: int = 0
    bytes_sent: int = 0

    @property
    def rows_total(self) -> int | None:
        return self.source.rows_total

    def schema_message(self, start_row: int) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "schema",
            "session_id": self.id,
            "format": self.format,
            "columns": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in self.source.schema],
            "rows_total": self.rows_total,
            "start_row": start_row,
            "batch_rows": self.batch_rows,
        }
        if self.format == "csv":
            from dataproduct_mcp.services.stream_encoding import csv_header

            msg["header"] = csv_header(self.source.schema)
        return msg


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass
class _Counters:
    sessions_opened: int = 0
    connections: int = 0
    handshakes_refused: int = 0
    frames_sent: int = 0
    rows_sent: int = 0
    bytes_sent: int = 0
    closed_by_reason: dict[str, int] = field(default_factory=dict)
    duration_count: int = 0
    duration_sum: float = 0.0
    duration_max: float = 0.0
    duration_buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))

    def session_ended(self, reason: str, duration: float) -> None:
        self.closed_by_reason[reason] = self.closed_by_reason.get(reason, 0) + 1
        self.duration_count += 1
        self.duration_sum += duration
        self.duration_max = max(self.duration_max, duration)
        index = next((i for i, b in enumerate(DURATION_BUCKETS) if duration <= b), len(DURATION_BUCKETS))
        self.duration_buckets[index] += 1


class StreamService:
    def __init__(
        self,
        policy: PathPolicy,
        products: ProductService,
        limits: StreamLimits | None = None,
        *,
        http_url: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.policy = policy
        self.products = products
        self.limits = limits or StreamLimits()
        self._http_url = http_url  # the HTTP side's base URL once it listens (it serves the sockets)
        self._sessions: dict[str, StreamSession] = {}
        self._counters = _Counters()
        self._reaper: asyncio.Task[None] | None = None
        self._accepting = True

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the reaper (a tracked task; its failure is logged, never silent)."""
        if self._reaper is None:
            self._accepting = True
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever(), name="dpmcp-stream-reaper")
            self._reaper.add_done_callback(self._reaper_done)

    @staticmethod
    def _reaper_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the stream reaper failed", exc_info=task.exception())

    async def aclose(self) -> None:
        """End every session (connected clients get close code 1001) and stop the reaper."""
        self._accepting = False
        for session in list(self._sessions.values()):
            self._end(session, "shutdown")
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None

    def _reap_interval(self) -> float:
        return max(0.05, min(1.0, self.limits.idle_s / 4, self.limits.ttl_s / 4))

    async def _reap_forever(self) -> None:
        while True:
            await anyio.sleep(self._reap_interval())
            self.reap()

    def reap(self, now: float | None = None) -> int:
        """End expired and idle sessions; returns how many ended."""
        now = time.monotonic() if now is None else now
        ended = 0
        for session in list(self._sessions.values()):
            if now >= session.deadline:
                self._end(session, "expired")
                ended += 1
            elif now - session.last_activity >= self.limits.idle_s:
                self._end(session, "idle")
                ended += 1
        return ended

    # -- opening -------------------------------------------------------------------------------

    def ws_base(self) -> str:
        """``ws://host:port`` (``wss://`` behind https) of the HTTP side that serves the sessions."""
        base = self._http_url()
        if not base:
            raise Internal(
                "the HTTP side is not running, so streams cannot be served",
                suggestion="Run `dataproduct-mcp serve` (stdio or --transport http); both start the HTTP side.",
            )
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"

    async def open_for_client(self, tenant: str, source: str, **options: Any) -> tuple[StreamSession, str, str]:
        """``open_stream``: a session (see :meth:`open`), its token and the WebSocket URL to connect to."""
        base = self.ws_base()  # no session is created when there is nowhere to serve it
        session, token = await self.open(tenant, source, **options)
        return session, token, f"{base}/streams/{session.id}"

    async def open(
        self,
        tenant: str,
        source: str,
        *,
        format: str,
        batch_rows: int = 10_000,
        columns: list[str] | None = None,
        start_row: int = 0,
        file: int | str | None = None,
    ) -> tuple[StreamSession, str]:
        """Create a session; returns it and its token (shown once, only its hash is kept)."""
        # pyarrow is imported by the first stream, not at start-up
        from dataproduct_mcp.services.stream_encoding import OUTPUT_FORMATS, check_output_schema

        if format not in OUTPUT_FORMATS:
            raise InvalidArgument(f"format must be one of {', '.join(OUTPUT_FORMATS)}", field="format")
        if not 1 <= batch_rows <= MAX_BATCH_ROWS:
            raise InvalidArgument(f"batch_rows must be between 1 and {MAX_BATCH_ROWS}", field="batch_rows")
        if start_row < 0:
            raise InvalidArgument("start_row must be 0 or more", field="start_row")
        if columns is not None and not 1 <= len(columns) <= MAX_COLUMNS:
            raise InvalidArgument(f"columns must list 1 to {MAX_COLUMNS} names", field="columns")
        self._check_capacity(tenant)
        path, declared = await self._resolve(tenant, source, file)
        info = await anyio.to_thread.run_sync(self._inspect, path, declared, columns)
        check_output_schema(format, info.schema)
        if info.rows_total is not None and start_row > info.rows_total:
            raise InvalidArgument(
                f"start_row {start_row} is past the last row ({info.rows_total} rows)", field="start_row"
            )
        self._check_capacity(tenant)  # again: other sessions may have opened while the file was read
        token = secrets.token_urlsafe(32)
        now, wall = time.monotonic(), datetime.now(UTC)
        session = StreamSession(
            id=uuid.uuid4().hex,
            tenant=tenant,
            token_sha256=_digest(token),
            source=info,
            format=format,
            batch_rows=batch_rows,
            start_row=start_row,
            created_at=wall,
            expires_at=wall + timedelta(seconds=self.limits.ttl_s),
            opened=now,
            deadline=now + self.limits.ttl_s,
            last_activity=now,
        )
        self._sessions[session.id] = session
        self._counters.sessions_opened += 1
        log.info("stream %s opened (%s as %s, %s rows)", session.id, info.format, format, info.rows_total)
        return session, token

    def _inspect(self, source: str, declared: str | None, columns: list[str] | None) -> SourceInfo:
        """One local file as before; any other source (directory, glob, object storage, Delta
        table) as a dataset streaming its files in order (blocking)."""

        return self.policy.open_source(source, declared, columns)

    def _check_capacity(self, tenant: str) -> None:
        if not self._accepting:
            raise ShuttingDown("the server is stopping and opens no new streams")
        mine = [s for s in self._sessions.values() if s.tenant == tenant]
        now = time.monotonic()
        if len(mine) >= self.limits.max_per_tenant:
            retry = max(0.0, min(s.deadline for s in mine) - now)
            raise RateLimited(
                f"this tenant already has {len(mine)} open streams (limit {self.limits.max_per_tenant})",
                retry_after=retry,
                limit=self.limits.max_per_tenant,
                suggestion="Close streams you no longer need with close_stream, or wait retry_after seconds.",
            )
        if len(self._sessions) >= self.limits.max_total:
            retry = max(0.0, min(s.deadline for s in self._sessions.values()) - now)
            raise RateLimited(
                f"the server has {len(self._sessions)} open streams (limit {self.limits.max_total})",
                retry_after=retry,
                limit=self.limits.max_total,
                suggestion="Wait retry_after seconds, or close streams you no longer need with close_stream.",
            )

    async def _resolve(self, tenant: str, source: str, file: int | str | None) -> tuple[str, str | None]:
        """(source, declared format) of a product's file or of a path in the allowed roots."""
        product = None
        if ":dataProduct:" in source:
            product = await self.products.get(tenant, ord_id=source)
        else:
            with contextlib.suppress(ValueError):
                product = await self.products.get(tenant, product_id=str(uuid.UUID(source)))
        if product is None:
            if file is not None:
                raise InvalidArgument("`file` chooses among a product's files; the source is a path", field="file")
            self.policy.check(source)  # path-not-allowed now, before anything is read
            return source, None
        if not product.files:
            raise InvalidArgument(f"data product {product.id} has no files to stream", field="source")
        if file is None:
            ref = product.files[0]
        elif isinstance(file, int):
            if not 0 <= file < len(product.files):
                raise InvalidArgument(f"file index {file} is out of range (0..{len(product.files) - 1})", field="file")
            ref = product.files[file]
        else:
            matches = [f for f in product.files if f.path == file]
            if not matches:
                raise InvalidArgument(f"the product has no file {file!r}", field="file")
            ref = matches[0]
        return ref.path, ref.format

    # -- connecting ----------------------------------------------------------------------------

    def authenticate(self, session_id: str, token: str | None) -> StreamSession:
        """The session if ``token`` is its token and it has not expired; else ``unauthorized``
        (an unknown id answers the same, so ids cannot be probed)."""
        session = self._sessions.get(session_id)
        presented = _digest(token or "")
        expected = session.token_sha256 if session is not None else _digest(secrets.token_urlsafe(32))
        if session is None or not token or not hmac.compare_digest(presented, expected):
            self._counters.handshakes_refused += 1
            raise Unauthorized("unknown stream session or wrong token")
        if time.monotonic() >= session.deadline:
            self._end(session, "expired")
            self._counters.handshakes_refused += 1
            raise Unauthorized("the stream session has expired", suggestion="Open a new stream with open_stream.")
        return session

    def attach(self, session: StreamSession) -> None:
        if session.attached:
            raise Conflict(
                "another connection is already streaming this session",
                suggestion="Close the other connection first; one connection per session at a time.",
            )
        session.attached = True
        session.last_activity = time.monotonic()
        self._counters.connections += 1

    async def attach_when_free(self, session: StreamSession, wait_s: float = REATTACH_WAIT_S) -> None:
        """:meth:`attach`, after waiting up to ``wait_s`` for a connection that is winding down.

        A client that drops its connection and reconnects at once (to resume with ``start_row``)
        usually arrives while the server is still finishing the batch it was encoding for the old
        connection; refusing that reconnect with ``conflict`` would be a race the client cannot
        see. A second connection while the first really streams is still refused."""
        deadline = time.monotonic() + wait_s
        while session.attached and not session.closed.is_set() and time.monotonic() < deadline:
            await anyio.sleep(REATTACH_POLL_S)
        if session.closed.is_set():  # it ended meanwhile (completed, closed, expired): as for any ended session
            self._counters.handshakes_refused += 1
            raise Unauthorized("unknown stream session or wrong token")
        self.attach(session)

    def detach(self, session: StreamSession, *, completed: bool, error: bool = False) -> None:
        session.attached = False
        session.last_activity = time.monotonic()
        if completed:
            self._end(session, "completed")
        elif error:
            self._end(session, "error")

    def record_sent(self, session: StreamSession, rows: int, size: int) -> None:
        session.rows_sent += rows
        session.bytes_sent += size
        session.last_activity = time.monotonic()
        c = self._counters
        c.frames_sent += 1
        c.rows_sent += rows
        c.bytes_sent += size

    # -- closing -------------------------------------------------------------------------------

    def close(self, tenant: str, session_id: str) -> StreamSession:
        """End a session of ``tenant``; another tenant's session is ``not-found``."""
        session = self._sessions.get(session_id)
        if session is None or session.tenant != tenant:
            raise NotFound(
                f"no open stream session {session_id}",
                suggestion="The session may have completed, expired or idled out; open a new one with open_stream.",
            )
        self._end(session, "closed")
        return session

    def _end(self, session: StreamSession, reason: str) -> None:
        if self._sessions.pop(session.id, None) is None:
            return
        session.close_reason = reason
        session.closed.set()
        duration = time.monotonic() - session.opened
        self._counters.session_ended(reason, duration)
        log.info("stream %s ended: %s after %.1f s, %d rows", session.id, reason, duration, session.rows_sent)

    def get(self, tenant: str, session_id: str) -> StreamSession:
        session = self._sessions.get(session_id)
        if session is None or session.tenant != tenant:
            raise NotFound(f"no open stream session {session_id}")
        return session

    # -- metrics -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        c = self._counters
        return {
            "active_sessions": len(self._sessions),
            "connected_sessions": sum(1 for s in self._sessions.values() if s.attached),
            "sessions_opened_total": c.sessions_opened,
            "connections_total": c.connections,
            "handshakes_refused_total": c.handshakes_refused,
            "sessions_closed_total": dict(c.closed_by_reason),
            "frames_sent_total": c.frames_sent,
            "rows_sent_total": c.rows_sent,
            "bytes_sent_total": c.bytes_sent,
            "session_duration_seconds": {
                "count": c.duration_count,
                "sum": round(c.duration_sum, 3),
                "max": round(c.duration_max, 3),
                "buckets": dict(zip([*map(str, DURATION_BUCKETS), "+Inf"], c.duration_buckets, strict=True)),
            },
            "limits": {
                "max_per_tenant": self.limits.max_per_tenant,
                "max_total": self.limits.max_total,
                "ttl_seconds": self.limits.ttl_s,
                "idle_seconds": self.limits.idle_s,
                "max_message_bytes": self.limits.max_message_bytes,
            },
        }
