"""The shipped tool schemas (server/schema_cache.py) give exactly the tools the SDK derives."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args

from dataproduct_mcp.app import Application
from dataproduct_mcp.server import schema_cache
from dataproduct_mcp.server.builder import build_server

pytestmark = pytest.mark.anyio


def _shape(tool: object) -> dict[str, object]:
    return tool.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[attr-defined]


async def test_cached_tools_are_the_tools_the_sdk_derives(app: Application) -> None:
    derived = build_server(app, use_schema_cache=False)
    cached = build_server(app)
    assert [_shape(t) for t in await cached.list_tools()] == [_shape(t) for t in await derived.list_tools()]
    for name, tool in cached._tool_manager._tools.items():
        sdk = derived._tool_manager._tools[name]
        assert tool.fn_metadata.output_model is sdk.fn_metadata.output_model
        assert tool.fn_metadata.wrap_output is sdk.fn_metadata.wrap_output
        assert tool.context_kwarg == sdk.context_kwarg and tool.is_async == sdk.is_async
        assert tool.fn_metadata.arg_model.model_json_schema(by_alias=True) == tool.parameters


async def test_every_tool_of_this_build_comes_from_the_shipped_schemas(app: Application) -> None:
    """The file is current (scripts/gen_docs.py --check says so too): no tool pays for schema generation."""
    entries = schema_cache.load()
    server = build_server(app)
    for tool in server._tool_manager._tools.values():
        entry = entries.get(tool.name)
        assert entry is not None, tool.name
        assert entry["fingerprint"] == schema_cache.fingerprint(
            tool.fn, tool.name, tool.title, tool.description, tool.annotations
        )


async def test_a_stale_entry_falls_back_to_the_sdk(app: Application, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = {name: dict(entry) for name, entry in schema_cache.load().items()}
    entries["get_data_product"]["fingerprint"] = "stale"
    entries["get_data_product"]["parameters"] = {"type": "object", "properties": {"wrong": {"type": "string"}}}
    monkeypatch.setattr(schema_cache, "load", lambda: entries)
    server = build_server(app)
    tool = server._tool_manager._tools["get_data_product"]
    assert "wrong" not in tool.parameters["properties"] and "id" in tool.parameters["properties"]


async def test_calls_through_cached_tools_validate_arguments_and_results(app: Application, tmp_path: Path) -> None:
    async with Client(build_server(app)) as client:
        product = (await call_ok(client, "register_data_product", product_args()))["product"]
        got = await call_ok(client, "get_data_product", {"id": product["id"]})
        assert got["id"] == product["id"]
        err = await call_err(client, "list_data_products", {"limit": 0})
        assert (err["code"], err["field"]) == ("invalid-argument", "limit")


async def test_cached_tools_create_their_argument_models_when_first_called(app: Application) -> None:
    """Building the server creates no argument model for a current entry; a call does, once."""
    from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase

    before = set(ArgModelBase.__subclasses__())
    server = build_server(app)
    tool_models = {f"{name}Arguments" for name in server._tool_manager._tools}  # (resource templates have theirs)
    assert not {m.__name__ for m in set(ArgModelBase.__subclasses__()) - before} & tool_models
    async with Client(server) as client:
        err = await call_err(client, "list_data_products", {"limit": 0})
        assert (err["code"], err["field"]) == ("invalid-argument", "limit")
    made = [m for m in ArgModelBase.__subclasses__() if m.__name__ == "list_data_productsArguments"]
    assert server._tool_manager._tools["list_data_products"].fn_metadata.arg_model in made
