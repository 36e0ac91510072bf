"""``dataproduct-mcp audit``: print the audit trail of a tenant, read from the database.

A table by default, ``--json`` for one JSON object per line. Exit 0, or 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="print the audit trail of a tenant (from the database)")
    audit.add_argument("--tenant", default=None, help="tenant (default DPMCP_TENANT; _system for server events)")
    audit.add_argument("--product", default=None, help="only events of this product id")
    audit.add_argument("--kind", action="append", default=None, help="only this kind (repeatable)")
    audit.add_argument("--since", default=None, help="ISO 8601 start (inclusive)")
    audit.add_argument("--until", default=None, help="ISO 8601 end (exclusive)")
    audit.add_argument("--limit", type=int, default=100, help="events to print (1..100000)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace) -> int:
    from datetime import datetime

    import anyio

    from dataproduct_mcp.cli import load_settings_or_exit
    from dataproduct_mcp.domain.audit import AuditKind
    from dataproduct_mcp.logs import configure_logging
    from dataproduct_mcp.persistence import open_store
    from dataproduct_mcp.services.audit import AuditLog

    settings = load_settings_or_exit()
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
