"""The ``dataproduct-mcp`` command line.

Exit status: 0 success, 1 a check or validation failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from dataproduct_mcp import __version__, cli_ord, cli_tasks, cli_validate
from dataproduct_mcp.config import ConfigError, Settings, load_settings
from dataproduct_mcp.logs import configure_logging, get_logger
from dataproduct_mcp.observability import init_observability
from dataproduct_mcp.server.auth import TENANT_RE, AuthError, TokenFile, new_token
from dataproduct_mcp.services.checks import StartupFailed

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
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="--transport http without bearer authentication (every caller is the local tenant; logs a warning)",
    )

    audit = sub.add_parser("audit", help="print the audit trail of a tenant (from the database)")
    audit.add_argument("--tenant", default=None, help="tenant (default DPMCP_TENANT; _system for server events)")
    audit.add_argument("--product", default=None, help="only events of this product id")
    audit.add_argument("--kind", action="append", default=None, help="only this kind (repeatable)")
    audit.add_argument("--since", default=None, help="ISO 8601 start (inclusive)")
    audit.add_argument("--until", default=None, help="ISO 8601 end (exclusive)")
    audit.add_argument("--limit", type=int, default=100, help="events to print (1..100000)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")

    token = sub.add_parser("token", help="manage bearer tokens for the HTTP transport")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser("create", help="print a new token and its entry for DPMCP_AUTH_TOKENS_FILE")
    create.add_argument("--tenant", required=True, help="tenant the token acts for, e.g. acme")
    create.add_argument("--name", default="token", help="a name for the token, shown in audit logs (not secret)")
    create.add_argument(
        "--file", type=Path, default=None, help="also add the entry to this tokens file (created if missing)"
    )

    sub.add_parser("check", help="validate configuration and storage, run start-up checks (exit 0/1)")
    cli_validate.add_parser(sub)
    cli_ord.add_parser(sub)
    cli_tasks.add_parser(sub)
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

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        init_observability(settings)
        app = Application.build(settings)
    except ConfigError as exc:  # e.g. a bad DPMCP_DC_MAPPINGS_FILE or a missing optional package
        for line in exc.problems:
            print(f"dataproduct-mcp: configuration error: {line}", file=sys.stderr)
        return 2
    try:
        return _serve(app, args, settings)
    except StartupFailed as exc:
        for result in exc.results:
            if not result.ok:
                print(f"dataproduct-mcp: start-up check failed: {result.name}: {result.detail}", file=sys.stderr)
        return 1


def _serve(app: Any, args: argparse.Namespace, settings: Settings) -> int:
    from dataproduct_mcp.server.run import serve_http, serve_stdio

    if args.transport == "stdio":
        anyio.run(serve_stdio, app)
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
        anyio.run(partial(serve_http, app, host, port, tokens=tokens))
    return 0


def _load_tokens(settings: Settings) -> TokenFile | None:
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


def _cmd_audit(args: argparse.Namespace) -> int:
    from datetime import datetime

    from dataproduct_mcp.domain.audit import AuditKind
    from dataproduct_mcp.persistence import open_store
    from dataproduct_mcp.services.audit import AuditLog

    settings = _settings()
    configure_logging("WARNING", settings.log_format)
    try:
        kinds = [AuditKind(k) for k in args.kind or []]
        since = datetime.fromisoformat(args.since) if args.since else None
        until = datetime.fromisoformat(args.until) if args.until else None
    except ValueError as exc:
        print(f"dataproduct-mcp audit: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.limit <= 100_000:
        print("dataproduct-mcp audit: --limit must be between 1 and 100000", file=sys.stderr)
        return 2

    async def fetch() -> list[Any]:
        store = open_store(settings)
        await store.open()
        try:
            audit = AuditLog(store, cursor_secret=b"cli")
            out: list[Any] = []
            cursor = None
            while len(out) < args.limit:
                page, cursor = await audit.list(
                    args.tenant or settings.tenant,
                    product_id=args.product,
                    kinds=kinds,
                    since=since,
                    until=until,
                    limit=min(100, args.limit - len(out)),
                    cursor=cursor,
                )
                out.extend(page)
                if cursor is None:
                    break
            return out
        finally:
            await store.close()

    events = anyio.run(fetch)
    for e in events:
        if args.json:
            print(e.model_dump_json())
        else:
            revs = f"r{e.before_revision or '-'}->r{e.after_revision or '-'}"
            print(
                f"{e.at.isoformat()}  {e.kind.value:<18} {e.actor or '-':<12} "
                f"{e.product_id or '-':<36} {revs}  {e.trace_id or '-'}"
            )
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    if not TENANT_RE.match(args.tenant):
        print(f"dataproduct-mcp token: --tenant {args.tenant!r}: expected {TENANT_RE.pattern}", file=sys.stderr)
        return 2
    token, digest = new_token()
    entry = {"sha256": digest, "tenant": args.tenant, "name": args.name}
    if args.file is not None:
        data: dict[str, list[dict[str, str]]] = {"tokens": []}
        if args.file.exists():
            try:
                data = json.loads(args.file.read_text(encoding="utf-8"))
                assert isinstance(data.get("tokens"), list)
            except (OSError, ValueError, AssertionError, AttributeError):
                print(f"dataproduct-mcp token: {args.file} is not a tokens file", file=sys.stderr)
                return 2
        data["tokens"].append(entry)
        tmp = args.file.with_suffix(args.file.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(args.file)
    print(f"token: {token}")
    print(f"entry: {json.dumps(entry)}")
    print("The token is shown once; only its sha256 is stored. Send it as `Authorization: Bearer <token>`.")
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
    handlers = {
        "serve": _cmd_serve,
        "check": _cmd_check,
        "validate": cli_validate.run,
        "ord-document": cli_ord.run,
        "tasks": cli_tasks.run,
        "token": _cmd_token,
        "audit": _cmd_audit,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130
