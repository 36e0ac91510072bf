"""The ORD Provider API against a real `serve --transport http` process: configuration validity,
ETag / 304, Cache-Control, select, and bearer auth (401 without a token)."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.procs import make_token, server_env, start_server

from dataproduct_mcp.ord import check_ord_configuration, check_ord_document

WELL_KNOWN = "/.well-known/open-resource-discovery"


def _register(url: str, token: str | None) -> None:
    """Register a product over MCP with the CLI-free route: the Streamable HTTP JSON-RPC endpoint."""
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from tests.procs import authed

    async def go() -> None:
        ctx = authed(url + "/mcp", token) if token else streamable_http_client(url + "/mcp")
        async with ctx as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            result = await session.call_tool(
                "register_data_product",
                {"name": "orders", "title": "Orders", "short_description": "All orders.",
                 "description": "All orders.", "version": "1.0.0", "owner": "sales"},
            )  # fmt: skip
            assert not result.is_error, result

    anyio.run(go)


def test_provider_api_without_auth_is_open_cached_and_selectable(tmp_path: Path) -> None:
    with start_server(["--port", "0", "--no-auth"], server_env(tmp_path)) as url:
        _register(url, None)
        with httpx.Client(base_url=url, timeout=30) as http:
            config = http.get(WELL_KNOWN)
            assert config.status_code == 200
            body = config.json()
            assert check_ord_configuration(body) == []
            doc_url = body["openResourceDiscoveryV1"]["documents"][0]
            assert doc_url["accessStrategies"] == [{"type": "open"}]
            assert "max-age" in config.headers["cache-control"]
            first = http.get(doc_url["url"])
            assert first.status_code == 200 and first.headers["etag"].startswith('"')
            doc = first.json()
            assert check_ord_document(doc) == []
            assert [p["title"] for p in doc["dataProducts"]] == ["Orders"]
            assert doc["apiResources"][0]["apiProtocol"] == "websocket"
            again = http.get(doc_url["url"], headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
            assert http.get(WELL_KNOWN, headers={"If-None-Match": config.headers["etag"]}).status_code == 304
            ord_id = doc["dataProducts"][0]["ordId"]
            selected = http.get(doc_url["url"], params={"select": ord_id})
            assert selected.status_code == 200 and [p["ordId"] for p in selected.json()["dataProducts"]] == [ord_id]
            assert http.get(WELL_KNOWN, params={"select": ord_id}).status_code == 200
            assert http.get(doc_url["url"], params={"select": "not an id"}).status_code == 500
            assert http.get(doc_url["url"], params={"select": "customer.dpmcp:dataProduct:nope:v1"}).status_code == 404
            assert http.get("/open-resource-discovery/v1/documents/9").status_code == 404


def test_provider_api_with_auth_needs_the_token_and_announces_the_bearer_strategy(tmp_path: Path) -> None:
    token = make_token(tmp_path)
    env = server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(tmp_path / "tokens.json")}
    with start_server(["--port", "0"], env) as url:
        _register(url, token)
        with httpx.Client(base_url=url, timeout=30) as http:
            anonymous = http.get(WELL_KNOWN)
            assert anonymous.status_code == 200 and check_ord_configuration(anonymous.json()) == []
            doc_url = anonymous.json()["openResourceDiscoveryV1"]["documents"][0]
            assert doc_url["accessStrategies"][0]["type"] == "custom"
            assert http.get(doc_url["url"]).status_code == 401
            headers = {"Authorization": f"Bearer {token}"}
            config = http.get(WELL_KNOWN, headers=headers)
            assert check_ord_configuration(config.json()) == []
            assert "private" in config.headers["cache-control"]
            doc = http.get(doc_url["url"], headers=headers)
            assert doc.status_code == 200
            assert [p["title"] for p in doc.json()["dataProducts"]] == ["Orders"]  # the token's tenant (acme)
