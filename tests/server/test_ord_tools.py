"""map_dublin_core, get_ord_document and the dataproduct://ord/document resource through the
in-process MCP client (both protocol eras); DPMCP_DC_MAPPINGS_FILE as a start-up error."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mcp import Client
from rdflib import Graph
from tests.helpers import call_err, call_ok, product_args
from tests.procs import EXE, server_env

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import ConfigError, load_settings
from dataproduct_mcp.ord import check_ord_document

pytestmark = pytest.mark.anyio


async def test_map_dublin_core_of_a_product_and_of_raw_metadata(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args("orders")))["product"]
    out = await call_ok(client, "map_dublin_core", {"product_id": product["id"], "format": "turtle"})
    assert out["media_type"] == "text/turtle"
    graph = Graph().parse(data=out["content"], format="turtle")
    assert len(graph) > 5
    assert out["record"]["dcterms:title"] == ["Sales Orders"]
    raw = await call_ok(client, "map_dublin_core", {"metadata": {"title": "Raw"}, "format": "oai_dc"})
    assert "<dc:title>Raw</dc:title>" in raw["content"]
    err = await call_err(client, "map_dublin_core", {"format": "json"})
    assert err["code"] == "invalid-argument"
    missing = await call_err(client, "map_dublin_core", {"product_id": "nope"})
    assert missing["code"] == "not-found"


async def test_get_ord_document_returns_a_valid_document_and_pages_product_ids(client: Client) -> None:
    ids = [(await call_ok(client, "register_data_product", product_args(f"p{i}")))["product"]["id"] for i in range(3)]
    out = await call_ok(client, "get_ord_document", {})
    assert out["complete"] and out["document_count"] == 1 and out["products"] == 3
    assert check_ord_document(out["documents"][0]) == []
    assert out["resources"] == ["dataproduct://ord/document/1"]
    some = await call_ok(client, "get_ord_document", {"product_ids": [ids[1], "missing"]})
    assert [p["localId"] for p in some["documents"][0]["dataProducts"]] == [ids[1]]
    assert some["not_found"] == ["missing"] and some["remaining_product_ids"] == []
    resource = await client.read_resource("dataproduct://ord/document")
    assert json.loads(resource.contents[0].text)["dataProducts"]  # type: ignore[union-attr]


async def test_get_ord_document_never_exceeds_the_result_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(data_dir=data, allowed_roots=[tmp_path], max_result_bytes=8192)
    from dataproduct_mcp.server.builder import build_server

    async with Application.build(settings) as app, Client(build_server(app)) as client:
        ids = [
            (await call_ok(client, "register_data_product", product_args(f"big{i}", description="x" * 1500)))[
                "product"
            ]["id"]
            for i in range(6)
        ]
        whole = await client.call_tool("get_ord_document", {})
        assert len(whole.content[0].text.encode()) <= 8192  # type: ignore[union-attr]
        assert whole.structured_content is not None and whole.structured_content["complete"] is False
        assert whole.structured_content["urls"] and whole.structured_content["documents"] == []
        seen: list[str] = []
        asked = ids
        while asked:
            page = await call_ok(client, "get_ord_document", {"product_ids": asked})
            seen += [p["localId"] for p in page["documents"][0]["dataProducts"]]
            asked = page["remaining_product_ids"]
        assert seen == ids


def test_a_bad_dc_mappings_file_is_a_start_up_configuration_error(tmp_path: Path) -> None:
    bad = tmp_path / "dc.json"
    bad.write_text(json.dumps({"region": "dcterms:nope", "domain": 3}))
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(ConfigError) as info:
        Application.build(load_settings(data_dir=data, dc_mappings_file=bad))
    assert len(info.value.problems) == 2
    env = server_env(tmp_path) | {"DPMCP_DC_MAPPINGS_FILE": str(bad)}
    out = subprocess.run([EXE, "serve"], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and all("DPMCP_DC_MAPPINGS_FILE" in ln for ln in lines)
    assert "Traceback" not in out.stderr


def test_ord_document_cli_prints_the_local_tenants_document(tmp_path: Path) -> None:
    out = subprocess.run(
        [EXE, "ord-document", "--compact"], env=server_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert check_ord_document(json.loads(out.stdout)) == []
