"""The tools' JSON schemas, generated once and shipped with the package.

Building the server, the SDK derives every tool's input and output JSON schema from its
signature (pydantic's schema generation: about two thirds of ``build_server``, paid before the
first answer of every process). The schemas only change with the code, so
``scripts/gen_docs.py`` writes them to ``tool_schemas.json`` next to this module (and
``--check``, run by the tests, fails when they are out of date).

At start a tool whose entry is current is built from it: the cached parameter and output schemas,
and the SDK's own argument model, created when the tool is first called (or the model first read)
rather than at start (pydantic model creation: ~12 ms for the 18 tools). An entry is current when its fingerprint
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
from collections.abc import Callable, Sequence
from functools import cache, partial
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import pydantic
from mcp.server.mcpserver.resolve import find_resolved_parameters
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.context_injection import find_context_parameter
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata, func_metadata
from mcp.shared._callable_inspection import is_async_callable
from mcp.types import Icon, ToolAnnotations
from pydantic import BaseModel, PrivateAttr

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


class _LazyArgsMetadata(FuncMetadata):
    """The SDK's FuncMetadata whose ``arg_model`` is created on first read (the SDK reads it to
    validate a call's arguments), from the same ``func_metadata`` the SDK's own path uses."""

    _make_arg_model: Callable[[], type[ArgModelBase]] | None = PrivateAttr(default=None)

    @classmethod
    def create(
        cls, fn: Callable[..., Any], skip_names: Sequence[str], output_schema: dict[str, Any], output_model: type
    ) -> _LazyArgsMetadata:
        meta = cls(arg_model=ArgModelBase, output_schema=output_schema, output_model=output_model, wrap_output=False)
        del meta.__dict__["arg_model"]  # read through __getattr__ until made
        meta._make_arg_model = partial(_arg_model, fn, skip_names)
        return meta

    def __getattr__(self, name: str) -> Any:
        if name == "arg_model":
            make = self._make_arg_model
            assert make is not None
            model = self.__dict__["arg_model"] = make()
            return model
        return super().__getattr__(name)  # type: ignore[misc]


def _arg_model(fn: Callable[..., Any], skip_names: Sequence[str]) -> type[ArgModelBase]:
    return func_metadata(fn, skip_names=skip_names, structured_output=False).arg_model


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
    if output_model is None:
        return None
    if entry.get("fingerprint") != fingerprint(fn, name, title, description, annotations, sig):
        return None
    # Current: entries are only written for cacheable tools (build_entry), and the fingerprint pins
    # the function's source and the SDK's version, so it still has no resolver parameters (the
    # SDK's find_resolved_parameters, ~0.15 ms a tool, is not asked again).
    context_kwarg = find_context_parameter(fn)
    skip = [context_kwarg] if context_kwarg else []
    fn_metadata = _LazyArgsMetadata.create(fn, skip, entry["output_schema"], output_model)
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
