"""``dataproduct-mcp ord-document``: print the ORD document(s) of a tenant (from the database).

One document: printed as it is served.  Split into several (2 MB each): a JSON array of them, or
only the N-th with ``--document N``.  Products ORD cannot express are listed on stderr with the
field at fault.  Exit 0, or 2 on a usage/configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("ord-document", help="print the ORD document(s) of a tenant")
    parser.add_argument("--tenant", default=None, help="tenant (default DPMCP_TENANT, the local tenant)")
    parser.add_argument("--document", type=int, default=None, help="only the N-th document (1-based) when split")
    parser.add_argument("--base-url", default=None, help="base URL in the document (default DPMCP_ORD_BASE_URL)")
    parser.add_argument("--compact", action="store_true", help="print the exact served bytes (no indentation)")


def run(args: argparse.Namespace) -> int:
    import anyio

    from dataproduct_mcp.cli import load_settings_or_exit, print_config_errors
    from dataproduct_mcp.config import ConfigError
    from dataproduct_mcp.logs import configure_logging
    from dataproduct_mcp.persistence import open_store
    from dataproduct_mcp.services.publication import build_ord_services
    from dataproduct_mcp.services.tasks import TaskService

    settings = load_settings_or_exit()
    configure_logging("WARNING", settings.log_format)
    tenant = args.tenant or settings.tenant
    base = (args.base_url or settings.ord_base_url or f"http://127.0.0.1:{settings.http_port or 8765}").rstrip("/")
    store = open_store(settings)
    try:
        ord_service, _ = build_ord_services(settings, store, TaskService(store, cursor_secret=b"cli"), lambda: base)
    except ConfigError as exc:
        print_config_errors(exc.problems)
        return 2

    async def fetch() -> Any:
        await store.open()
        try:
            return await ord_service.documents(tenant)
        finally:
            await store.close()

    try:
        docs = anyio.run(fetch)
    except ValueError as exc:  # a base URL ORD refuses
        print(f"dataproduct-mcp ord-document: {exc}", file=sys.stderr)
        return 2
    for skipped in docs.build.skipped:
        for problem in skipped.problems:
            print(f"skipped {skipped.product_id}: {problem.field}: {problem.problem}", file=sys.stderr)
    if args.document is not None:
        if not 1 <= args.document <= len(docs.bodies):
            print(
                f"dataproduct-mcp ord-document: --document {args.document}: there are {len(docs.bodies)}",
                file=sys.stderr,
            )
            return 2
        chosen: Any = docs.documents[args.document - 1]
        body = docs.bodies[args.document - 1]
    elif len(docs.bodies) == 1:
        chosen, body = docs.documents[0], docs.bodies[0]
    else:
        chosen, body = docs.documents, None
    if args.compact and body is not None:
        sys.stdout.write(body.decode("utf-8") + "\n")
    else:
        sys.stdout.write(json.dumps(chosen, ensure_ascii=False, indent=None if args.compact else 2) + "\n")
    return 0
