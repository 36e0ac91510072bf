"""The ``dataproduct-mcp`` command line.

Exit status: 0 success, 1 a check or validation failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from dataproduct_mcp import __version__, cli_validate
from dataproduct_mcp.config import ConfigError, Settings, load_settings
from dataproduct_mcp.logs import configure_logging, get_logger

__all__ = ["main"]

log = get_logger("dataproduct_mcp.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dataproduct-mcp",
        description="MCP tool server that manages data products (register, validate, Dublin Core, ORD).",
    )
    parser.add_argument("--version", action="version", version=f"dataproduct-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="MCP transport")
    serve.add_argument("--host", default=None, help="bind host for --transport http (default DPMCP_HTTP_HOST)")
    serve.add_argument("--port", type=int, default=None, help="bind port for --transport http (default 8765)")

    sub.add_parser("check", help="validate configuration and storage, run start-up checks (exit 0/1)")
    cli_validate.add_parser(sub)
    return parser


def _settings(overrides: dict[str, object] | None = None) -> Settings:
    try:
        return load_settings(**(overrides or {}))
    except ConfigError as exc:
        for line in exc.problems:
            print(f"dataproduct-mcp: configuration error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _cmd_serve(args: argparse.Namespace) -> int:
    from dataproduct_mcp.app import Application
    from dataproduct_mcp.server.run import serve_http, serve_stdio

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    app = Application.build(settings)
    if args.transport == "stdio":
        anyio.run(serve_stdio, app)
    else:
        host = args.host or settings.http_host
        port = args.port if args.port is not None else (settings.http_port or 8765)
        if not 0 <= port <= 65535:
            print(f"dataproduct-mcp: --port {port}: expected 0..65535", file=sys.stderr)
            return 2
        anyio.run(serve_http, app, host, port)
    return 0


def _cmd_check(_: argparse.Namespace) -> int:
    from dataproduct_mcp.services.checks import run_startup_checks

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    results = anyio.run(run_startup_checks, settings)
    ok = True
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        print(f"{mark} {result.name}: {result.detail}")
        ok = ok and result.ok
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    handlers = {"serve": _cmd_serve, "check": _cmd_check, "validate": cli_validate.run}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130
