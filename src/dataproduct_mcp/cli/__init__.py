"""The ``dataproduct-mcp`` command line: one module per command group, dispatched by :func:`main`.

Exit status: 0 success, 1 a check or validation failed, 2 usage or configuration error.

Start-up discipline: this package and each command module import only the standard library at
module level; what a command needs (settings, the MCP SDK, pyarrow, rich, the database...) is
imported when that command runs, so ``--version`` and ``validate`` never pay for the server's
imports (``tests/test_cli_imports.py`` pins this).
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dataproduct_mcp import __version__
from dataproduct_mcp.cli import audit, serve, tasks, tokens, validate
from dataproduct_mcp.cli import ord as ord_document

if TYPE_CHECKING:
    from dataproduct_mcp.config import Settings

__all__ = ["main"]

# command -> (add_parser, run); the parser lists them in this order
COMMANDS: dict[str, tuple[Callable[[Any], None], Callable[[argparse.Namespace], int]]] = {
    "serve": (serve.add_serve_parser, serve.run_serve),
    "audit": (audit.add_parser, audit.run),
    "token": (tokens.add_parser, tokens.run),
    "check": (serve.add_check_parser, serve.run_check),
    "validate": (validate.add_parser, validate.run),
    "ord-document": (ord_document.add_parser, ord_document.run),
    "tasks": (tasks.add_parser, tasks.run),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dataproduct-mcp",
        description="MCP tool server that manages data products (register, validate, Dublin Core, ORD).",
    )
    parser.add_argument("--version", action="version", version=f"dataproduct-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_parser, _ in COMMANDS.values():
        add_parser(sub)
    return parser


def print_config_errors(problems: Sequence[str]) -> None:
    """One line per configuration problem on stderr (the caller exits 2)."""
    for line in problems:
        print(f"dataproduct-mcp: configuration error: {line}", file=sys.stderr)


def load_settings_or_exit(overrides: dict[str, object] | None = None) -> Settings:
    """The settings from the environment; a configuration error exits 2 with one line per problem."""
    from dataproduct_mcp.config import ConfigError, load_settings

    try:
        return load_settings(**(overrides or {}))
    except ConfigError as exc:
        print_config_errors(exc.problems)
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    _, run = COMMANDS[args.command]
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    finally:
        if argv is None:
            # The process's own command line: it exits next. Freezing keeps the interpreter's exit
            # from collecting every object start-up made (pydantic schemas, Arrow and SDK modules:
            # ~40 ms for validate), memory the OS reclaims anyway; streams are flushed and files
            # closed by then. (An in-process caller passing argv keeps a normal collector.)
            gc.freeze()
