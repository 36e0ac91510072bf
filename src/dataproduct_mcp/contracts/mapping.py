"""From an ODCS schema object to this server's checks: a :class:`TableSchema` (value-by-value
column constraints) plus the quality rules over the whole file (docs/contracts.md has the table).

A quality rule that tolerates no offending value (``nullValues``/``duplicateValues``/
``invalidValues``/``missingValues`` of ``[null, '']`` that must be 0) is the same as a column
constraint and becomes one (``required``, ``unique``, ``enum``/``pattern``), so each offending
value is reported at its row; other rules are measured over the file. Nothing is dropped in
silence: what has no counterpart here becomes an :class:`UncheckedRule`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataproduct_mcp.contracts.documents import location_of
from dataproduct_mcp.contracts.parse import DataContract
from dataproduct_mcp.contracts.quality import DEFAULT_MISSING_VALUES, is_zero_tolerance, quality_rule
from dataproduct_mcp.contracts.rules import measurements_for
from dataproduct_mcp.domain.contract import Measurement, Metric, Operator, QualityRule, UncheckedRule
from dataproduct_mcp.domain.schema import ColumnSpec, ColumnType, TableSchema
from dataproduct_mcp.errors import InvalidArgument

__all__ = ["CUSTOM_CONSTRAINTS", "ContractChecks", "ObjectChecks", "column_type", "contract_checks", "object_checks"]

CUSTOM_CONSTRAINTS = "dpmcpConstraints"  # customProperties entry for constraints ODCS has no key for
_CUSTOM_KEYS = {"minimum": "minimum", "maximum": "maximum", "minLength": "min_length", "maxLength": "max_length"}
_LOGICAL = {
    "string": ColumnType.string,
    "integer": ColumnType.integer,
    "number": ColumnType.number,
    "boolean": ColumnType.boolean,
}
_PHYSICAL: tuple[tuple[re.Pattern[str], ColumnType], ...] = tuple(
    (re.compile(p, re.IGNORECASE), t)
    for p, t in (
        (r"^(?:n?var)?char2?\b|^n?varchar|^(?:long|medium|tiny)?text$|^string$|^clob$|^uuid$", ColumnType.string),
        (
            r"^(?:tiny|small|medium|big)?int(?:eger)?\d*\b|^u?int\d+$|^long$|^short$|^byte$|^(?:big)?serial$",
            ColumnType.integer,
        ),
        (r"^(?:double|float\d*|real|decimal|numeric|number|money)\b", ColumnType.number),
        (r"^bool(?:ean)?$|^bit$", ColumnType.boolean),
        (r"^date$", ColumnType.date),
        (r"^(?:timestamp|datetime)", ColumnType.datetime),
    )
)
_ISO_DATETIME_FORMAT = re.compile(r"yyyy-MM-dd[T ]HH:mm(?::ss(?:\.S{1,9})?)?(?:XXX|XX|X|Z|z)?")
_INT_FORMATS: dict[str, tuple[int, int | None]] = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
}
_INT_FORMATS |= {"u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1), "u64": (0, None), "u128": (0, None)}
_INT_FORMATS |= {"i128": (-(2**127), None)}
_NESTED = ("object", "array")


def column_type(prop: Mapping[str, Any]) -> tuple[ColumnType, str | None]:
    """The column type of an ODCS property, and why it is only approximate (None when exact)."""
    logical, physical = prop.get("logicalType"), prop.get("physicalType")
    fmt = (prop.get("logicalTypeOptions") or {}).get("format")
    if logical in _LOGICAL:
        return _LOGICAL[logical], None
    if logical in ("date", "timestamp"):
        if fmt is None:
            return (ColumnType.date if logical == "date" else ColumnType.datetime), None
        if fmt == "yyyy-MM-dd":
            return ColumnType.date, None
        if _ISO_DATETIME_FORMAT.fullmatch(str(fmt).replace("'T'", "T").replace("'Z'", "Z")):
            return ColumnType.datetime, None
        return ColumnType.string, f"format {fmt!r} is not ISO 8601, so values are checked as text"
    if logical == "time":
        return ColumnType.string, "times of day are checked as text"
    if logical in _NESTED:
        return ColumnType.string, f"{logical} values are checked as text; their structure is not checked"
    if isinstance(physical, str):
        for regex, ctype in _PHYSICAL:
            if regex.search(physical.strip()):
                return ctype, None
        return ColumnType.string, f"physicalType {physical!r} has no logicalType, so values are checked as text"
    return ColumnType.string, None


def _iso(value: Any, ctype: ColumnType) -> bool:
    if not isinstance(value, str):
        return False
    try:
        (date.fromisoformat if ctype is ColumnType.date else datetime.fromisoformat)(value)
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tighter(current: Any, bound: Any, *, lower: bool) -> Any:
    """The tighter of two bounds (numbers, or ISO dates/datetimes compared as moments)."""
    if current is None:
        return bound
    if isinstance(current, str) != isinstance(bound, str):
        return current
    try:
        a, b = (
            (datetime.fromisoformat(current), datetime.fromisoformat(bound))
            if isinstance(bound, str)
            else (current, bound)
        )
        tighter_is_new = b > a if lower else b < a
    except (TypeError, ValueError):  # a naive and an aware moment: keep the first
        return current
    return bound if tighter_is_new else current


@dataclass
class _Column:
    path: tuple[Any, ...]
    name: str
    spec: dict[str, Any]
    notes: list[UncheckedRule] = field(default_factory=list)

    def note(self, key: str, what: str, reason: str) -> None:
        location = location_of((*self.path, "logicalTypeOptions", key) if key else self.path)
        self.notes.append(UncheckedRule(location=location, what=what, reason=reason, column=self.name))


def _options(col: _Column, ctype: ColumnType, logical: Any, options: Mapping[str, Any]) -> None:
    spec = col.spec
    for key, value in options.items():
        if key in ("minimum", "maximum"):
            numeric = ctype in (ColumnType.integer, ColumnType.number) and _is_number(value)
            if numeric or (ctype in (ColumnType.date, ColumnType.datetime) and _iso(value, ctype)):
                spec[key] = _tighter(spec.get(key), value, lower=key == "minimum")
            else:
                col.note(
                    key, f"{key} {value!r}", f"only numbers and ISO 8601 moments are checked as bounds ({ctype.value})"
                )
        elif key in ("minLength", "maxLength"):
            spec["min_length" if key == "minLength" else "max_length"] = value
        elif key == "pattern":
            spec["pattern"] = value
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            lower = key == "exclusiveMinimum"
            target = "minimum" if lower else "maximum"
            if ctype is ColumnType.integer and _is_number(value):
                bound = math.floor(value) + 1 if lower else math.ceil(value) - 1
                spec[target] = _tighter(spec.get(target), bound, lower=lower)
            elif ctype is ColumnType.date and _iso(value, ctype):
                day = date.fromisoformat(value) + timedelta(days=1 if lower else -1)
                spec[target] = _tighter(spec.get(target), day.isoformat(), lower=lower)
            else:
                numeric = ctype is ColumnType.number and _is_number(value)
                if numeric or (ctype is ColumnType.datetime and _iso(value, ctype)):
                    spec[target] = _tighter(spec.get(target), value, lower=lower)
                col.note(key, f"{key} {value!r}", f"only inclusive bounds are checked for {ctype.value} values")
        elif key == "format" and logical in ("date", "timestamp"):
            continue  # it decided the column type (column_type), with a note if inexact
        elif key == "format" and ctype is ColumnType.integer and value in _INT_FORMATS:
            low, high = _INT_FORMATS[value]
            spec["minimum"] = _tighter(spec.get("minimum"), low, lower=True)
            if high is not None:
                spec["maximum"] = _tighter(spec.get("maximum"), high, lower=False)
            else:
                col.note(key, f"format {value}", "integers beyond 64 bits are reported as type errors here")
        elif key == "format" and value in ("i64", "f64"):
            continue  # what the integer and number checks use
        elif logical not in _NESTED:
            col.note(key, f"logicalTypeOptions.{key} {value!r}", "this server has no check for it")


def _custom_constraints(col: _Column, prop: Mapping[str, Any]) -> None:
    for entry in prop.get("customProperties") or []:
        if entry.get("property") == CUSTOM_CONSTRAINTS and isinstance(entry.get("value"), Mapping):
            for key, value in entry["value"].items():
                if key in _CUSTOM_KEYS:
                    col.spec[_CUSTOM_KEYS[key]] = value
                elif key == "pattern":
                    col.spec["pattern"] = value


def _relationship_notes(col: _Column, relationships: Any, path: tuple[Any, ...], column: str | None = "") -> None:
    for r, rel in enumerate(relationships or []):
        target = rel.get("to")
        col.notes.append(
            UncheckedRule(
                location=location_of((*path, "relationships", r)),
                what=f"{rel.get('type', 'foreignKey')} relationship to {target}",
                reason="references to other schema objects are not checked on one file",
                column=col.name if column == "" else column,
            )
        )


def _promote(col: _Column, rule: QualityRule) -> bool:
    """Turn a zero-tolerance rule into a column constraint (module docstring); False if it stays a rule."""
    spec, m = col.spec, rule.measurement
    if not is_zero_tolerance(rule):
        return False
    if m.metric is Metric.null_values:
        spec["required"] = True
    elif m.metric is Metric.duplicate_values:
        spec["unique"] = True
    elif m.metric is Metric.missing_values:
        if not set(m.values or ()) <= set(DEFAULT_MISSING_VALUES):
            return False
        spec["required"] = True
    elif m.metric is Metric.invalid_values:
        if (m.values is not None and spec.get("enum") is not None) or (m.pattern and spec.get("pattern")):
            return False
        if m.values is not None:
            spec["enum"] = [v for v in m.values if v is not None]
        if m.pattern:
            spec["pattern"] = m.pattern
    else:
        return False
    return True


def _spec(fields: dict[str, Any]) -> ColumnSpec:
    spec = ColumnSpec.model_validate(fields)
    low, high = spec.minimum, spec.maximum
    if isinstance(low, str) and isinstance(high, str) and _iso(low, spec.type) and _iso(high, spec.type):
        parse = date.fromisoformat if spec.type is ColumnType.date else datetime.fromisoformat
        try:
            reversed_ = parse(low) > parse(high)  # type: ignore[operator]
        except TypeError:  # one bound with a time zone, one without
            reversed_ = False
        if reversed_:
            raise ValueError(f"minimum {low} is after maximum {high}")
    return spec


@dataclass
class ObjectChecks:
    """The checks of one schema object: its column specs in order and its rules."""

    location: str
    name: str
    columns: list[ColumnSpec]
    rules: list[QualityRule | UncheckedRule]


def object_checks(obj: Mapping[str, Any], index: int) -> ObjectChecks:
    """Map the schema object at ``schema[index]`` (see the module docstring)."""
    base = ("schema", index)
    props = list(obj.get("properties") or [])
    keys = [p for p in props if p.get("primaryKey")]
    keys.sort(key=lambda p: (p.get("primaryKeyPosition", -1) < 1, p.get("primaryKeyPosition", -1)))
    specs: list[ColumnSpec] = []
    rules: list[QualityRule | UncheckedRule] = []
    for k, prop in enumerate(props):
        col = _Column(path=(*base, "properties", k), name=prop["name"], spec={"name": prop["name"]})
        ctype, why = column_type(prop)
        col.spec["type"] = ctype
        if why:
            col.note("", f"type of {prop['name']!r}", why)
        if prop.get("required") or prop.get("primaryKey"):
            col.spec["required"] = True
        if prop.get("unique") or (prop.get("primaryKey") and len(keys) == 1):
            col.spec["unique"] = True
        _options(col, ctype, prop.get("logicalType"), prop.get("logicalTypeOptions") or {})
        _custom_constraints(col, prop)
        if prop.get("properties") or prop.get("items"):
            col.note("", f"nested properties of {prop['name']!r}", "only top-level properties are columns")
        _relationship_notes(col, prop.get("relationships"), col.path)
        for j, raw in enumerate(prop.get("quality") or []):
            rule = quality_rule(raw, (*col.path, "quality", j), column=prop["name"])
            if isinstance(rule, UncheckedRule) or not _promote(col, rule):
                rules.append(rule)
        try:
            specs.append(_spec(col.spec))
        except (ValidationError, ValueError) as exc:
            problem = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise InvalidArgument(
                f"property {prop['name']!r} ({location_of(col.path)}) has constraints that cannot hold together:"
                f" {problem}",
                field="contract",
                location=location_of(col.path),
                suggestion="Fix the bounds, lengths or pattern of this property.",
            ) from exc
        rules.extend(col.notes)
    if len(keys) > 1:
        first = props.index(keys[0])
        rules.append(
            QualityRule(
                location=location_of((*base, "properties", first, "primaryKey")),
                measurement=Measurement(metric=Metric.duplicate_values, columns=tuple(p["name"] for p in keys)),
                operator=Operator.must_be,
                threshold=0,
                description="composite primary key",
                severity=None,
            )
        )
    for j, raw in enumerate(obj.get("quality") or []):
        rules.append(quality_rule(raw, (*base, "quality", j), column=None, level="schema"))
    table = _Column(path=base, name=obj["name"], spec={})
    _relationship_notes(table, obj.get("relationships"), base, column=None)
    rules.extend(table.notes)
    return ObjectChecks(location=location_of(base), name=obj["name"], columns=specs, rules=rules)


class ContractChecks(BaseModel):
    """What to check a file against for one schema object of a contract."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    contract_id: str
    contract_version: str
    table: str = Field(description="Name of the schema object the checks are for")
    location: str = Field(description="Where that object is in the contract, e.g. schema[0]")
    schema_: TableSchema = Field(alias="schema")
    rules: list[QualityRule | UncheckedRule] = Field(description="File-level rules, and what is not checked")

    @property
    def measurements(self) -> list[Measurement]:
        """The counts a validator must take (fill a ContractStats with them)."""
        return measurements_for(self.rules)


