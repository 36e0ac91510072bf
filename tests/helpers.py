"""Helpers shared by tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from mcp import Client


def product_args(name: str = "sales-orders", **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "name": name,
        "title": "Sales Orders",
        "short_description": "Every sales order, daily.",
        "description": "All sales orders of all regions, refreshed daily.",
        "version": "1.0.0",
        "owner": "sales-analytics",
        "tags": ["sales", "orders"],
    }
    args.update(overrides)
    return args


async def call_ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def call_err(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must fail and return its structured error body (checked for the §4 shape)."""
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    assert result.structured_content is not None
    err = result.structured_content["error"]
    assert set(err) >= {"code", "message", "suggestion", "trace_id"}
    assert len(err["trace_id"]) == 32
    text = result.content[0].text  # type: ignore[union-attr]
    assert '"error"' in text and err["code"] in text
    return err
