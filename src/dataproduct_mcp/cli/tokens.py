"""``dataproduct-mcp token create``: a new bearer token for the HTTP transport.

The token is printed once; only its sha256 goes into the tokens file (DPMCP_AUTH_TOKENS_FILE),
written atomically with mode 0600. Exit 0, or 2 on a usage error or a file that is not a tokens file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="manage bearer tokens for the HTTP transport")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser("create", help="print a new token and its entry for DPMCP_AUTH_TOKENS_FILE")
    create.add_argument("--tenant", required=True, help="tenant the token acts for, e.g. acme")
    create.add_argument("--name", default="token", help="a name for the token, shown in audit logs (not secret)")
    create.add_argument(
        "--file", type=Path, default=None, help="also add the entry to this tokens file (created if missing)"
    )


def run(args: argparse.Namespace) -> int:
    from dataproduct_mcp.server.auth import TENANT_RE, new_token

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
