"""ws://…/tasks/{id}/events pushes a task's progress and final state; tenant-scoped, token required."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
import websockets
from mcp import Client
from tests.helpers import call_ok
from tests.procs import HttpServer, authed, make_token, server_env, start_server

pytestmark = pytest.mark.anyio


async def test_task_events_stream_until_the_final_state(http_server: HttpServer, tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    csv.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(20_000)))
    ws_base = http_server.url.replace("http://", "ws://")
    headers = {"Authorization": f"Bearer {http_server.token}"}
    with anyio.fail_after(60):
        async with Client(authed(http_server.url + "/mcp", http_server.token)) as client:
            task = (await call_ok(client, "validate_file", {"path": str(csv), "background": True}))["task"]
        messages = []
        async with websockets.connect(f"{ws_base}/tasks/{task['id']}/events", additional_headers=headers) as ws:
            async for raw in ws:
                messages.append(json.loads(raw))
        assert ws.close_code == 1000
    states = [m["task"] for m in messages if m["type"] == "task"]
    assert states[0]["id"] == task["id"]
    assert states[-1]["status"] == "succeeded"
    assert states[-1]["result"]["valid"] is True and states[-1]["result"]["rows"] == 20_000
    assert all(m["type"] in ("task", "heartbeat") for m in messages)


async def test_task_events_need_the_token_and_the_right_tenant(tmp_path: Path) -> None:
    acme, globex = make_token(tmp_path, "acme"), make_token(tmp_path, "globex")
    env = server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(tmp_path / "tokens.json")}
    csv = tmp_path / "t.csv"
    csv.write_text("a\n1\n")
    with start_server(["--port", "0"], env) as url, anyio.fail_after(60):
        async with Client(authed(url + "/mcp", acme)) as client:
            task = (await call_ok(client, "validate_file", {"path": str(csv), "background": True}))["task"]
        events = f"{url.replace('http://', 'ws://')}/tasks/{task['id']}/events"
        for headers, status in (
            ({}, 401),
            ({"Authorization": "Bearer wrong"}, 401),
            ({"Authorization": f"Bearer {globex}"}, 404),  # another tenant's task does not exist for it
        ):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(events, additional_headers=headers):
                    pass
            assert refused.value.response.status_code == status, headers
        async with websockets.connect(events, additional_headers={"Authorization": f"Bearer {acme}"}) as ws:
            first = json.loads(await ws.recv())
        assert first["task"]["id"] == task["id"]
