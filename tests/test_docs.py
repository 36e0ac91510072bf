"""Every tool, error code and setting is documented; the tools reference is current; README's
commands are the ones CI runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from dataproduct_mcp.config import Settings
from dataproduct_mcp.errors import ERROR_CODES
from dataproduct_mcp.server.builder import DataProductServer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.mark.anyio
async def test_every_tool_is_in_the_tools_reference(server: DataProductServer) -> None:
    text = (DOCS / "tools.md").read_text()
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        assert f"## `{tool.name}`" in text, tool.name


def test_the_tools_reference_is_generated_from_the_current_schemas() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr


def test_every_error_code_is_documented() -> None:
    text = (DOCS / "errors.md").read_text()
    for code in ERROR_CODES:
        assert f"`{code}`" in text, code


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`DPMCP_{name.upper()}`" in text, name


def test_readme_names_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(\./scripts/\w+)\s+#\s*(\d)\.", readme, flags=re.M)
    assert commands == [("./scripts/serve", "1"), ("./scripts/test", "2")]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec ./scripts/test" in ci


def test_mcp_json_launches_the_console_script() -> None:
    config = json.loads((ROOT / "mcp.json").read_text())
    server = config["mcpServers"]["dataproduct"]
    assert server["command"] == "dataproduct-mcp"
    assert server["args"][0] == "serve"
    assert all(k.startswith("DPMCP_") for k in server.get("env", {}))
