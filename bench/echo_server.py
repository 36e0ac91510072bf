"""A trivial MCP server with one echo tool, on the same SDK: the latency baseline for bench_tool_latency."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel

server = MCPServer("echo")


class Echo(BaseModel):
    text: str


@server.tool()
async def echo(text: str) -> Echo:
    """Return the text."""
    return Echo(text=text)


if __name__ == "__main__":
    server.run("stdio")
