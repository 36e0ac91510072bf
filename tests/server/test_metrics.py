"""/metrics exposes every documented metric family, fed by real tool calls and validations."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp import Client
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from tests.helpers import call_err, call_ok, product_args

from dataproduct_mcp.app import Application
from dataproduct_mcp.metrics import METRIC_NAMES
from dataproduct_mcp.server.http import http_routes

pytestmark = pytest.mark.anyio


async def scrape(app: Application) -> dict[str, list]:
    transport = httpx.ASGITransport(app=Starlette(routes=http_routes(app)))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families: dict[str, list] = {}
    for family in text_string_to_metric_families(response.text):
        families.setdefault(family.name, []).extend(family.samples)
    return families


async def test_metrics_cover_every_documented_family(client: Client, app: Application, tmp_path: Path) -> None:
    await call_ok(client, "register_data_product", product_args())
    await call_err(client, "get_data_product", {"id": "missing"})
    csv = tmp_path / "m.csv"
    csv.write_text("a,b\n1,2\n")
    for _ in range(2):
        await call_ok(client, "validate_file", {"path": str(csv)})
    families = await scrape(app)
    exposed = set(families)
    for name in METRIC_NAMES:
        base = name.removesuffix("_total")
        assert base in exposed or name in exposed, name

    calls = {
        (s.labels["tool"], s.labels["outcome"]): s.value
        for s in families["dpmcp_tool_calls"]
        if s.name.endswith("_total")
    }
    assert calls[("register_data_product", "ok")] == 1
    assert calls[("get_data_product", "error")] == 1
    errors = {s.labels["code"]: s.value for s in families["dpmcp_errors"] if s.name.endswith("_total")}
    assert errors["not-found"] == 1
    hits = [s.value for s in families["dpmcp_cache_hits"] if s.name.endswith("_total")]
    assert hits == [1]
    validations = [s for s in families["dpmcp_validations"] if s.name.endswith("_total")]
    assert [(s.labels["format"], s.labels["valid"], s.value) for s in validations] == [("csv", "true", 1)]
    products = {s.labels["status"]: s.value for s in families["dpmcp_products"]}
    assert products == {"draft": 1}


async def test_unknown_tool_names_do_not_create_new_label_values(client: Client, app: Application) -> None:
    for i in range(5):
        await call_err(client, f"no_such_tool_{i}", {})
    families = await scrape(app)
    tools = {s.labels["tool"] for s in families["dpmcp_tool_calls"]}
    assert tools == {"unknown"}
