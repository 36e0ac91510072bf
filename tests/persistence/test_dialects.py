"""The store is written once: the state machines' SQL lives in the shared modules, the dialects stay
thin (connections, values, a few hooks), and only the dialects know a database driver."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dataproduct_mcp.persistence.dialects.postgres import dollar_params

PKG = Path(__file__).resolve().parents[2] / "src" / "dataproduct_mcp"
PERSISTENCE = PKG / "persistence"
DIALECTS = sorted((PERSISTENCE / "dialects").glob("*.py"))
SHARED = [PERSISTENCE / f"{name}.py" for name in ("products", "tasks", "outbox", "audit", "jobs", "store", "rows")]
DRIVERS = {"sqlite3", "aiosqlite", "asyncpg"}

# What the queue, outbox, job and audit state machines are made of: their tables as written to or
# read from, their lease/attempt/delivery columns, and their status values.
STATE_MACHINE_SQL = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(?:tasks|ord_outbox|job_leases|audit_events|server_secrets)\b"
    r"|\b(?:lease_owner|lease_expires_at|run_after|attempts|cancel_requested|idempotency_key|delivered_at"
    r"|last_outcome|next_run_at)\b"
    r"|'(?:queued|running|pending|delivered|rejected|succeeded|failed|cancelled)'",
    re.IGNORECASE,
)
# What only one backend understands.
BACKEND_SQL = re.compile(
    r"\$\d|FOR UPDATE|SKIP LOCKED|BEGIN IMMEDIATE|pg_advisory|products_fts|PRAGMA|::text|INSERT OR|GREATEST\(",
    re.IGNORECASE,
)


def strings(path: Path) -> list[str]:
    """Every string literal of a module but its docstrings and comments (f-strings by their literal parts)."""
    tree = ast.parse(path.read_text())
    prose = {
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
    ]


def hits(path: Path, pattern: re.Pattern[str]) -> list[str]:
    return [s for s in strings(path) if pattern.search(s)]


def imported(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_the_dialects_hold_no_sql_of_the_state_machines() -> None:
    assert {p.stem for p in DIALECTS} >= {"base", "sqlite", "postgres"}
    for path in DIALECTS:
        assert hits(path, STATE_MACHINE_SQL) == [], path.name


def test_the_check_finds_the_state_machines_where_they_live() -> None:
    # The same check on the shared modules finds their statements: it can fail.
    for name in ("tasks", "outbox", "jobs", "audit"):
        assert len(hits(PERSISTENCE / f"{name}.py", STATE_MACHINE_SQL)) >= 3, name


def test_the_shared_sql_is_written_for_both_backends() -> None:
    for path in SHARED:
        assert hits(path, BACKEND_SQL) == [], path.name
        assert not imported(path) & DRIVERS, path.name
    assert hits(PERSISTENCE / "dialects" / "postgres.py", BACKEND_SQL)  # where such SQL does live
    assert hits(PERSISTENCE / "dialects" / "sqlite.py", BACKEND_SQL)


def test_only_the_dialects_import_a_database_driver() -> None:
    importers = {p.relative_to(PKG).as_posix() for p in PKG.rglob("*.py") if imported(p) & DRIVERS}
    assert importers == {"persistence/dialects/sqlite.py", "persistence/dialects/postgres.py"}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", "SELECT 1"),
        ("UPDATE t SET a = ?, b = ? WHERE c = ?", "UPDATE t SET a = $1, b = $2 WHERE c = $3"),
        ("SELECT ? WHERE x = 'a?b' AND y = ?", "SELECT $1 WHERE x = 'a?b' AND y = $2"),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"),
        ('SELECT "odd?name" FROM t WHERE k = ANY(?::text[])', 'SELECT "odd?name" FROM t WHERE k = ANY($1::text[])'),
    ],
)
def test_placeholders_become_numbered_for_postgresql_outside_literals(sql: str, expected: str) -> None:
    assert dollar_params(sql) == expected
