"""Generate docs/tools.md and the shipped tool schemas (src/dataproduct_mcp/server/tool_schemas.json,
see server/schema_cache.py) from the live tool schemas; a test fails when either is out of date.

.venv/bin/python scripts/gen_docs.py          # rewrite both
.venv/bin/python scripts/gen_docs.py --check  # exit 1 if either would change
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.server import schema_cache
from dataproduct_mcp.server.builder import build_server

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "tools.md"
CACHE = ROOT / "src" / "dataproduct_mcp" / "server" / schema_cache.CACHE_FILE


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    return str(schema.get("type", "any"))


def _limits(schema: dict[str, Any]) -> str:
    keys = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern")
    parts = [f"{k}={schema[k]}" for k in keys if k in schema]
    for alt in schema.get("anyOf", []):
        parts += [f"{k}={alt[k]}" for k in keys if k in alt]
    return ", ".join(parts)


def schema_cache_text(server: Any) -> str:
    """The cache entries of the tools the SDK built (schemas derived, not read from the cache)."""
    entries = {}
    for tool in server._tool_manager.list_tools():
        entry = schema_cache.build_entry(tool)
        if entry is not None:
            entries[tool.name] = entry
    return json.dumps({"tools": dict(sorted(entries.items()))}, indent=1, sort_keys=True) + "\n"


async def render() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        app = Application.build(load_settings(data_dir=Path(tmp)))
        async with app:
            server = build_server(app, use_schema_cache=False)
            tools = await server.list_tools()
            cache_text = schema_cache_text(server)
    lines = [
        "# Tools reference",
        "",
        "Generated from the live tool schemas by `scripts/gen_docs.py`; do not edit by hand.",
        "Every failure is the structured error of [errors.md](errors.md).",
        "",
    ]
    for tool in sorted(tools, key=lambda t: t.name):
        a = tool.annotations
        hints = []
        if a is not None:
            hints = [
                f"readOnly={a.read_only_hint}",
                f"destructive={a.destructive_hint}",
                f"idempotent={a.idempotent_hint}",
                f"openWorld={a.open_world_hint}",
            ]
        lines += [f"## `{tool.name}`", "", (tool.description or "").strip(), "", f"Hints: {', '.join(hints)}", ""]
        props = tool.input_schema.get("properties", {})
        required = set(tool.input_schema.get("required", []))
        if props:
            lines += ["| argument | type | required | limits | description |", "|---|---|---|---|---|"]
            for name, schema in props.items():
                desc = str(schema.get("description", "")).replace("|", "\\|").replace("\n", " ")
                limits = _limits(schema).replace("|", "\\|")
                typ = _type(schema).replace("|", "\\|")
                lines.append(f"| `{name}` | {typ} | {'yes' if name in required else 'no'} | {limits} | {desc} |")
            lines.append("")
        if tool.output_schema:
            fields = ", ".join(f"`{k}`" for k in tool.output_schema.get("properties", {}))
            lines += [f"Returns: {tool.output_schema.get('title', 'object')} with {fields}.", ""]
    return "\n".join(lines), cache_text


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text, cache_text = anyio.run(render)
    outputs = [(OUT, text), (CACHE, cache_text)]
    if args.check:
        stale = [path for path, new in outputs if (path.read_text() if path.exists() else "") != new]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run scripts/gen_docs.py", file=sys.stderr)
        return 1 if stale else 0
    for path, new in outputs:
        path.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
