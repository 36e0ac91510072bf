"""``dataproduct-mcp validate FILE...``: a readable table of findings, or ``--json`` reports.

Exit status 0 when every file is valid, 1 when any is invalid (or cannot be read), 2 on usage errors.
The CLI validates any file the invoking user can read: the allowed-roots policy guards the MCP tools.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dataproduct_mcp.domain.limits import DEFAULT_MAX_ERRORS, MAX_ERRORS_LIMIT

if TYPE_CHECKING:
    from rich.console import Console

    from dataproduct_mcp.domain.validation import Report
    from dataproduct_mcp.validators.base import ValidationOptions
    from dataproduct_mcp.validators.filehash import FileHash

__all__ = ["add_parser", "run"]

PROGRESS_AFTER_S = 0.5


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="validate data files and print their findings (exit 0 valid / 1 invalid)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the reports as JSON (one array)")
    p.add_argument("--format", default=None, help="force a format (see list_file_formats)")
    p.add_argument("--schema", type=Path, default=None, help="JSON file with {columns: [...]} to check against")
    p.add_argument(
        "--max-errors",
        type=int,
        default=DEFAULT_MAX_ERRORS,
        help=f"findings to list per file, 1..{MAX_ERRORS_LIMIT} (default {DEFAULT_MAX_ERRORS}; counts stay true)",
    )
    p.add_argument("--encoding", default="utf-8", help="text encoding (default strict utf-8)")


def _usage(message: str) -> int:
    print(f"dataproduct-mcp validate: {message}", file=sys.stderr)
    return 2


def _may_be_terminal() -> bool:
    """False when rich would not call stderr a terminal (no tty, no FORCE_COLOR/TTY_COMPATIBLE=1):
    then a long validation does not import rich just to learn that there is no bar to draw."""
    env = os.environ
    return sys.stderr.isatty() or bool(env.get("FORCE_COLOR")) or env.get("TTY_COMPATIBLE") == "1"


def _hash_ahead(name: str) -> FileHash | None:
    """Start the first file's sha256 now, on the core the imports below leave idle (stdlib only)."""
    from dataproduct_mcp.validators.filehash import FileHash

    try:
        if stat.S_ISREG(os.stat(name).st_mode):
            return FileHash(Path(name))
    except (OSError, ValueError):  # the validation reports the file as it does without this
        pass
    return None


def _validate_one(path: Path, options: ValidationOptions, sha256_ahead: FileHash | None = None) -> Report:
    """Run the validator in a thread; show a progress bar on stderr if it takes more than a moment."""
    from dataproduct_mcp.validators import registry

    size = path.stat().st_size
    done = [0]
    result: list[Report] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(
                registry.validate_path(
                    path, options, progress=lambda d, _t: done.__setitem__(0, d), sha256_ahead=sha256_ahead
                )
            )
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(PROGRESS_AFTER_S)
    if thread.is_alive() and _may_be_terminal():
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if console.is_terminal:
            columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task(path.name, total=size)
                while thread.is_alive():
                    bar.update(task, completed=done[0])
                    time.sleep(0.1)
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _print_table(report: Report, console: Console) -> None:
    from rich.table import Table

    verdict = "[green]valid[/green]" if report.valid else "[red]invalid[/red]"
    console.print(
        f"{report.path}: {verdict} — {report.format}, {report.rows} rows, {report.bytes} bytes, "
        f"{report.error_count} errors, {report.warning_count} warnings, {report.elapsed_ms:.0f} ms"
    )
    findings = [("error", f) for f in report.errors] + [("warning", f) for f in report.warnings]
    if findings:
        table = Table(show_header=True, header_style="bold")
        for name in ("level", "code", "row", "line", "column", "message"):
            table.add_column(name, overflow="fold")
        for level, f in findings:
            col = f.column_name or (str(f.column) if f.column is not None else "")
            table.add_row(
                level,
                f.code.value,
                str(f.row or ""),
                str(f.line or ""),
                col,
                f.message,
                style="red" if level == "error" else "yellow",
            )
        console.print(table)
    if report.truncated:
        console.print(f"… {report.error_count - len(report.errors)} more errors (raise --max-errors to see them)")


def run(args: argparse.Namespace) -> int:
    ahead = _hash_ahead(args.files[0])  # before the imports: they keep one core busy for ~0.2 s
    from pydantic import ValidationError

    from dataproduct_mcp.domain.schema import TableSchema
    from dataproduct_mcp.errors import DpError
    from dataproduct_mcp.validators import registry
    from dataproduct_mcp.validators.base import ValidationOptions

    if not 1 <= args.max_errors <= MAX_ERRORS_LIMIT:
        return _usage(f"--max-errors must be between 1 and {MAX_ERRORS_LIMIT}")
    schema = None
    if args.schema is not None:
        try:
            schema = TableSchema.model_validate_json(args.schema.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            return _usage(f"--schema {args.schema}: {exc}".splitlines()[0])
    if args.format is not None and args.format not in {f.name for f in registry.list_formats()}:
        return _usage(f"--format {args.format}: unknown format")
    options = ValidationOptions(format=args.format, schema=schema, max_errors=args.max_errors, encoding=args.encoding)
    console = None
    if not args.json:
        from rich.console import Console

        console = Console(stderr=False, highlight=False)
    reports: list[dict[str, object]] = []
    all_valid = True
    for i, name in enumerate(args.files):
        path = Path(name)
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                raise OSError(f"not a regular file: {name}")
            report = _validate_one(path, options, ahead if i == 0 else None)
        except (OSError, DpError) as exc:
            all_valid = False
            message = getattr(exc, "message", None) or str(exc)
            code = getattr(exc, "code", "file-not-found")
            if args.json:
                reports.append({"path": name, "error": {"code": code, "message": message}})
            else:
                assert console is not None
                console.print(f"{name}: [red]{code}[/red] {message}")
            continue
        all_valid = all_valid and report.valid
        if args.json:
            reports.append(report.model_dump(mode="json"))
        else:
            assert console is not None
            _print_table(report, console)
    if args.json:
        sys.stdout.write(json.dumps(reports, ensure_ascii=False, indent=2) + "\n")
    return 0 if all_valid else 1
