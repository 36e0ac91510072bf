"""The audit trail: an event for every product action, tenant-scoped reads, no update path."""

from __future__ import annotations

import ast
import json
import logging
import sqlite3
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args
from tests.procs import EXE, authed, make_token, server_env, start_server

from dataproduct_mcp.app import Application

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]  # SQLite and PostgreSQL (tests/pg.py)

SRC = Path(__file__).resolve().parents[2] / "src" / "dataproduct_mcp"


async def test_create_update_delete_each_leave_one_event_with_revisions(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    await call_ok(client, "register_data_product", product_args())  # idempotent replay: no new event
    await call_ok(client, "update_data_product", {"id": product["id"], "patch": {"title": "T"}, "expected_revision": 1})
    await call_ok(client, "delete_data_product", {"id": product["id"]})
    page = await call_ok(client, "list_audit_events", {"product_id": product["id"]})
    events = [(e["kind"], e["before_revision"], e["after_revision"]) for e in page["events"]]
    assert events == [("product-created", None, 1), ("product-updated", 1, 2), ("product-deleted", 2, 3)]
    assert all(len(e["trace_id"]) == 32 and e["actor"] == "local" for e in page["events"])
    assert page["events"][1]["detail"] == {"fields": ["title"]}


async def test_audit_filters_by_kind_and_time_and_pages(client: Client) -> None:
    for i in range(7):
        await call_ok(client, "register_data_product", product_args(f"p{i}"))
    page = await call_ok(client, "list_audit_events", {"kinds": ["product-created"], "limit": 3})
    assert len(page["events"]) == 3 and page["next_cursor"]
    seen = [e["id"] for e in page["events"]]
    while page["next_cursor"]:
        page = await call_ok(
            client, "list_audit_events", {"kinds": ["product-created"], "limit": 3, "cursor": page["next_cursor"]}
        )
        seen += [e["id"] for e in page["events"]]
    assert len(seen) == len(set(seen)) == 7
    later = await call_ok(client, "list_audit_events", {"since": "2999-01-01T00:00:00Z"})
    assert later["events"] == []
    err = await call_err(
        client, "list_audit_events", {"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}
    )
    assert (err["code"], err["field"]) == ("invalid-argument", "since")


async def test_events_are_mirrored_to_the_log_with_audit_true(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dataproduct_mcp.audit")
    await call_ok(client, "register_data_product", product_args())
    records = [r for r in caplog.records if getattr(r, "audit", False)]
    assert [r.event["kind"] for r in records] == ["product-created"]  # type: ignore[attr-defined]


async def test_the_audit_table_refuses_updates(app: Application, client: Client) -> None:
    await call_ok(client, "register_data_product", product_args())
    if app.store.backend == "postgresql":
        async with app.store.db.connection() as pg:  # type: ignore[attr-defined]
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await pg.execute("UPDATE audit_events SET actor = 'mallory'")
        return
    db = app.settings.sqlite_path
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_events SET actor = 'mallory'")


def test_no_code_path_updates_the_audit_table() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = " ".join(node.value.upper().split())
                if "UPDATE AUDIT_EVENTS" in text:
                    offenders.append(str(path.relative_to(SRC)))
    assert offenders == []
    for backend in ("sqlite", "postgresql"):
        migrations = (SRC / "persistence" / "migrations" / backend).glob("*.sql")
        assert any("audit_events_append_only" in m.read_text() for m in migrations), backend


async def test_configuration_load_is_audited_without_secrets(app: Application) -> None:
    assert app.audit is not None
    events, _ = await app.audit.list("_system", kinds=None)
    loaded = [e for e in events if e.kind.value == "config-loaded"]
    assert loaded and loaded[-1].detail["ord_namespace"] == "customer.dpmcp"


async def test_auth_failures_and_cross_tenant_misses_are_audited(tmp_path: Path) -> None:
    acme = make_token(tmp_path, "acme")
    globex = make_token(tmp_path, "globex")
    env = server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(tmp_path / "tokens.json")}
    with start_server(["--port", "0"], env) as url, anyio.fail_after(60):
        async with Client(authed(url + "/mcp", acme)) as a, Client(authed(url + "/mcp", globex)) as g:
            mine = (await call_ok(a, "register_data_product", product_args()))["product"]
            assert (await call_err(g, "get_data_product", {"id": mine["id"]}))["code"] == "not-found"
            misses = await call_ok(g, "list_audit_events", {"kinds": ["cross-tenant-miss"]})
            assert [e["product_id"] for e in misses["events"]] == [mine["id"]]
            assert (await call_ok(a, "list_audit_events", {"kinds": ["cross-tenant-miss"]}))["events"] == []
            created = (await call_ok(a, "list_audit_events", {"kinds": ["product-created"]}))["events"]
            assert created[0]["actor"] == "test"  # the token's name, never the token
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/health", headers={"Authorization": "Bearer nope"})).status_code == 401
    out = await anyio.run_process(
        [EXE, "audit", "--tenant", "_system", "--kind", "auth-failure", "--json"], env=env, check=True
    )
    events = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert events and events[-1]["detail"]["reason"] == "invalid token"
    assert "nope" not in out.stdout.decode() and acme not in out.stdout.decode()
