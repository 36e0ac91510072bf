"""Reading and writing contract documents as plain JSON data, safely and with bounds.

YAML is read with the YAML 1.2 *core* schema (what JSON Schema-based standards such as ODCS and
ODPS assume): ``true``/``false`` are the only booleans, ``1e3`` is a number, ``2024-01-31`` and
``no`` stay strings (PyYAML's default YAML 1.1 rules would turn them into a date and ``False``).
Only plain data is built (safe constructors, no Python tags); a key given twice in one mapping,
nesting deeper than :data:`MAX_DEPTH` and more than :data:`MAX_NODES` values once aliases are
expanded (the "billion laughs" bomb) are errors. YAML is written so that both YAML 1.1 and 1.2
readers get the same data back (every string that either would read as something else is quoted).

Every problem is an ``InvalidArgument`` on ``field`` naming the line and column (``line``,
``column`` in its context, 1-based) or the location in the document (``location``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from dataproduct_mcp.errors import InvalidArgument, TooLarge

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "dump_json", "dump_yaml", "load_document", "location_of"]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000

_CORE_SCALARS: tuple[tuple[str, str, str], ...] = (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
)


class _CoreResolver(yaml.resolver.BaseResolver):
    """Implicit scalar types of the YAML 1.2 core schema (plus ``<<`` merge keys)."""


for _tag, _regex, _first in _CORE_SCALARS:
    _CoreResolver.add_implicit_resolver(_tag, re.compile(_regex), [*_first, *([""] if "~" in _first else [])])


class _Bounded(yaml.composer.Composer, yaml.constructor.SafeConstructor, _CoreResolver):
    """PyYAML's safe composer and constructor with the core-schema resolver, a depth bound and
    duplicate-key errors; the events come from libyaml when PyYAML has it, else from Python."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()
                raise yaml.MarkedYAMLError(
                    problem=f"nesting deeper than {MAX_DEPTH} levels", problem_mark=event.start_mark
                )
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        problem=f"key {key_node.value!r} is given twice in this mapping",
                        problem_mark=key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_yaml_int(self, node: ScalarNode) -> int:  # type: ignore[override]
        text = str(self.construct_scalar(node))
        if text.startswith("0o"):
            return int(text[2:], 8)
        return int(text, 16) if text.startswith("0x") else int(text, 10)

    def construct_yaml_float(self, node: ScalarNode) -> float:  # type: ignore[override]
        text = str(self.construct_scalar(node)).lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        return float("nan") if text == ".nan" else float(text)


_Bounded.add_constructor("tag:yaml.org,2002:int", _Bounded.construct_yaml_int)
_Bounded.add_constructor("tag:yaml.org,2002:float", _Bounded.construct_yaml_float)
_Bounded.add_constructor("tag:yaml.org,2002:merge", _Bounded.construct_scalar)  # a `<<` value is text
for _unsafe in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:set"):
    _Bounded.add_constructor(_unsafe, _Bounded.construct_undefined)


class PythonLoader(_Bounded, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _CoreResolver.__init__(self)


LOADERS: list[type[_Bounded]] = [PythonLoader]  # the first is used; tests run every one
try:
    from yaml._yaml import CParser  # libyaml: a scanner and parser four times faster than Python's
except ImportError:  # PyYAML built without libyaml
    pass
else:

    class LibyamlLoader(_Bounded, CParser):  # type: ignore[misc]
        """libyaml's events, composed in Python (so the depth bound and duplicate-key check hold)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            _CoreResolver.__init__(self)

    LOADERS.insert(0, LibyamlLoader)


class _Dumper(yaml.SafeDumper):
    """Quotes every string that a YAML 1.1 *or* 1.2 reader would take for another type."""


for _tag, _regex, _first in _CORE_SCALARS:
    _Dumper.add_implicit_resolver(_tag, re.compile(_regex), list(_first))


_LINE_BREAKS_1_1 = frozenset("\x85\u2028\u2029")  # line breaks to YAML 1.1 that PyYAML writes raw


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Double quotes escape NEL/LS/PS (PyYAML would write them raw, and a reader would fold them);
    # other multi-line text is a literal block (PyYAML falls back to quotes where it cannot be).
    style = '"' if _LINE_BREAKS_1_1.intersection(value) else ("|" if "\n" in value else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def location_of(path: Any) -> str:
    """``schema[0].properties[2].logicalType`` for the path ``("schema", 0, "properties", 2, "logicalType")``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def _check_size(text: str | bytes, field: str) -> str:
    if len(text) > MAX_BYTES or (isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES):
        raise TooLarge(
            f"the {field} document is larger than {MAX_BYTES} bytes",
            field=field,
            limit=MAX_BYTES,
            suggestion="Send a smaller document: a contract or product description is rarely over a few hundred kB.",
        )
    if isinstance(text, str):
        return text
    try:
        return text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"the {field} document is not UTF-8: invalid byte at offset {exc.start}",
            field=field,
            byte_offset=exc.start,
            suggestion="Save the document as UTF-8.",
        ) from exc


