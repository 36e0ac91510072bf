"""``dataproduct-mcp tasks list|show ID|cancel ID``: durable tasks of a tenant, read from the database.

Works whether or not a server runs on the same database: a cancel written here reaches a running
task at its worker's next heartbeat (a third of DPMCP_TASK_LEASE_SECONDS). Human table by
default, ``--json`` for programs. Exit 0; 1 when the task does not exist; 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("tasks", help="list, show or cancel durable tasks (from the database)")
    parser.add_argument("--tenant", default=None, help="tenant (default DPMCP_TENANT, the local tenant)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="newest first")
    listing.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    listing.add_argument("--kind", default=None, help="only this kind, e.g. validate-file")
    listing.add_argument("--limit", type=int, default=50, help="how many (1..1000, default 50)")
    listing.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    for name, text in (("show", "one task with its params and result"), ("cancel", "cancel a task")):
        action = actions.add_parser(name, help=text)
        action.add_argument("task_id", metavar="ID")
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")


def _table(tasks: list[Any]) -> str:
    header = ("ID", "KIND", "STATUS", "PROGRESS", "ATTEMPTS", "CREATED", "MESSAGE")
    rows = [
        (
            t.id,
            t.kind,
            t.status.value + (" (cancel requested)" if t.cancel_requested and not t.finished else ""),
            f"{t.progress * 100:.0f}%",
            str(t.attempts),
            t.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            (t.message or "")[:60],
        )
        for t in tasks
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows])


def _details(task: Any) -> str:
    lines = [f"{k}: {v}" for k, v in task.model_dump(mode="json", exclude={"result", "params", "error"}).items()]
    lines.append("params: " + json.dumps(task.params, ensure_ascii=False))
    if task.error is not None:
        lines.append("error: " + json.dumps(task.error, ensure_ascii=False))
    if task.result is not None:
        lines.append("result: " + json.dumps(task.result, ensure_ascii=False, indent=2))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import anyio

    from dataproduct_mcp.cli import load_settings_or_exit
    from dataproduct_mcp.domain.tasks import TaskStatus
    from dataproduct_mcp.errors import NotFound
    from dataproduct_mcp.logs import configure_logging
    from dataproduct_mcp.persistence import open_store

    settings = load_settings_or_exit()
    configure_logging("WARNING", settings.log_format)
    tenant = args.tenant or settings.tenant
    if args.action == "list" and not 1 <= args.limit <= 1000:
        print(f"dataproduct-mcp tasks: --limit {args.limit}: expected 1..1000", file=sys.stderr)
        return 2
    store = open_store(settings)

    async def with_store(fn: Callable[[], Awaitable[Any]]) -> Any:
        await store.open()
        try:
            return await fn()
        finally:
            await store.close()

    try:
        if args.action == "list":
            status = TaskStatus(args.status) if args.status else None
            page = anyio.run(
                with_store,
                lambda: store.list_tasks(tenant, status=status, kind=args.kind, limit=args.limit, before=None),
            )
            if args.json:
                out = {"items": [t.summary().model_dump(mode="json") for t in page.items], "total": page.total}
                print(json.dumps(out, ensure_ascii=False, indent=2))
            else:
                print(_table(page.items))
                print(f"({len(page.items)} of {page.total})")
            return 0
        if args.action == "show":
            task = anyio.run(with_store, lambda: store.get_task(tenant, args.task_id))
        else:
            task = anyio.run(with_store, lambda: store.request_cancel(tenant, args.task_id))
    except NotFound:
        print(f"dataproduct-mcp tasks: no task {args.task_id!r} for tenant {tenant!r}", file=sys.stderr)
        return 1
    print(json.dumps(task.model_dump(mode="json"), ensure_ascii=False, indent=2) if args.json else _details(task))
    return 0
