"""Start-up discipline of the command line: what ``--version`` and ``validate`` load.

Each case runs the real entry point (``dataproduct_mcp.cli.main``) in a fresh interpreter and
asserts on its ``sys.modules`` afterwards: the server's dependencies (the MCP SDK, Starlette,
uvicorn, rdflib, jsonschema, the database...) must not be imported by commands that do not serve.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataproduct_mcp import __version__

# Runs main(argv), then writes the top-level names of every imported module to the given file.
PROBE = """
import sys, json
from dataproduct_mcp.cli import main
out, argv = sys.argv[1], sys.argv[2:]
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

SERVER_SIDE = {
    "mcp",
    "mcp_types",
    "starlette",
    "uvicorn",
    "sse_starlette",
    "rdflib",
    "lxml",
    "jsonschema",
    "httpx",
    "tenacity",
    "limits",
    "prometheus_client",
    "aiosqlite",
    "asyncpg",
    "websockets",
    "anyio",
    "pydantic_settings",
}


def probe(tmp_path: Path, *argv: str) -> tuple[int, str, set[str], set[str]]:
    """(exit code, stdout, top-level packages imported, full module names imported)."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    env["DPMCP_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    modules = set(result["modules"])
    return result["code"], proc.stdout, {m.split(".")[0] for m in modules}, modules


def test_version_imports_nothing_but_the_standard_library_and_the_cli(tmp_path: Path) -> None:
    code, stdout, packages, modules = probe(tmp_path, "--version")
    assert code == 0
    assert stdout.strip() == f"dataproduct-mcp {__version__}"
    third_party = packages & (SERVER_SIDE | {"pyarrow", "pydantic", "pydantic_core", "rich", "fastavro", "openpyxl"})
    assert not third_party, sorted(third_party)
    assert "dataproduct_mcp.cli.validate" in modules  # the probe really went through the CLI package


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_validate_loads_the_validators_but_not_the_server(tmp_path: Path, as_json: bool) -> None:
    data = tmp_path / "small.csv"
    data.write_text("id,name\n1,a\n2,b\n", encoding="utf-8")
    argv = ["validate", *(["--json"] if as_json else []), str(data)]
    code, stdout, packages, modules = probe(tmp_path, *argv)
    assert code == 0
    if as_json:
        (report,) = json.loads(stdout)
        assert report["valid"] and report["rows"] == 2
    else:
        assert "valid" in stdout
        assert "rich" in packages  # the table is rich's
    assert "pyarrow" in packages  # the check really validated through the registry
    assert not packages & SERVER_SIDE, sorted(packages & SERVER_SIDE)
    # Loaded on first use only: a clean CSV needs no compute kernels, no Parquet or Avro reader,
    # and --json with no terminal needs no rich.
    lazy = {"pyarrow.compute", "pyarrow.parquet", "fastavro", "openpyxl"} | ({"rich"} if as_json else set())
    assert not modules & lazy, sorted(modules & lazy)
    assert not {m for m in modules if m.startswith(("dataproduct_mcp.server", "dataproduct_mcp.services"))}


SERVE_PROBE = """
import sys, json, pathlib
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.logs import configure_logging
from dataproduct_mcp.app import Application
from dataproduct_mcp.server import run  # noqa: F401  (what `serve` imports: transports, HTTP side)
from dataproduct_mcp.server.builder import build_server
configure_logging("INFO")  # as serve does, before the server is built
build_server(Application.build(load_settings(data_dir=pathlib.Path(sys.argv[2]))))
with open(sys.argv[1], "w") as f:
    json.dump(sorted(sys.modules), f)
"""


def test_serve_composes_without_what_only_later_calls_need(tmp_path: Path) -> None:
    """Everything `serve` builds before its first answer, without pyarrow (first validation or
    stream), jsonschema (first ORD check), rdflib (first Dublin Core), httpx (a registry URL) or
    rich (the SDK's log handler, which our own logging makes redundant)."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    subprocess.run([sys.executable, "-c", SERVE_PROBE, str(out), str(tmp_path)], env=env, check=True, timeout=120)
    top = {name.split(".")[0] for name in json.loads(out.read_text())}
    assert "mcp" in top and "starlette" in top  # the probe did build the server
    assert not top & {"pyarrow", "numpy", "jsonschema", "rdflib", "lxml", "httpx", "tenacity", "pandas", "rich"}


FIRST_CALL_PROBE = """
import sys, json, pathlib
import anyio
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.logs import configure_logging
from dataproduct_mcp.app import Application
from dataproduct_mcp.server import run  # noqa: F401
from dataproduct_mcp.server.builder import build_server
configure_logging("WARNING")
app = Application.build(load_settings(data_dir=pathlib.Path(sys.argv[2]), rate_limit=sys.argv[3]))
async def first_call():
    server = build_server(app)
    async with app:
        result = await server.call_tool("list_file_formats", {})
        assert not getattr(result, "is_error", False), result
anyio.run(first_call)
with open(sys.argv[1], "w") as f:
    json.dump(sorted(sys.modules), f)
"""


@pytest.mark.parametrize("rate_limit", ["off", "1200/minute"])
def test_a_first_list_file_formats_loads_limits_only_with_a_rate_limit(tmp_path: Path, rate_limit: str) -> None:
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    argv = [sys.executable, "-c", FIRST_CALL_PROBE, str(out), str(tmp_path / "data"), rate_limit]
    subprocess.run(argv, env=env, check=True, timeout=120)
    top = {name.split(".")[0] for name in json.loads(out.read_text())}
    assert ("limits" in top) is (rate_limit != "off")
    # Nor what only other calls need, nor the HTTP side's protocols (uvicorn loads them when it serves).
    assert not top & {"pyarrow", "jsonschema", "rdflib", "httpx", "rich", "h11", "websockets"}
