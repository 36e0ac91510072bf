"""Request hygiene on the HTTP transport: body size limit, no crash on garbage."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from tests.helpers import call_err, call_ok
from tests.procs import EXE, server_env, start_server

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.server.builder import build_server

pytestmark = pytest.mark.anyio

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_oversized_and_malformed_requests_are_refused_cleanly(tmp_path: Path) -> None:
    env = server_env(tmp_path) | {"DPMCP_MAX_REQUEST_BYTES": "4096"}
    with start_server(["--port", "0", "--no-auth"], env) as url, anyio.fail_after(60):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            big = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "pad": "' + b"x" * 10_000 + b'"}'
            response = await http.post("/mcp", content=big, headers=MCP_HEADERS)
            assert response.status_code == 413
            for body in (b"\xff\xfe not json", b"[]", b'{"jsonrpc": "2.0"}', b"{" * 2000):
                response = await http.post("/mcp", content=body, headers=MCP_HEADERS)
                assert 400 <= response.status_code < 500, body[:20]
            assert (await http.get("/alive")).status_code == 200  # still serving


async def test_a_tenant_over_its_rate_limit_is_rate_limited_with_retry_after(tmp_path: Path) -> None:
    data = tmp_path / "rl"
    data.mkdir()
    app = Application.build(load_settings(data_dir=data, allowed_roots=[tmp_path], rate_limit="5/minute"))
    async with app, Client(build_server(app)) as limited:
        for _ in range(5):
            await call_ok(limited, "list_data_products", {})
        err = await call_err(limited, "list_data_products", {})
        assert err["code"] == "rate-limited"
        assert 0 < err["retry_after"] <= 60


def test_a_bad_rate_limit_setting_is_a_configuration_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [EXE, "check"],
        env=server_env(tmp_path) | {"DPMCP_RATE_LIMIT": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "DPMCP_RATE_LIMIT" in out.stderr
