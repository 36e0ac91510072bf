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


def _samples(families: dict[str, list], family: str, suffix: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in families[family] if s.name == family + suffix}


async def test_task_runs_are_observed_in_the_task_duration_histogram(
    client: Client, app: Application, tmp_path: Path
) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2\n")
    before = _samples(await scrape(app), "dpmcp_task_duration_seconds", "_count")
    assert before == {}  # no task has run yet
    task = (await call_ok(client, "validate_file", {"path": str(csv), "background": True}))["task"]
    done = await app.tasks.wait(app.default_tenant(), task["id"], 30)
    assert done.status.value == "succeeded"
    families = await scrape(app)
    counts = _samples(families, "dpmcp_task_duration_seconds", "_count")
    assert counts == {(("kind", "validate-file"),): 1.0}
    sums = _samples(families, "dpmcp_task_duration_seconds", "_sum")
    assert sums[(("kind", "validate-file"),)] > 0


async def test_stream_session_durations_reach_metrics_as_a_histogram(
    client: Client, app: Application, tmp_path: Path
) -> None:
    data = tmp_path / "s.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    app.runtime.http_url = "http://127.0.0.1:9"  # the URL open_stream hands out; no client connects here
    for _ in range(2):
        opened = await call_ok(client, "open_stream", {"source": str(data), "format": "jsonl"})
        await call_ok(client, "close_stream", {"session_id": opened["session_id"]})
    families = await scrape(app)
    name = "dpmcp_stream_session_duration_seconds"
    assert _samples(families, name, "_count") == {(): 2.0}
    buckets = {dict(k)["le"]: v for k, v in _samples(families, name, "_bucket").items()}
    assert buckets["+Inf"] == 2.0
    assert buckets["1.0"] == 2.0  # both ended well within a second: cumulative counts from the first bucket
    values = [buckets[b] for b in sorted(buckets, key=lambda b: float(b))]
    assert values == sorted(values)  # cumulative
