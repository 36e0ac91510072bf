"""``ws://…/tasks/{task_id}/events``: a task's progress and final state, pushed as JSON messages.

Messages: ``{"type": "task", "task": {...}}`` on connect and on every change (status, progress,
message), a ``{"type": "heartbeat"}`` every 15 s without change, and the connection closes with
1000 after the final state. Under ``--transport http`` with auth the handshake needs the same
``Authorization: Bearer`` token as the MCP endpoint (401 otherwise); another tenant's task and an
unknown id are refused with 404 — existence does not leak.
"""

from __future__ import annotations

import anyio
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from dataproduct_mcp.app import Application
from dataproduct_mcp.context import request_scope
from dataproduct_mcp.domain.tasks import Task
from dataproduct_mcp.errors import DpError, Unauthorized
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.server.ws import _deny

__all__ = ["task_events_route"]

log = get_logger(__name__)

HEARTBEAT_S = 15.0


def _tenant(app: Application, ws: WebSocket) -> str:
    if not app.runtime.auth_enabled:
        return app.default_tenant()
    user = ws.scope.get("user")
    token = getattr(user, "access_token", None)
    if user is None or not getattr(user, "is_authenticated", False) or token is None:
        raise Unauthorized("a bearer token is required for task events")
    return str(token.client_id)


def task_events_route(app: Application) -> WebSocketRoute:
    async def endpoint(ws: WebSocket) -> None:
        with request_scope() as trace_id:
            try:
                tenant = _tenant(app, ws)
                task = await app.tasks.get(tenant, ws.path_params["task_id"])
            except DpError as err:
                await _deny(ws, err, trace_id)
                return
            with request_scope(tenant=tenant, trace_id=trace_id):
                await _serve(app, ws, tenant, task)

    return WebSocketRoute("/tasks/{task_id}/events", endpoint)


async def _serve(app: Application, ws: WebSocket, tenant: str, task: Task) -> None:
    tasks = app.tasks
    await ws.accept()

    async def send(current: Task) -> None:
        await ws.send_json({"type": "task", "task": current.model_dump(mode="json")})

    try:
        async with anyio.create_task_group() as tg:

            async def watch_disconnect() -> None:
                try:
                    while True:
                        await ws.receive_text()  # clients send nothing; this returns on disconnect
                except (WebSocketDisconnect, RuntimeError):
                    tg.cancel_scope.cancel()

            tg.start_soon(watch_disconnect)
            await send(task)
            while not task.finished:
                before = (task.status, task.progress, task.message)
                task = await tasks.wait(tenant, task.id, HEARTBEAT_S, on_change=None)
                if (task.status, task.progress, task.message) != before or task.finished:
                    await send(task)
                else:
                    await ws.send_json({"type": "heartbeat"})
            await ws.close(code=1000)
            tg.cancel_scope.cancel()
    except (WebSocketDisconnect, RuntimeError) as exc:
        log.debug("task events client went away: %r", exc)
