"""PostgreSQL goes away and comes back under a running server: tools answer ``internal`` with a trace
id within the configured timeout (never hang), /ready fails, and everything works again once the
database returns -- nothing committed before is lost."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from tests.helpers import call_err, call_ok, product_args
from tests.pg import TcpProxy, fresh_schema

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.server.builder import build_server
from dataproduct_mcp.server.http import http_routes

pytestmark = pytest.mark.anyio

TIMEOUT_S = 2.0


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    p = TcpProxy()
    await p.start()
    yield p
    await p.stop()


async def test_a_database_outage_is_internal_then_recovers(tmp_path: Path, proxy: TcpProxy) -> None:
    (tmp_path / "data").mkdir()
    with fresh_schema() as dsn:
        settings = load_settings(
            data_dir=tmp_path / "data",
            allowed_roots=[tmp_path],
            database_url=proxy.dsn(dsn),
            db_pool_min=1,
            db_pool_max=3,
            db_timeout_seconds=TIMEOUT_S,
        )
        app = Application.build(settings)
        async with app, Client(build_server(app)) as client:
            app.runtime.started = True
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=Starlette(routes=http_routes(app))), base_url="http://dp"
            )
            product = (await call_ok(client, "register_data_product", product_args()))["product"]
            assert (await http.get("/ready")).status_code == 200

            await proxy.stop()  # the database is gone
            for tool, args in [
                ("get_data_product", {"id": product["id"]}),
                ("register_data_product", product_args("other")),
                ("list_tasks", {}),
            ]:
                started = time.monotonic()
                err = await call_err(client, tool, args)
                assert err["code"] == "internal" and len(err["trace_id"]) == 32, err
                assert time.monotonic() - started < 4 * TIMEOUT_S, tool
            started = time.monotonic()
            assert (await http.get("/ready")).status_code == 503
            assert time.monotonic() - started < 4 * TIMEOUT_S

            await proxy.start()  # it is back, on the same address
            with anyio.fail_after(20):
                while (await http.get("/ready")).status_code != 200:
                    await anyio.sleep(0.1)
            again = await call_ok(client, "get_data_product", {"id": product["id"]})
            assert again["id"] == product["id"]
            assert (await call_ok(client, "register_data_product", product_args("other")))["created"] is True
            await http.aclose()
