"""``/streams/{session_id}``: the WebSocket side of streaming sessions (docs/streams.md).

Thin: authenticate the session token before accepting (a refusal is a real HTTP response,
401/409/400, through the ASGI ``websocket.http.response`` extension), then pump frames from a
:class:`~dataproduct_mcp.services.stream_encoding.FrameProducer` — one batch read and encoded
in a worker thread, then sent; every send is awaited, so the transport's flow control holds
the next read back and a slow client never grows memory by more than one batch.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import anyio
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from dataproduct_mcp.app import Application
from dataproduct_mcp.context import request_scope
from dataproduct_mcp.errors import DpError, InvalidArgument, UnsupportedFormat
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.services.streams import StreamService, StreamSession

if TYPE_CHECKING:
    from dataproduct_mcp.services.stream_encoding import FrameProducer

__all__ = ["CLOSE_CODES", "stream_route"]

log = get_logger(__name__)

# Close codes by the reason a session ended (1000 = the stream completed, after `end`).
CLOSE_CODES = {"expired": 4408, "idle": 4408, "closed": 4410, "shutdown": 1001, "error": 1011}
CLOSE_TIMEOUT_S = 2.0


def _token(ws: WebSocket) -> str | None:
    header = ws.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return ws.query_params.get("token")


def _start_row(ws: WebSocket, session: StreamSession) -> int:
    raw = ws.query_params.get("start_row")
    if raw is None:
        return session.start_row
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidArgument("start_row must be a non-negative integer", field="start_row")
    start = int(raw)
    if session.rows_total is not None and start > session.rows_total:
        raise InvalidArgument(f"start_row {start} is past the last row ({session.rows_total})", field="start_row")
    return start


async def _deny(ws: WebSocket, err: DpError, trace_id: str) -> None:
    status = err.http_status
    headers = {"WWW-Authenticate": 'Bearer realm="dataproduct-mcp streams"'} if status == 401 else None
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(JSONResponse(err.to_dict(trace_id), status_code=status, headers=headers))
    else:  # an ASGI server without the denial extension: a plain refusal (HTTP 403)
        await ws.close(code=1008)


def stream_route(app: Application) -> WebSocketRoute:
    streams = app.streams

    async def endpoint(ws: WebSocket) -> None:
        with request_scope() as trace_id:
            try:
                session = streams.authenticate(ws.path_params["session_id"], _token(ws))
                start = _start_row(ws, session)
                await streams.attach_when_free(session)
            except DpError as err:
                log.info("stream handshake refused: %s", err.code)
                await _deny(ws, err, trace_id)
                return
            with request_scope(tenant=session.tenant, trace_id=trace_id):
                await _serve(ws, streams, session, start, trace_id)

    return WebSocketRoute("/streams/{session_id}", endpoint)


async def _serve(ws: WebSocket, streams: StreamService, session: StreamSession, start: int, trace_id: str) -> None:
    from dataproduct_mcp.services.stream_encoding import FrameProducer  # pyarrow: at the first stream

    producer = FrameProducer(
        session.source, session.format, session.batch_rows, start, streams.limits.max_message_bytes
    )
    outcome = "disconnected"
    try:
        await ws.accept()
        async with anyio.create_task_group() as tg:

            async def watch_session() -> None:
                await session.closed.wait()  # ended by close_stream, expiry, idle timeout, shutdown
                tg.cancel_scope.cancel()

            async def watch_client() -> None:
                while (await ws.receive())["type"] != "websocket.disconnect":
                    pass  # the protocol expects nothing from the client; messages are ignored
                tg.cancel_scope.cancel()

            tg.start_soon(watch_session)
            tg.start_soon(watch_client)
            outcome = await _pump(ws, streams, session, producer, start, trace_id)
            tg.cancel_scope.cancel()
    except WebSocketDisconnect:
        outcome = "disconnected"
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(producer.close)
            if outcome == "disconnected" and session.close_reason is not None:
                outcome = session.close_reason
                with anyio.move_on_after(CLOSE_TIMEOUT_S):  # a client that does not read may stall this
                    await _close_quietly(ws, CLOSE_CODES.get(outcome, 1000), outcome)
            streams.detach(session, completed=outcome == "completed", error=outcome == "error")
            log.info("stream %s connection ended: %s (%d frames)", session.id, outcome, producer.seq)


async def _pump(
    ws: WebSocket,
    streams: StreamService,
    session: StreamSession,
    producer: FrameProducer,
    start: int,
    trace_id: str,
) -> str:
    """Send schema, batches and end; returns the outcome (never raises but for cancellation)."""
    import pyarrow as pa  # loaded with the stream's FrameProducer

    try:
        await ws.send_text(json.dumps(session.schema_message(start)))
        while True:
            frames = await anyio.to_thread.run_sync(producer.next_frames)
            if frames is None:
                break
            for frame in frames:
                if isinstance(frame.data, bytes):
                    await ws.send_bytes(frame.data)
                else:
                    await ws.send_text(frame.data)
                streams.record_sent(session, frame.rows, frame.size)
        end = {
            "type": "end",
            "rows": producer.rows,
            "seq": producer.seq,
            "next_row": start + producer.rows,
            "rows_total": session.rows_total,
        }
        await ws.send_text(json.dumps(end))
        await _close_quietly(ws, 1000, "end")
        return "completed"
    except (WebSocketDisconnect, OSError):
        return "disconnected"
    except (DpError, pa.ArrowException, ValueError) as exc:
        err = exc if isinstance(exc, DpError) else UnsupportedFormat(f"reading the file failed: {exc}")
        log.warning("stream %s failed: %s %s", session.id, err.code, err.message)
        with anyio.move_on_after(CLOSE_TIMEOUT_S):
            try:
                await ws.send_text(json.dumps({"type": "error", **err.to_dict(trace_id)}))
            except (WebSocketDisconnect, OSError):
                return "error"
            await _close_quietly(ws, 1011, err.code)
        return "error"


async def _close_quietly(ws: WebSocket, code: int, reason: str) -> None:
    try:
        await ws.close(code=code, reason=reason)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # already closed or gone
