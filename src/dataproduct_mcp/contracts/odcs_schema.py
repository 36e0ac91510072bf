"""The official ODCS v3.1.0 JSON Schema, applied piece by piece with remembered verdicts.

The schema is Draft 2019-09 with ``unevaluatedProperties`` and an ``if``/``then`` per logical
type on every property, which jsonschema evaluates at 1.5-4 ms per property: a 2,000-column
contract took 8 s in one piece. The document is therefore checked as a skeleton (its schema
objects without their properties and quality rules) plus one piece per property and per quality
rule, each against its own definition (``SchemaProperty``, ``DataQuality``) of the same schema.
That gives the same errors (a ``properties`` or ``quality`` list is evaluated by its keyword
whatever its items are, and each item only by its definition), and lets verdicts be remembered:
columns of one shape (the name aside, which only has to be a string) and repeated rules are
checked once, here and in every later contract.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from importlib import resources
from typing import Any

from jsonschema import Draft201909Validator
from jsonschema.exceptions import ValidationError

__all__ = ["PathError", "clear_verdicts", "odcs_validator", "schema_errors"]

PathError = tuple[tuple[Any, ...], ValidationError]  # (where the piece is in the document, its error)
_MAX_VERDICTS = 50_000
_verdicts: OrderedDict[bytes, bool] = OrderedDict()
_lock = threading.Lock()


@functools.cache
def odcs_validator() -> Draft201909Validator:
    """The official ODCS v3.1.0 JSON Schema (shipped in open-data-contract-standard) as a validator."""
    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


@functools.cache
def _definition(name: str | None) -> Draft201909Validator:
    root = odcs_validator()
    if name is None:
        return root
    schema = {"$schema": root.schema["$schema"], "$defs": root.schema["$defs"], "$ref": f"#/$defs/{name}"}
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def clear_verdicts() -> None:
    """Forget remembered verdicts (for measurements)."""
    with _lock:
        _verdicts.clear()


def _key(definition: str | None, instance: Any) -> bytes:
    if definition == "SchemaProperty" and isinstance(instance.get("name"), str):
        instance = {**instance, "name": ""}  # any string name is as valid as any other
    text = json.dumps([definition, instance], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _errors(definition: str | None, instance: Any) -> list[ValidationError]:
    key = _key(definition, instance) if definition is not None else None
    if key is not None:
        with _lock:
            if _verdicts.get(key):
                _verdicts.move_to_end(key)
                return []
    found = list(_definition(definition).iter_errors(instance))
    if key is not None:
        with _lock:
            _verdicts[key] = not found
            while len(_verdicts) > _MAX_VERDICTS:
                _verdicts.popitem(last=False)
    return found


def _is_dicts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, Mapping) for v in value)


def _pieces(data: Mapping[str, Any]) -> list[tuple[tuple[Any, ...], str | None, Any]]:
    """(path, definition, instance): the skeleton first, then properties and quality rules."""
    objects = data.get("schema")
    if objects is None or not _is_dicts(objects):
        return [((), None, data)]
    pieces: list[tuple[tuple[Any, ...], str | None, Any]] = []
    skeleton_objects = []
    for i, obj in enumerate(objects):
        obj = dict(obj)
        for j, rule in enumerate(obj["quality"] if _is_dicts(obj.get("quality")) else ()):
            pieces.append((("schema", i, "quality", j), "DataQuality", rule))
        if _is_dicts(obj.get("quality")):
            obj["quality"] = []
        for k, prop in enumerate(obj["properties"] if _is_dicts(obj.get("properties")) else ()):
            path = ("schema", i, "properties", k)
            prop = dict(prop)
            for j, rule in enumerate(prop["quality"] if _is_dicts(prop.get("quality")) else ()):
                pieces.append(((*path, "quality", j), "DataQuality", rule))
            if _is_dicts(prop.get("quality")):
                prop["quality"] = []
            pieces.append((path, "SchemaProperty", prop))
        if _is_dicts(obj.get("properties")):
            obj["properties"] = []
        skeleton_objects.append(obj)
    return [((), None, {**data, "schema": skeleton_objects}), *pieces]


def schema_errors(data: Any) -> list[PathError]:
    """Every error of ``data`` against the ODCS v3.1.0 schema, each with the path of its piece."""
    if not isinstance(data, Mapping):
        return [((), e) for e in odcs_validator().iter_errors(data)]
    return [(path, error) for path, definition, piece in _pieces(data) for error in _errors(definition, piece)]
