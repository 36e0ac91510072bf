"""get_lineage through the in-process MCP client (both protocol eras, both backends); input ports in
the ORD documents the tools and the publisher produce; Dublin Core naming the same upstreams."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args

from dataproduct_mcp.app import Application
from dataproduct_mcp.ord import api_resource_id_for, check_ord_document

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]


async def register(client: Client, name: str, *ports: str) -> dict[str, Any]:
    out = await call_ok(client, "register_data_product", product_args(name, input_ports=list(ports)))
    return out["product"]


async def test_get_lineage_answers_a_graph_with_edges_in_the_direction_data_flows(client: Client) -> None:
    a = await register(client, "a")
    b = await register(client, "b", a["id"])
    c = await register(client, "c", b["ord_id"], a["id"], "customer.dpmcp:dataProduct:missing:v1")
    out = await call_ok(client, "get_lineage", {"product_id": c["id"]})
    assert out["root"] == c["id"] and out["direction"] == "upstream" and out["depth"] == 3
    assert [n["id"] for n in out["nodes"]] == [c["id"], b["id"], a["id"]]
    assert {(e["from"], e["to"]) for e in out["edges"]} == {(a["id"], b["id"]), (b["id"], c["id"]), (a["id"], c["id"])}
    assert out["nodes"][2]["upstream_depth"] == 1 and out["nodes"][2]["downstream_depth"] is None
    assert out["unresolved"] == [
        {"product_id": c["id"], "input_port": "customer.dpmcp:dataProduct:missing:v1", "reason": "not-found"}
    ]
    assert out["cycles"] == [] and out["truncated"] is False and out["limits_hit"] == []
    assert (out["nodes_total"], out["edges_total"], out["unresolved_total"]) == (3, 3, 1)
    down = await call_ok(client, "get_lineage", {"product_id": a["id"], "direction": "downstream", "depth": 1})
    assert {n["name"]: n["downstream_depth"] for n in down["nodes"]} == {"a": 0, "b": 1, "c": 1}
    # c also reads b: one hop further, but already in the graph, so the edge is there and nothing lies beyond.
    assert (b["id"], c["id"]) in {(e["from"], e["to"]) for e in down["edges"]} and down["limits_hit"] == []


async def test_get_lineage_is_read_only_with_limits_in_its_schema(client: Client) -> None:
    [tool] = [t for t in (await client.list_tools()).tools if t.name == "get_lineage"]
    hints = tool.annotations
    assert hints is not None
    assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint) == (
        True,
        False,
        True,
        False,
    )
    props = tool.input_schema["properties"]
    assert tool.input_schema["required"] == ["product_id"]
    assert (props["depth"]["minimum"], props["depth"]["maximum"], props["depth"]["default"]) == (1, 10, 3)
    assert props["direction"]["enum"] == ["upstream", "downstream", "both"]
    assert tool.output_schema is not None and {"nodes", "edges", "cycles", "truncated"} <= set(
        tool.output_schema["properties"]
    )
    a = await register(client, "a")
    for bad in ({"product_id": a["id"], "depth": 11}, {"product_id": a["id"], "direction": "sideways"}):
        assert (await call_err(client, "get_lineage", bad))["code"] == "invalid-argument"


async def test_another_tenants_product_is_not_found_exactly_like_an_unknown_id(
    client: Client, app: Application
) -> None:
    theirs, _ = await app.products.register("acme", product_args("secret"))
    unknown = "00000000-0000-4000-8000-0000000000aa"
    hidden = await call_err(client, "get_lineage", {"product_id": theirs.id})
    missing = await call_err(client, "get_lineage", {"product_id": unknown})
    assert hidden["code"] == missing["code"] == "not-found"
    assert hidden["message"].replace(theirs.id, "ID") == missing["message"].replace(unknown, "ID")
    assert hidden["suggestion"] == missing["suggestion"]
    mine = await register(client, "mine", theirs.id, unknown)
    out = await call_ok(client, "get_lineage", {"product_id": mine["id"], "direction": "both"})
    assert [n["id"] for n in out["nodes"]] == [mine["id"]]
    assert {u["input_port"]: u["reason"] for u in out["unresolved"]} == {theirs.id: "not-found", unknown: "not-found"}


async def test_ord_documents_carry_input_ports_and_stay_valid(client: Client, app: Application) -> None:
    a = await register(client, "a")
    b = await register(client, "b", a["id"], "00000000-0000-4000-8000-00000000dead")
    out = await call_ok(client, "get_ord_document", {})
    [doc] = out["documents"]
    assert check_ord_document(doc) == []
    [dependency] = doc["integrationDependencies"]
    [derived] = [p for p in doc["dataProducts"] if p["ordId"] == b["ord_id"]]
    assert derived["inputPorts"] == [{"ordId": dependency["ordId"]}]
    a_port = api_resource_id_for(a["ord_id"]) or ""
    assert dependency["aspects"][0]["apiResources"] == [{"ordId": a_port}]
    assert out["warnings_total"] == 1  # the port naming nothing
    # One product asked for: its upstream's port is referenced, described in the other documents.
    only_b = await call_ok(client, "get_ord_document", {"product_ids": [b["id"]]})
    [one] = only_b["documents"]
    assert [r["ordId"] for r in one["apiResources"]] == [api_resource_id_for(b["ord_id"])]
    assert check_ord_document(one, described_elsewhere={a_port: "apiResources"}) == []
    # The publisher's one-product document: the same dependency, valid against both schemas.
    body, build = await app.ord.publication_document(await app.products.get("local", product_id=b["id"]))
    assert build.skipped == [] and build.document["integrationDependencies"] == [dependency]
    assert check_ord_document(build.document, described_elsewhere={a_port: "apiResources"}) == []
    assert b'"inputPorts"' in body


async def test_dublin_core_sources_are_the_products_lineage_resolves(client: Client) -> None:
    a = await register(client, "a")
    braced = "{" + a["id"] + "}"  # not a product id by the one rule: a literal, and not-found
    b = await register(client, "b", a["id"].upper(), braced)
    record = (await call_ok(client, "map_dublin_core", {"product_id": b["id"]}))["record"]
    sources = record["dcterms:source"]
    assert len(sources) == 2 and sum(s.endswith(a["id"]) for s in sources) == 1 and braced in sources
    lineage = await call_ok(client, "get_lineage", {"product_id": b["id"]})
    assert [n["id"] for n in lineage["nodes"]] == [b["id"], a["id"]]
    assert lineage["unresolved"] == [{"product_id": b["id"], "input_port": braced, "reason": "not-found"}]
