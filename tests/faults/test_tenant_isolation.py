"""Two tenants on one server, randomized cross-tenant probes over every tool and endpoint
(1,000+ calls): zero leaks. Every protected route answers 401 without a valid token; probes stay open."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import websockets
from mcp import Client
from tests.helpers import call_ok, product_args
from tests.procs import authed, make_token, server_env, start_server

pytestmark = pytest.mark.anyio

PROBES = 1000


async def seed(client: Client, tenant: str, csv: Path) -> dict[str, Any]:
    """Objects of every kind for one tenant: products, a deleted one, tasks, a stream session."""
    products = [
        (await call_ok(client, "register_data_product", product_args(f"{tenant}-p{i}", files=[{"path": str(csv)}])))[
            "product"
        ]
        for i in range(3)
    ]
    deleted = (await call_ok(client, "register_data_product", product_args(f"{tenant}-gone")))["product"]
    await call_ok(client, "delete_data_product", {"id": deleted["id"]})
    task = (await call_ok(client, "validate_file", {"path": str(csv), "background": True}))["task"]
    product_task = (await call_ok(client, "validate_data_product", {"product_id": products[0]["id"]}))["task"]
    stream = await call_ok(client, "open_stream", {"source": products[1]["id"], "format": "jsonl"})
    return {
        "ids": [p["id"] for p in products] + [deleted["id"]],
        "ord_ids": [p["ord_id"] for p in products] + [deleted["ord_id"]],
        "tasks": [task["id"], product_task["id"]],
        "stream": stream,
    }


def probes_for(victim: dict[str, Any], rnd: random.Random) -> tuple[str, dict[str, Any]]:
    pid = rnd.choice(victim["ids"])
    ord_id = rnd.choice(victim["ord_ids"])
    tid = rnd.choice(victim["tasks"])
    return rnd.choice(
        [
            ("get_data_product", {"id": pid}),
            ("get_data_product", {"ord_id": ord_id}),
            ("update_data_product", {"id": pid, "patch": {"title": "pwned"}, "expected_revision": 1}),
            ("delete_data_product", {"id": pid}),
            ("validate_data_product", {"product_id": pid}),
            ("map_dublin_core", {"product_id": pid, "format": "json"}),
            ("get_ord_document", {"product_ids": [pid]}),
            ("publish_to_ord", {"product_id": pid}),
            ("open_stream", {"source": pid, "format": "jsonl"}),
            ("open_stream", {"source": ord_id, "format": "arrow"}),
            ("close_stream", {"session_id": victim["stream"]["session_id"]}),
            ("get_task", {"task_id": tid}),
            ("cancel_task", {"task_id": tid}),
            ("list_data_products", {"query": ord_id.split(":")[2]}),
            ("list_tasks", {}),
            ("list_audit_events", {"product_id": pid}),
            ("get_server_status", {}),
        ]
    )


async def test_randomized_cross_tenant_probes_never_leak(tmp_path: Path) -> None:
    tokens = {"acme": make_token(tmp_path, "acme"), "globex": make_token(tmp_path, "globex")}
    csv = tmp_path / "shared.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    env = server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(tmp_path / "tokens.json"), "DPMCP_RATE_LIMIT": "off"}
    rnd = random.Random(1123)
    with start_server(["--port", "0"], env) as url, anyio.fail_after(240):
        async with (
            Client(authed(url + "/mcp", tokens["acme"]), mode="legacy") as acme,
            Client(authed(url + "/mcp", tokens["globex"]), mode="legacy") as globex,
        ):
            clients = {"acme": acme, "globex": globex}
            seeded = {name: await seed(client, name, csv) for name, client in clients.items()}
            secrets = {
                name: set(s["ids"]) | set(s["ord_ids"]) | set(s["tasks"]) | {s["stream"]["session_id"]}
                for name, s in seeded.items()
            }
            leaks: list[str] = []
            for i in range(PROBES):
                attacker = "acme" if i % 2 else "globex"
                victim = "globex" if attacker == "acme" else "acme"
                tool, args = probes_for(seeded[victim], rnd)
                result = await clients[attacker].call_tool(tool, args)
                text = json.dumps(result.structured_content) + "".join(getattr(c, "text", "") for c in result.content)
                if result.is_error:
                    code = (result.structured_content or {}).get("error", {}).get("code")
                    if code != "not-found" and tool not in ("publish_to_ord",):
                        leaks.append(f"{tool}: {code}")
                # The caller's own arguments may be echoed back (e.g. "not found: <id>"): a leak is a
                # victim's id, ord_id, task or session id that the attacker did not send.
                leaked = [s for s in secrets[victim] if s in text and s not in json.dumps(args)]
                if leaked:
                    leaks.append(f"{tool} {args} leaked {leaked}")
            assert leaks == []
            # Every victim object is untouched.
            for name, client in clients.items():
                for pid in seeded[name]["ids"][:3]:
                    product = await call_ok(client, "get_data_product", {"id": pid})
                    assert product["title"] != "pwned" and product["tenant"] == name

        async with httpx.AsyncClient(base_url=url) as http:
            for name, victim in (("acme", "globex"), ("globex", "acme")):
                headers = {"Authorization": f"Bearer {tokens[name]}"}
                config = (await http.get("/.well-known/open-resource-discovery", headers=headers)).json()
                for doc in config["openResourceDiscoveryV1"]["documents"]:
                    body = (await http.get(doc["url"], headers=headers)).text
                    assert not any(o in body for o in seeded[victim]["ord_ids"][:3])
                health = (await http.get("/health", headers=headers)).text
                assert not any(s in health for s in secrets[victim])
        ws = url.replace("http://", "ws://")
        for task_id in seeded["acme"]["tasks"]:
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(
                    f"{ws}/tasks/{task_id}/events", additional_headers={"Authorization": f"Bearer {tokens['globex']}"}
                ):
                    pass
            assert refused.value.response.status_code == 404
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(
                f"{ws}/streams/{seeded['acme']['stream']['session_id']}",
                additional_headers={"Authorization": f"Bearer {tokens['globex']}"},
            ):
                pass
        assert refused.value.response.status_code == 401


async def test_every_protected_route_needs_a_valid_token_and_probes_stay_open(tmp_path: Path) -> None:
    token = make_token(tmp_path, "acme")
    env = server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(tmp_path / "tokens.json")}
    with start_server(["--port", "0"], env) as url, anyio.fail_after(60):
        async with httpx.AsyncClient(base_url=url) as http:
            config = (await http.get("/.well-known/open-resource-discovery")).json()
            protected = [("POST", "/mcp"), ("GET", "/mcp"), ("GET", "/health"), ("GET", "/metrics")]
            protected += [("GET", d["url"].removeprefix(url)) for d in config["openResourceDiscoveryV1"]["documents"]]
            for method, path in protected:
                for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {token}"}):
                    response = await http.request(method, path, headers=headers)
                    assert response.status_code == 401, (method, path, headers)
                good = await http.request(method, path, headers={"Authorization": f"Bearer {token}"})
                assert good.status_code != 401, (method, path)
            for path in ("/alive", "/ready", "/startup", "/.well-known/open-resource-discovery"):
                assert (await http.get(path)).status_code == 200, path
