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

    from dataproduct_mcp.app import Application
    from dataproduct_mcp.cli import load_settings_or_exit, print_config_errors
    from dataproduct_mcp.config import ConfigError
    from dataproduct_mcp.logs import configure_logging

    settings = load_settings_or_exit()
    configure_logging("WARNING", settings.log_format)
    tenant = args.tenant or settings.tenant
    if args.base_url:
        settings = settings.model_copy(update={"ord_base_url": args.base_url.rstrip("/")})
    try:
        app = Application.build(settings)  # composed, not started: only the store is opened below
    except ConfigError as exc:
        print_config_errors(exc.problems)
        return 2
    store, ord_service = app.store, app.ord

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