def _check_plain(data: Any, field: str) -> None:
    """Only JSON data (str keys; str, int, float, bool, null, list, dict values) within the bounds."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    nodes = 0
    while stack:
        value, path = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise InvalidArgument(
                f"the {field} document has more than {MAX_NODES} values once its aliases are expanded",
                field=field,
                location=location_of(path),
                suggestion="Remove the alias chain (a YAML alias bomb?) or split the document.",
            )
        if len(path) > MAX_DEPTH:
            raise InvalidArgument(
                f"the {field} document nests deeper than {MAX_DEPTH} levels",
                field=field,
                location=location_of(path[:8]) + "...",
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidArgument(
                        f"a key of {location_of(path)} is {type(key).__name__} {key!r}, not a string",
                        field=field,
                        location=location_of(path),
                        suggestion="Quote the key.",
                    )
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidArgument(
                f"{location_of(path)} holds a {type(value).__name__}, which is not JSON data",
                field=field,
                location=location_of(path),
                suggestion="Use a plain string, number, boolean, list or mapping.",
            )


def _yaml_error(exc: yaml.YAMLError, field: str) -> InvalidArgument:
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        return InvalidArgument(
            f"the {field} document has the character U+{exc.character:04X}, which YAML does not allow,"
            f" at character offset {exc.position}",
            field=field,
            suggestion="Remove the control character or surrogate (or escape it inside a double-quoted string).",
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = {"line": mark.line + 1, "column": mark.column + 1} if mark is not None else {}
    at = f" at line {where['line']}, column {where['column']}" if where else ""
    return InvalidArgument(
        f"the {field} document is not valid YAML{at}: {problem}",
        field=field,
        suggestion="Fix the YAML syntax there (a YAML linter shows the same position).",
        **where,
    )


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_JSON_START = re.compile(r'\A\s*(?:\[|\{\s*["}])')  # a JSON array, or an object with a quoted key or none


def _yaml(source: str, loader: type[_Bounded] | None) -> Any:
    reader = (loader or LOADERS[0])(source)
    try:
        return reader.get_single_data()
    finally:
        reader.dispose()


def load_document(text: str | bytes, *, field: str = "contract", loader: type[_Bounded] | None = None) -> Any:
    """Parse a JSON or YAML document (at most :data:`MAX_BYTES`) into plain JSON data."""
    source = _check_size(text, field)
    stripped = source.lstrip()
    if not stripped:
        raise InvalidArgument(f"the {field} document is empty", field=field, suggestion="Send the document's text.")
    try:
        if _JSON_START.match(source):
            data = json.loads(source, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
        else:  # YAML, also a flow mapping with plain keys ({apiVersion: v3.1.0, ...})
            data = _yaml(source, loader)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"the {field} document is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            field=field,
            line=exc.lineno,
            column=exc.colno,
            suggestion="Fix the JSON syntax there.",
        ) from exc
    except _DuplicateKey as exc:
        raise InvalidArgument(
            f"the {field} document gives the key {exc.args[0]!r} twice in one object",
            field=field,
            suggestion="Keep one of the two entries.",
        ) from exc
    except ValueError as exc:  # NaN / Infinity literals
        raise InvalidArgument(f"the {field} document is not valid JSON: {exc}", field=field) from exc
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, field) from exc
    except RecursionError as exc:
        raise InvalidArgument(
            f"the {field} document nests too deeply", field=field, suggestion=f"Keep nesting under {MAX_DEPTH} levels."
        ) from exc
    _check_plain(data, field)
    return data


def dump_yaml(data: Any) -> str:
    """Block-style YAML in the dict's own key order (callers build dicts in a fixed order)."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=10_000, indent=2
    )


def dump_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
