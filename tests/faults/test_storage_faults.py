"""A full disk and a read-only data dir: clear errors, nothing half-written, recovery afterwards.

As root (these machines, CI) the data dir is a real tmpfs mount, filled up or remounted read-only.
Elsewhere the same behaviour is produced without privileges: SQLite's max_page_count for a full
database and file permissions for a read-only one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args
from tests.procs import EXE, server_env

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.server.builder import build_server

pytestmark = pytest.mark.anyio

ROOT = os.geteuid() == 0


@contextlib.contextmanager
def small_mount(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of ``size`` at ``path`` when we may mount (yields True), else a plain directory (False)."""
    path.mkdir()
    mounted = (
        ROOT and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]).returncode == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


async def test_a_full_disk_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "full"
    with small_mount(data, "900k") as mounted:
        app = Application.build(load_settings(data_dir=data, allowed_roots=[tmp_path]))
        async with app, Client(build_server(app)) as client:
            if not mounted:  # no privileges: cap the database instead of the file system
                async with app.store.db.write() as conn:  # type: ignore[attr-defined]
                    await conn.execute("PRAGMA max_page_count = 200")
            stored: list[str] = []
            err = None
            for i in range(2000):
                result = await client.call_tool("register_data_product", product_args(f"p{i}", description="d" * 8000))
                if result.is_error:
                    err = result.structured_content["error"]  # type: ignore[index]
                    break
                stored.append(result.structured_content["product"]["id"])  # type: ignore[index]
            assert err is not None, "the disk never filled up"
            assert err["code"] == "internal"
            assert "full" in err["message"] and err["trace_id"]
            assert stored
            for pid in stored:  # everything committed before is intact and readable
                await call_ok(client, "get_data_product", {"id": pid})
            listing = await call_ok(client, "list_data_products", {"limit": 1})
            assert listing["total"] == len(stored)
            if mounted:
                subprocess.run(["mount", "-o", "remount,size=20m", str(data)], check=True)
            else:
                async with app.store.db.write() as conn:  # type: ignore[attr-defined]
                    await conn.execute("PRAGMA max_page_count = 1073741823")
            await call_ok(client, "register_data_product", product_args("after-recovery"))
        assert integrity(app.settings.sqlite_path) == "ok"


async def test_a_database_that_turns_read_only_refuses_writes_clearly_and_keeps_reads(tmp_path: Path) -> None:
    """A file system cannot be remounted read-only under SQLite's open write handles (EBUSY), so the
    running case switches the writer connection to SQLite's read-only mode — the same SQLITE_READONLY
    error path. The start-up case below uses a really read-only mount."""
    data = tmp_path / "ro"
    data.mkdir()
    app = Application.build(load_settings(data_dir=data, allowed_roots=[tmp_path]))
    async with app, Client(build_server(app)) as client:
        product = (await call_ok(client, "register_data_product", product_args()))["product"]
        writer = app.store.db._writer  # type: ignore[attr-defined]
        await writer.execute("PRAGMA query_only = 1")
        try:
            err = await call_err(client, "register_data_product", product_args("second"))
            assert err["code"] == "internal"
            assert "read-only" in err["message"]
            err = await call_err(
                client, "update_data_product", {"id": product["id"], "patch": {"title": "x"}, "expected_revision": 1}
            )
            assert err["code"] == "internal"
            got = await call_ok(client, "get_data_product", {"id": product["id"]})
            assert got["revision"] == 1 and got["title"] == product["title"]
        finally:
            await writer.execute("PRAGMA query_only = 0")
        await call_ok(client, "register_data_product", product_args("third"))
    assert integrity(app.settings.sqlite_path) == "ok"


def test_serving_from_a_read_only_data_dir_fails_its_start_up_check(tmp_path: Path) -> None:
    data = tmp_path / "ro-start"
    with small_mount(data, "1m") as mounted:
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
        else:
            data.chmod(0o555)
        try:
            out = subprocess.run(
                [EXE, "serve", "--transport", "http", "--no-auth", "--port", "0"],
                env=server_env(tmp_path) | {"DPMCP_DATA_DIR": str(data)},
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
        finally:
            if not mounted:
                data.chmod(0o755)
        assert out.returncode == 1
        assert "start-up check failed: data-dir" in out.stderr
        assert "Traceback" not in out.stderr
