"""``dataproduct-mcp serve`` (MCP over stdio, or Streamable HTTP with bearer tokens) and
``dataproduct-mcp check`` (the start-up checks serve runs, without serving).

Under stdio, stdout is the MCP channel: everything else (logs, start-up failures) goes to stderr.
Configuration errors exit 2 with one line per problem; a failed start-up check exits 1.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataproduct_mcp.config import Settings
    from dataproduct_mcp.server.auth import TokenFile

__all__ = ["add_check_parser", "add_serve_parser", "run_check", "run_serve"]


def add_serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="MCP transport")
    serve.add_argument("--host", default=None, help="bind host for --transport http (default DPMCP_HTTP_HOST)")
    serve.add_argument("--port", type=int, default=None, help="bind port for --transport http (default 8765)")
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="--transport http without bearer authentication (every caller is the local tenant; logs a warning)",
    )


def add_check_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("check", help="validate configuration and storage, run start-up checks (exit 0/1)")


def run_serve(args: argparse.Namespace) -> int:
    # Start-up creates about a million long-lived objects (the SDK's and our pydantic models and
    # schemas, modules) and almost no garbage: the collector's passes over them cost ~0.1 s before
    # the first answer. It is off until the server is ready, then what exists is frozen (left out of
    # every later pass) and it runs as usual (_ready).
    gc.disable()
    from dataproduct_mcp.app import Application
    from dataproduct_mcp.cli import load_settings_or_exit, print_config_errors
    from dataproduct_mcp.config import ConfigError
    from dataproduct_mcp.logs import configure_logging
    from dataproduct_mcp.observability import init_observability
    from dataproduct_mcp.services.checks import StartupFailed

    settings = load_settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    try:
        init_observability(settings)
        app = Application.build(settings)
    except ConfigError as exc:  # e.g. a bad DPMCP_DC_MAPPINGS_FILE or a missing optional package
        print_config_errors(exc.problems)
        return 2
    try:
        return _serve(app, args, settings)
    except StartupFailed as exc:
        for result in exc.results:
            if not result.ok:
                print(f"dataproduct-mcp: start-up check failed: {result.name}: {result.detail}", file=sys.stderr)
        return 1


def _serve(app: Any, args: argparse.Namespace, settings: Settings) -> int:
    from functools import partial

    import anyio

    from dataproduct_mcp.server.run import serve_http, serve_stdio

    if args.transport == "stdio":
        anyio.run(partial(serve_stdio, app, ready=_ready))
    else:
        host = args.host or settings.http_host
        port = args.port if args.port is not None else (settings.http_port or 8765)
        if not 0 <= port <= 65535:
            print(f"dataproduct-mcp: --port {port}: expected 0..65535", file=sys.stderr)
            return 2
        tokens = None
        if not args.no_auth:
            tokens = _load_tokens(settings)
            if tokens is None:
                return 2
        anyio.run(partial(serve_http, app, host, port, tokens=tokens, ready=_ready))
    return 0


def _ready() -> None:
    """The server is about to answer: the start-up objects are frozen and the collector resumes."""
    gc.freeze()
    gc.enable()


def _load_tokens(settings: Settings) -> TokenFile | None:
    from dataproduct_mcp.server.auth import AuthError, TokenFile

    if settings.auth_tokens_file is None:
        print(
            "dataproduct-mcp: configuration error: DPMCP_AUTH_TOKENS_FILE is not set: --transport http needs "
            "bearer tokens (create one with `dataproduct-mcp token create --tenant NAME --file tokens.json`), "
            "or pass --no-auth explicitly",
            file=sys.stderr,
        )
        return None
    try:
        return TokenFile.load(settings.auth_tokens_file)
    except AuthError as exc:
        for line in str(exc).splitlines():
            print(f"dataproduct-mcp: configuration error: DPMCP_AUTH_TOKENS_FILE: {line}", file=sys.stderr)
        return None


def run_check(_: argparse.Namespace) -> int:
    import anyio

    from dataproduct_mcp.cli import load_settings_or_exit
    from dataproduct_mcp.logs import configure_logging
    from dataproduct_mcp.services.checks import run_startup_checks

    settings = load_settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    results = anyio.run(run_startup_checks, settings)
    ok = True
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        print(f"{mark} {result.name}: {result.detail}")
        ok = ok and result.ok
    return 0 if ok else 1