def _select(contract: DataContract, table: str | None) -> tuple[int, Mapping[str, Any]]:
    objects: Sequence[Mapping[str, Any]] = contract.schema_objects
    names = ", ".join(repr(o["name"]) for o in objects)
    if not objects:
        raise InvalidArgument(
            "the contract has no schema objects to check a file against",
            field="contract",
            location="schema",
            suggestion="Add a schema object with properties to the contract.",
        )
    if table is None:
        if len(objects) == 1:
            return 0, objects[0]
        raise InvalidArgument(
            f"the contract has {len(objects)} schema objects ({names}); say which one the file holds",
            field="table",
            suggestion="Pass table with the name of one of them.",
        )
    for i, obj in enumerate(objects):
        if table in (obj["name"], obj.get("physicalName")):
            return i, obj
    raise InvalidArgument(
        f"the contract has no schema object {table!r} (it has {names})",
        field="table",
        suggestion=f"Use one of {names}.",
    )


def contract_checks(contract: DataContract, table: str | None = None) -> ContractChecks:
    """The schema and rules to validate a file against, for the schema object named ``table``
    (its ``name`` or ``physicalName``; may be omitted when the contract has one object).

    Raises ``InvalidArgument`` (field ``table``) for an unknown or missing table name, and
    (field ``contract``) for an object without properties or with contradictory constraints.
    """
    index, obj = _select(contract, table)
    checks = object_checks(obj, index)
    if not checks.columns:
        raise InvalidArgument(
            f"schema object {checks.name!r} has no properties to check a file against",
            field="contract",
            location=f"{checks.location}.properties",
            suggestion="List the object's properties (the file's columns).",
        )
    return ContractChecks(
        contract_id=contract.id,
        contract_version=contract.version,
        table=checks.name,
        location=checks.location,
        schema_=TableSchema(columns=checks.columns),
        rules=checks.rules,
    )
