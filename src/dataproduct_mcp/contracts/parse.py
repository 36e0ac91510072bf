"""Parsing ODCS v3.1 data contracts: safe YAML/JSON, the official JSON Schema, then the
cross-references the schema cannot see, then the `open-data-contract-standard` pydantic model.

The JSON Schema is the one shipped in the ``open-data-contract-standard`` package (3.1.x: the
Bitol ODCS v3.1.0 schema, Draft 2019-09), checked with a real format checker. It accepts the
``apiVersion`` values v3.1.0 and v3.0.0-v3.0.2 (v3.0 documents are a subset of v3.1); ODCS v2
documents have another structure and are refused with a pointer to the upgrade, and later
versions (v3.2.0) are refused rather than half-read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import jsonschema.exceptions
from open_data_contract_standard.model import OpenDataContractStandard
from pydantic import ValidationError

from dataproduct_mcp.contracts.documents import load_document, location_of
from dataproduct_mcp.contracts.documents import location_of as _location
from dataproduct_mcp.contracts.odcs_schema import odcs_validator, schema_errors
from dataproduct_mcp.errors import InvalidArgument

__all__ = ["ODCS_VERSION", "SUPPORTED_API_VERSIONS", "DataContract", "odcs_validator", "parse_contract"]

ODCS_VERSION = "v3.1.0"
SUPPORTED_API_VERSIONS: tuple[str, ...] = ("v3.1.0", "v3.0.2", "v3.0.1", "v3.0.0")
ODCS_REFERENCE = "https://bitol-io.github.io/open-data-contract-standard/v3.1.0/"
MAX_PROBLEMS = 20
_FIELD = "contract"


@dataclass(frozen=True)
class DataContract:
    """A parsed, valid ODCS contract: the document as given (JSON data) and its pydantic model."""

    document: Mapping[str, Any]
    model: OpenDataContractStandard

    @property
    def id(self) -> str:
        return str(self.document["id"])

    @property
    def version(self) -> str:
        return str(self.document["version"])

    @property
    def api_version(self) -> str:
        return str(self.document["apiVersion"])

    @property
    def name(self) -> str | None:
        name = self.document.get("name")
        return name if isinstance(name, str) else None

    @property
    def status(self) -> str:
        return str(self.document["status"])

    @property
    def schema_objects(self) -> list[Mapping[str, Any]]:
        objects = self.document.get("schema") or []
        return [o for o in objects if isinstance(o, Mapping)]


def _suggestion(error: jsonschema.exceptions.ValidationError) -> str:
    keyword, expected = error.validator, error.validator_value
    if keyword == "enum":
        return f"Use one of: {', '.join(json.dumps(v) for v in expected)}."
    if keyword == "required":
        return "Add the missing key."
    if keyword in ("unevaluatedProperties", "additionalProperties"):
        return f"Remove the key: ODCS {ODCS_VERSION} does not define it here (put extra data in customProperties)."
    if keyword == "type":
        return f"Give a value of type {expected}."
    if keyword == "pattern":
        return f"Give a value matching {expected}."
    if keyword == "format":
        return f"Give a valid {expected} value."
    if keyword in ("minItems", "maxItems", "uniqueItems"):
        return "Give exactly two different numbers, the smaller first." if expected in (2, True) else "Fix the list."
    return f"See the ODCS {ODCS_VERSION} reference ({ODCS_REFERENCE}) for this key."


def _describe(prefix: tuple[Any, ...], error: jsonschema.exceptions.ValidationError) -> dict[str, str]:
    """Location, problem and suggestion of the most specific error under a oneOf/anyOf failure.
    A oneOf of alternatives that each require one key (the ODCS comparison operators) reads as
    "needs exactly one of ..."."""

    def location_of(path: Any) -> str:
        return _location((*prefix, *path))

    while error.context:
        alternatives = [e for e in error.context if e.validator == "required" and not e.relative_path]
        if error.validator == "oneOf" and alternatives and len(alternatives) == len(error.context):
            keys = [str(e.validator_value[0]) for e in alternatives]
            return _problem(
                location_of(error.absolute_path),
                f"needs one of {', '.join(keys)}",
                f"Give exactly one of: {', '.join(keys)}.",
            )
        error = jsonschema.exceptions.best_match(error.context)
    if error.validator == "oneOf":  # valid under several alternatives
        keys = [alt["required"][0] for alt in error.validator_value if len(alt.get("required", ())) == 1]
        given = [k for k in keys if isinstance(error.instance, Mapping) and k in error.instance]
        if len(given) > 1:
            return _problem(location_of(error.absolute_path), f"gives {', '.join(given)}", "Keep only one of them.")
        return _problem(location_of(error.absolute_path), "matches more than one alternative", "Keep one form.")
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [k for k in error.validator_value if k not in error.instance]
        path += [k for k in missing if error.message.startswith(repr(k))][:1] or missing[:1]  # the missing key
    return _problem(location_of(path), error.message, _suggestion(error))


def _problem(location: str, message: str, suggestion: str) -> dict[str, str]:
    return {"location": location, "problem": message[:300], "suggestion": suggestion}


def _schema_problems(data: Any) -> list[dict[str, str]]:
    # Unknown-key errors last (they are often the echo of a failed branch), then document order.
    errors = sorted(
        schema_errors(data),
        key=lambda pe: (
            pe[1].validator == "unevaluatedProperties",
            [*map(str, pe[0] + tuple(pe[1].absolute_path))],
            pe[1].message,
        ),
    )
    out: list[dict[str, str]] = []
    for prefix, error in errors:
        problem = _describe(prefix, error)
        if problem not in out:
            out.append(problem)
        if len(out) == MAX_PROBLEMS:
            break
    return out


def _quality_entries(data: Mapping[str, Any]) -> Iterator[tuple[tuple[Any, ...], Mapping[str, Any], Any]]:
    """(path, rule, owning schema object) of every quality rule of every schema object and property."""
    for i, obj in enumerate(data.get("schema") or []):
        for j, rule in enumerate(obj.get("quality") or []):
            yield ("schema", i, "quality", j), rule, obj
        stack: list[tuple[tuple[Any, ...], Any]] = [
            (("schema", i, "properties", k), prop) for k, prop in enumerate(obj.get("properties") or [])
        ]
        while stack:
            path, prop = stack.pop()
            for j, rule in enumerate(prop.get("quality") or []):
                yield (*path, "quality", j), rule, obj
            stack.extend(((*path, "properties", k), p) for k, p in enumerate(prop.get("properties") or []))
            if isinstance(prop.get("items"), Mapping):
                stack.append(((*path, "items"), prop["items"]))


def _regex_problem(path: tuple[Any, ...], pattern: Any) -> dict[str, str] | None:
    if not isinstance(pattern, str):
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        return _problem(
            location_of(path), f"pattern {pattern!r} is not a regular expression: {exc}", "Fix the pattern."
        )
    return None


def _cross_reference_problems(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """What the JSON Schema cannot say: unique names, references to properties, regexes, bounds order."""
    out: list[dict[str, str]] = []
    seen_objects: set[str] = set()
    for i, obj in enumerate(data.get("schema") or []):
        if obj["name"] in seen_objects:
            out.append(_problem(f"schema[{i}].name", f"schema object {obj['name']!r} is defined twice", "Rename one."))
        seen_objects.add(obj["name"])
        names: set[str] = set()
        for k, prop in enumerate(obj.get("properties") or []):
            path = ("schema", i, "properties", k)
            if prop["name"] in names:
                out.append(_problem(location_of((*path, "name")), f"property {prop['name']!r} repeats", "Rename one."))
            names.add(prop["name"])
            problem = _regex_problem(
                (*path, "logicalTypeOptions", "pattern"), (prop.get("logicalTypeOptions") or {}).get("pattern")
            )
            if problem:
                out.append(problem)
    for path, rule, obj in _quality_entries(data):
        arguments: Mapping[str, Any] = rule["arguments"] if isinstance(rule.get("arguments"), Mapping) else {}
        problem = _regex_problem((*path, "arguments", "pattern"), arguments.get("pattern"))
        if problem:
            out.append(problem)
        known = {p.get("name") for p in obj.get("properties") or []}
        columns = arguments.get("properties")
        if isinstance(columns, list):
            for c, column in enumerate(columns):
                if column not in known:
                    out.append(
                        _problem(
                            location_of((*path, "arguments", "properties", c)),
                            f"{column!r} is not a property of schema object {obj['name']!r}",
                            f"Name one of: {', '.join(sorted(str(n) for n in known)) or '(none)'}.",
                        )
                    )
        for op in ("mustBeBetween", "mustNotBeBetween"):
            pair = rule.get(op)
            if isinstance(pair, list) and len(pair) == 2 and pair[0] > pair[1]:
                out.append(_problem(location_of((*path, op)), f"{op} {pair} has the larger number first", "Swap them."))
    return out[:MAX_PROBLEMS]


def _raise(problems: list[dict[str, str]], what: str) -> NoReturn:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise InvalidArgument(
        f"the contract is not {what} at {first['location']}: {first['problem']}{more}",
        field=_FIELD,
        location=first["location"],
        problems=problems,
        suggestion=first["suggestion"],
    )


def _check_header(data: Any) -> None:
    if not isinstance(data, Mapping):
        _raise([_problem("(document)", "the document is not a mapping", "Send an ODCS document (a mapping).")], "ODCS")
    api_version = data.get("apiVersion")
    if api_version is None:
        _raise([_problem("apiVersion", "apiVersion is missing", f"Add apiVersion: {ODCS_VERSION}.")], "ODCS")
    if api_version not in SUPPORTED_API_VERSIONS:
        hint = (
            "ODCS v2 contracts have another structure: convert it to v3.1.0 (the datacontract CLI can)."
            if str(api_version).startswith("v2")
            else f"Use apiVersion {ODCS_VERSION} (this server reads {', '.join(SUPPORTED_API_VERSIONS)})."
        )
        _raise(
            [_problem("apiVersion", f"apiVersion {api_version!r} is not supported", hint)], "a supported ODCS version"
        )
    if data.get("kind") != "DataContract":
        _raise(
            [_problem("kind", f"kind is {data.get('kind')!r}, not 'DataContract'", "Set kind: DataContract.")], "ODCS"
        )


def parse_contract(text: str | bytes) -> DataContract:
    """Parse and check an ODCS v3.1 contract given as YAML or JSON text (at most 1 MiB).

    Raises ``TooLarge`` (field ``contract``) for a larger document and ``InvalidArgument``
    (field ``contract``; context ``location`` like ``schema[0].properties[2].logicalType``, or
    ``line``/``column`` for a syntax error, and ``problems``) for anything else.
    """
    data = load_document(text, field=_FIELD)
    _check_header(data)
    problems = _schema_problems(data)
    if problems:
        _raise(problems, f"valid ODCS {ODCS_VERSION}")
    problems = _cross_reference_problems(data)
    if problems:
        _raise(problems, "consistent")
    try:
        model = OpenDataContractStandard.model_validate(data)
    except ValidationError as exc:
        _raise(
            [_problem(location_of(e["loc"]), e["msg"], "Fix the value.") for e in exc.errors()[:MAX_PROBLEMS]],
            f"valid ODCS {ODCS_VERSION}",
        )
    return DataContract(document=data, model=model)
