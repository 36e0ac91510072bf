"""The tools' JSON schemas, generated once and shipped with the package.

Building the server, the SDK derives every tool's input and output JSON schema from its
signature (pydantic's schema generation: about two thirds of ``build_server``, paid before the
first answer of every process). The schemas only change with the code, so
``scripts/gen_docs.py`` writes them to ``tool_schemas.json`` next to this module (and
``--check``, run by the tests, fails when they are out of date).

At start a tool whose entry is current is built from it: the SDK's own argument model (cheap:
no schema), the cached parameter and output schemas. An entry is current when its fingerprint
matches: a digest of the tool's name, title, description and annotations, the mcp and pydantic
versions, and the source of every module that defines a type its signature reaches. Anything
else — no entry, a stale one, a return type that is not a pydantic model — takes the SDK's
path (``Tool.from_function``), which is always right, only slower.
"""

from __future__ import annotations

import enum
import hashlib
import inspect
import json
import sys
import typing
from collections.abc import Callable
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import pydantic
from mcp.server.mcpserver.resolve import find_resolved_parameters
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.context_injection import find_context_parameter
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata, func_metadata
from mcp.shared._callable_inspection import is_async_callable
from mcp.types import Icon, ToolAnnotations
from pydantic import BaseModel

__all__ = ["CACHE_FILE", "build_entry", "cached_tool", "fingerprint", "load"]

CACHE_FILE = "tool_schemas.json"
_PACKAGE = "dataproduct_mcp"


@cache
def load() -> dict[str, dict[str, Any]]:
    """The shipped entries by tool name (empty if the file is missing or unreadable)."""
    try:
        text = (resources.files(__package__) / CACHE_FILE).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError):
        return {}
    return data.get("tools", {}) if isinstance(data, dict) else {}


def _types_in(annotation: Any, seen: set[Any], out: set[type]) -> None:
    """Classes of our package reachable from an annotation (through Annotated, generics, model fields)."""
    if id(annotation) in seen:
        return
    seen.add(id(annotation))
    for arg in typing.get_args(annotation):
        _types_in(arg, seen, out)
    origin = typing.get_origin(annotation)
    if origin is not None:
        _types_in(origin, seen, out)
    if isinstance(annotation, type) and annotation.__module__.startswith(_PACKAGE):
        out.add(annotation)
        if issubclass(annotation, BaseModel):
            for field in annotation.model_fields.values():
                _types_in(field.annotation, seen, out)
                for meta in field.metadata:
                    _types_in(meta, seen, out)
        elif not issubclass(annotation, enum.Enum):
            for hint in getattr(annotation, "__annotations__", {}).values():
                _types_in(hint, seen, out)


@cache
def _module_digest(name: str) -> str:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else name


@cache
def _versions() -> tuple[str, str]:
    return metadata.version("mcp"), pydantic.VERSION


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn, eval_str=True)


def fingerprint(
    fn: Callable[..., Any],
    name: str,
    title: str | None,
    description: str,
    annotations: Any,
    sig: inspect.Signature | None = None,
) -> str:
    """What the tool's schemas depend on (see the module docstring)."""
    sig = sig or _signature(fn)
    classes: set[type] = set()
    seen: set[Any] = set()
    for param in sig.parameters.values():
        _types_in(param.annotation, seen, classes)
    _types_in(sig.return_annotation, seen, classes)
    modules = sorted({fn.__module__, *(c.__module__ for c in classes)})
    parts = [
        name,
        title or "",
        description,
        annotations.model_dump_json() if annotations is not None else "",
        str(sig),
        *_versions(),
        *(f"{m}:{_module_digest(m)}" for m in modules),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _output_model(sig: inspect.Signature) -> type[BaseModel] | None:
    ret = sig.return_annotation
    return ret if isinstance(ret, type) and issubclass(ret, BaseModel) else None


def _cacheable(fn: Callable[..., Any], sig: inspect.Signature) -> bool:
    """A pydantic model as the return type and no resolver parameters (the common tool shape)."""
    return _output_model(sig) is not None and not find_resolved_parameters(fn)


def build_entry(tool: Tool) -> dict[str, Any] | None:
    """The cache entry of a tool the SDK built (None if its return type is not a pydantic model)."""
    if not _cacheable(tool.fn, _signature(tool.fn)) or tool.fn_metadata.wrap_output:
        return None
    return {
        "fingerprint": fingerprint(tool.fn, tool.name, tool.title, tool.description, tool.annotations),
        "parameters": tool.parameters,
        "output_schema": tool.fn_metadata.output_schema,
    }


def cached_tool(
    fn: Callable[..., Any],
    name: str,
    title: str | None,
    description: str,
    annotations: ToolAnnotations | None,
    icons: list[Icon] | None,
    meta: dict[str, Any] | None,
) -> Tool | None:
    """The tool built from its current cache entry, or None (then the SDK builds it)."""
    entry = load().get(name)
    if entry is None:
        return None
    sig = _signature(fn)
    output_model = _output_model(sig)
    if output_model is None or not _cacheable(fn, sig):
        return None
    if entry.get("fingerprint") != fingerprint(fn, name, title, description, annotations, sig):
        return None
    context_kwarg = find_context_parameter(fn)
    args = func_metadata(fn, skip_names=[context_kwarg] if context_kwarg else [], structured_output=False)
    fn_metadata = FuncMetadata(
        arg_model=args.arg_model,
        output_schema=entry["output_schema"],
        output_model=output_model,
        wrap_output=False,
    )
    return Tool(
        fn=fn,
        name=name,
        title=title,
        description=description,
        parameters=entry["parameters"],
        fn_metadata=fn_metadata,
        is_async=is_async_callable(fn),
        context_kwarg=context_kwarg,
        annotations=annotations,
        icons=icons,
        meta=meta,
    )
