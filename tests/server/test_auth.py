"""Bearer auth on the HTTP transport: tokens map to tenants, 401 with RFC 9728 metadata, open probes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args
from tests.procs import EXE, HttpServer, authed, make_token, server_env, start_server

pytestmark = pytest.mark.anyio


async def test_protected_routes_need_a_valid_token(http_server: HttpServer) -> None:
    async with httpx.AsyncClient(base_url=http_server.url) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
            for method, path in (("POST", "/mcp"), ("GET", "/health")):
                response = await http.request(method, path, headers=headers, json={})
                assert response.status_code == 401, (path, headers)
                challenge = response.headers["www-authenticate"]
                assert challenge.startswith("Bearer ")
                assert "resource_metadata=" in challenge
        for path in ("/alive", "/ready", "/startup"):
            assert (await http.get(path)).status_code == 200, path
        metadata = await http.get("/.well-known/oauth-protected-resource/mcp")
        assert metadata.status_code == 200
        assert metadata.json()["resource"] == http_server.url + "/mcp"
        assert (await http.get("/health?token=" + http_server.token)).status_code == 401  # header only


async def test_two_tenants_never_see_each_others_products(tmp_path: Path) -> None:
    acme = make_token(tmp_path, "acme")
    globex = make_token(tmp_path, "globex")
    env = server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(tmp_path / "tokens.json")}
    with start_server(["--port", "0"], env) as url, anyio.fail_after(60):
        async with Client(authed(url + "/mcp", acme)) as a, Client(authed(url + "/mcp", globex)) as g:
            mine = (await call_ok(a, "register_data_product", product_args()))["product"]
            assert (await call_err(g, "get_data_product", {"id": mine["id"]}))["code"] == "not-found"
            assert (await call_err(g, "get_data_product", {"ord_id": mine["ord_id"]}))["code"] == "not-found"
            err = await call_err(
                g, "update_data_product", {"id": mine["id"], "patch": {"title": "x"}, "expected_revision": 1}
            )
            assert err["code"] == "not-found"
            assert (await call_err(g, "delete_data_product", {"id": mine["id"]}))["code"] == "not-found"
            assert (await call_ok(g, "list_data_products", {}))["total"] == 0
            theirs = (await call_ok(g, "register_data_product", product_args()))[
                "product"
            ]  # same identity, other tenant
            assert theirs["id"] != mine["id"] and theirs["tenant"] == "globex"


def test_http_transport_without_tokens_file_exits_2_unless_no_auth(tmp_path: Path) -> None:
    out = subprocess.run(
        [EXE, "serve", "--transport", "http", "--port", "0"],
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert "DPMCP_AUTH_TOKENS_FILE" in out.stderr and "--no-auth" in out.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"tokens": [{"sha256": "xyz", "tenant": "Bad Tenant"}]}')
    out = subprocess.run(
        [EXE, "serve", "--transport", "http", "--port", "0"],
        env=server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert "tokens[0].sha256" in out.stderr


async def test_no_auth_is_explicit_and_warns(tmp_path: Path) -> None:
    with start_server(["--port", "0", "--no-auth"], server_env(tmp_path)) as url, anyio.fail_after(60):
        async with Client(url + "/mcp") as client:
            assert (await call_ok(client, "get_server_status", {}))["tenant"] == "local"


def test_tokens_are_never_logged(tmp_path: Path) -> None:
    token = make_token(tmp_path)
    assert token not in (tmp_path / "tokens.json").read_text()
