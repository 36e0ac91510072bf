"""Running the server: MCP over stdio (with the HTTP side on loopback) or over Streamable HTTP."""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

import anyio
import uvicorn
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware import Middleware

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.audit import AuditKind
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.server.auth import BearerGate, TokenFile, TokenVerifier
from dataproduct_mcp.server.builder import build_server
from dataproduct_mcp.server.http import http_routes
from dataproduct_mcp.services.audit import SYSTEM_TENANT
from dataproduct_mcp.services.checks import CheckResult, StartupFailed

__all__ = ["serve_http", "serve_stdio"]

log = get_logger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: the process owns SIGTERM/SIGINT (``_on_signal``
    stops the MCP transport and the HTTP side together, then the application closes). ``on_started``
    runs once it serves (it is not awaited by anyone: the socket was bound before)."""

    on_started: Callable[[], None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.on_started is not None:
            self.on_started()


def _uvicorn(asgi: Starlette, host: str, port: int) -> _Server:
    config = uvicorn.Config(
        asgi,
        host=host,
        port=port,
        log_config=None,  # our stderr logging, never stdout
        access_log=False,
        lifespan="on",
        # WebSocket streams (/streams/{id}): websockets' Sans-I/O protocol, no permessage-deflate
        # (it cuts loopback throughput 15-25x on Arrow frames), small incoming messages only.
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=5,
    )
    return _Server(config)


@contextlib.asynccontextmanager
async def _on_signal(stop: Callable[[], None]) -> AsyncIterator[None]:
    """Call ``stop`` on SIGTERM/SIGINT while the block runs."""

    async def watch() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                log.info("received %s, shutting down", signal.Signals(signum).name)
                stop()
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()


async def serve_stdio(app: Application, *, ready: Callable[[], None] | None = None) -> None:
    """MCP over stdin/stdout; the HTTP side listens on DPMCP_HTTP_HOST:DPMCP_HTTP_PORT (0 = ephemeral).

    The HTTP side's socket is bound (and its URL known) before stdin is read, and uvicorn starts
    serving it when the first connection arrives (that connection waits in the socket's backlog
    meanwhile): a session that never uses the HTTP side does not pay for its start before its first
    answer. ``runtime.started`` (the /startup probe) turns true once uvicorn serves.
    ``ready`` runs once, just before stdin is read."""
    app.runtime.transport = "stdio"
    mcp = build_server(app)
    host = app.settings.http_host
    http = _uvicorn(Starlette(routes=http_routes(app)), host, app.settings.http_port)
    async with app:
        sock, app.runtime.http_url = _bind_http_side(app, host, app.settings.http_port)

        def http_started() -> None:
            app.runtime.started = True

        http.on_started = http_started
        waiting = anyio.CancelScope()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_serve_from_first_connection, http, sock, waiting)
            if ready is not None:
                ready()
            log.info("MCP on stdio; HTTP side on %s", app.runtime.http_url)
            with anyio.CancelScope() as stdio_scope:
                async with _on_signal(stdio_scope.cancel):
                    await mcp.run_stdio_async()  # returns when stdin closes
                    log.info("stdin closed, shutting down")
            waiting.cancel()  # no connection came: uvicorn never started
            http.should_exit = True


async def _serve_from_first_connection(http: uvicorn.Server, sock: socket.socket, waiting: anyio.CancelScope) -> None:
    with waiting:
        await anyio.wait_socket_readable(sock)  # a connection is pending
    if waiting.cancelled_caught:
        sock.close()
        return
    await http.serve(sockets=[sock])


def _bind_http_side(app: Application, host: str, port: int) -> tuple[socket.socket, str]:
    """The stdio transport's HTTP side bound; a port that cannot be bound is a failed start-up check."""
    try:
        return _bind(host, port)
    except OSError as exc:
        app.runtime.startup_checks.append(CheckResult("http", False, f"{host}:{port}: {exc.strerror or exc}"[:300]))
        raise StartupFailed(app.runtime.startup_checks) from exc


def _bind(host: str, port: int) -> tuple[socket.socket, str]:
    """Bind before building the app, so the public URL (with an ephemeral port) is known up front."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, reuse_port=False)
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return sock, f"http://{shown}:{bound}"


async def serve_http(
    app: Application, host: str, port: int, *, tokens: TokenFile | None = None, ready: Callable[[], None] | None = None
) -> None:
    """MCP over Streamable HTTP at /mcp, the HTTP side on the same port; bearer auth when ``tokens``.
    ``ready`` runs once, when it serves."""
    app.runtime.transport = "streamable-http"
    app.runtime.auth_enabled = tokens is not None
    sock, base_url = _bind(host, port)
    verifier = TokenVerifier(tokens) if tokens is not None else None
    auth = None
    if tokens is not None:
        auth = AuthSettings(
            issuer_url=AnyHttpUrl(base_url),
            resource_server_url=AnyHttpUrl(base_url + "/mcp"),
            validate_token_resource=False,  # static tokens carry no audience; the tokens file is the authority
        )
    mcp = build_server(app, token_verifier=verifier, auth=auth)
    asgi = mcp.streamable_http_app(
        streamable_http_path="/mcp", host=host, max_request_body_size=app.settings.max_request_bytes
    )
    for route in http_routes(app):
        asgi.router.routes.append(route)
    if tokens is not None:
        metadata_url = f"{base_url}/.well-known/oauth-protected-resource/mcp"
        audit = app.audit

        async def auth_failed(detail: dict[str, Any]) -> None:
            await audit.record(AuditKind.auth_failure, SYSTEM_TENANT, actor="anonymous", detail=detail)

        asgi.user_middleware.append(Middleware(BearerGate, resource_metadata_url=metadata_url, on_failure=auth_failed))
    else:
        log.warning(
            "HTTP transport without authentication (--no-auth): every caller is tenant %r", app.default_tenant()
        )
    http = _uvicorn(asgi, host, port)

    def stop() -> None:
        http.should_exit = True

    async with app:
        async with _on_signal(stop), anyio.create_task_group() as tg:
            tg.start_soon(partial(http.serve, sockets=[sock]))
            app.runtime.http_url = base_url
            with anyio.fail_after(10):
                while not http.started:
                    await anyio.sleep(0.01)
            app.runtime.started = True
            if ready is not None:
                ready()
            # A fixed announcement on stderr (scripts and tests read the bound port from it).
            print(f"dataproduct-mcp listening on {app.runtime.http_url}/mcp", file=sys.stderr, flush=True)
