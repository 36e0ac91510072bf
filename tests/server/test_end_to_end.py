"""End to end: a real `dataproduct-mcp serve` subprocess over stdio and over Streamable HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from tests.helpers import call_err, call_ok, product_args

pytestmark = pytest.mark.anyio

EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    env.update({"DPMCP_DATA_DIR": str(tmp_path / "data"), "DPMCP_ALLOWED_ROOTS": str(tmp_path)})
    return env


async def _lifecycle(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    listing = await call_ok(client, "list_data_products", {"query": "sales"})
    assert [p["id"] for p in listing["items"]] == [product["id"]]
    updated = await call_ok(
        client, "update_data_product", {"id": product["id"], "patch": {"version": "1.0.1"}, "expected_revision": 1}
    )
    assert updated["revision"] == 2
    await call_ok(client, "delete_data_product", {"id": product["id"]})
    assert (await call_err(client, "get_data_product", {"id": product["id"]}))["code"] == "not-found"


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_stdio_subprocess_register_list_update_delete(tmp_path: Path, mode: str) -> None:
    params = StdioServerParameters(command=EXE, args=["serve"], env=_env(tmp_path))
    with anyio.fail_after(60):
        async with Client(params, mode=mode) as client:
            await _lifecycle(client)
            status = await call_ok(client, "get_server_status", {})
            assert status["transport"] == "stdio"
            assert status["http_url"].startswith("http://127.0.0.1:")
            async with httpx.AsyncClient() as http:
                assert (await http.get(status["http_url"] + "/alive")).status_code == 200


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [EXE, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", "0"],
        env=_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        assert proc.stderr is not None
        for line in proc.stderr:  # bounded: the process exits (EOF) if it fails to start
            match = re.search(r"listening on (http://\S+)/mcp", line)
            if match:
                url = match.group(1)
                break
        assert url, "server did not announce its address"
        # Keep draining stderr so a chatty server never blocks on a full pipe.
        drain = threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True)  # type: ignore[union-attr]
        drain.start()
        yield url
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=20) == 0  # SIGTERM is a clean shutdown
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_streamable_http_subprocess_register_list_update_delete(http_server: str, mode: str) -> None:
    with anyio.fail_after(60):
        async with Client(http_server + "/mcp", mode=mode) as client:
            await _lifecycle(client)
            status = await call_ok(client, "get_server_status", {})
            assert status["transport"] == "streamable-http"


async def test_http_side_probes_answer(http_server: str) -> None:
    async with httpx.AsyncClient(base_url=http_server) as http:
        for path in ("/alive", "/ready", "/startup", "/health"):
            response = await http.get(path)
            assert response.status_code == 200, path
        health = (await http.get("/health")).json()
        assert health["components"]["database"]["status"] == "ok"
