"""Differences between two versions of an ODCS contract, with the breaking ones named
(:mod:`.changes`) and a verdict on the version step (SemVer: a breaking change needs a major bump;
in 0.y.z, where anything may change, a minor bump).

Column constraints are compared as this server checks them (:func:`.mapping.object_checks`), so
``required: true`` and a ``nullValues`` rule that must be 0 are the same thing and moving from one
to the other is no change; quality rules are compared by what they measure, and a new threshold is
*tightened* when some measurement the old rule accepted is now rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dataproduct_mcp.contracts.changes import Change, ChangeKind, Changes, show, version_verdict
from dataproduct_mcp.contracts.mapping import CUSTOM_CONSTRAINTS, ObjectChecks, object_checks
from dataproduct_mcp.contracts.parse import DataContract
from dataproduct_mcp.contracts.quality import rule_identity
from dataproduct_mcp.contracts.rules import acceptance_covers
from dataproduct_mcp.domain.contract import QualityRule, UncheckedRule
from dataproduct_mcp.domain.contract_diff import ContractDiff
from dataproduct_mcp.domain.schema import ColumnSpec, ColumnType

__all__ = ["Change", "ChangeKind", "ContractDiff", "diff_contracts"]

_PROPERTY_HANDLED = {
    "name", "logicalType", "physicalType", "physicalName", "required", "unique", "primaryKey", "primaryKeyPosition",
    "logicalTypeOptions", "quality", "customProperties", "properties", "items",
}  # fmt: skip
_OBJECT_HANDLED = {"name", "physicalName", "properties", "quality"}
# Options the column spec carries (compared there), unless the mapping noted one as not checked.
_SPEC_OPTIONS = {"minimum", "maximum", "minLength", "maxLength", "pattern", "exclusiveMinimum", "exclusiveMaximum"}
_LOWER_OPTIONS = {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"}
_UPPER_OPTIONS = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"}
_SEVERITY_RANK = {"info": 0, "warning": 0}


def _options(prop: Mapping[str, Any]) -> dict[str, Any]:
    return dict(prop.get("logicalTypeOptions") or {})


def _custom(prop: Mapping[str, Any]) -> list[Any]:
    return [e for e in prop.get("customProperties") or [] if e.get("property") != CUSTOM_CONSTRAINTS]


def _residual_options(
    changes: Changes, path: str, old: Mapping[str, Any], new: Mapping[str, Any], noted: set[str]
) -> None:
    """logicalTypeOptions the column spec does not carry: ``format``, ``multipleOf``, ``timezone``,
    the item and property counts of nested values, and the ones the mapping ``noted`` as not
    checked (exclusive bounds of numbers and datetimes, bounds that are not ISO moments, ...)."""
    carried = _SPEC_OPTIONS - noted
    for key in sorted((set(old) | set(new)) - carried - {"format"}):
        a, b, where = old.get(key), new.get(key), f"{path}.logicalTypeOptions.{key}"
        if a == b:
            continue
        if key in _LOWER_OPTIONS or key in _UPPER_OPTIONS:
            changes.bound(where, a, b, lower=key in _LOWER_OPTIONS, what="length" if "Length" in key else "range")
        elif key == "pattern":
            changes.add(ChangeKind.pattern_changed, where, b is not None, f"pattern {show(a)} -> {show(b)}")
        elif key == "multipleOf" and isinstance(a, int | float) and isinstance(b, int | float) and b and a % b == 0:
            changes.add(ChangeKind.option_relaxed, where, False, f"multipleOf {show(a)} -> {show(b)} (a divisor)")
        elif b is None or (key == "uniqueItems" and not b):
            changes.add(ChangeKind.option_relaxed, where, False, f"{key} {show(a)} removed")
        else:
            changes.add(ChangeKind.option_changed, where, True, f"{key} changed from {show(a)} to {show(b)}")
    if old.get("format") != new.get("format"):
        gone = new.get("format") is None
        kind = ChangeKind.option_relaxed if gone else ChangeKind.option_changed
        changes.add(
            kind,
            f"{path}.logicalTypeOptions.format",
            not gone,
            f"format {show(old.get('format'))} -> {show(new.get('format'))}",
        )


def _column(
    changes: Changes,
    path: str,
    a: ColumnSpec,
    b: ColumnSpec,
    pa: Mapping[str, Any],
    pb: Mapping[str, Any],
    noted: set[str],
) -> None:
    if a.type != b.type:
        widened = a.type is ColumnType.integer and b.type is ColumnType.number
        kind = ChangeKind.type_widened if widened else ChangeKind.type_changed
        changes.add(kind, f"{path}.logicalType", not widened, f"type {a.type.value} -> {b.type.value}")
    elif pa.get("logicalType") != pb.get("logicalType"):
        changes.add(
            ChangeKind.type_changed,
            f"{path}.logicalType",
            True,
            f"logicalType {show(pa.get('logicalType'))} -> {show(pb.get('logicalType'))}",
        )
    if pa.get("physicalType") != pb.get("physicalType"):
        changes.add(
            ChangeKind.physical_type_changed,
            f"{path}.physicalType",
            False,
            f"physicalType {show(pa.get('physicalType'))} -> {show(pb.get('physicalType'))}",
        )
    if pa.get("physicalName") != pb.get("physicalName"):
        changes.add(
            ChangeKind.physical_name_changed,
            f"{path}.physicalName",
            True,
            f"physicalName {show(pa.get('physicalName'))} -> {show(pb.get('physicalName'))}",
        )
    key_a = [bool(pa.get("primaryKey")), pa.get("primaryKeyPosition")]
    key_b = [bool(pb.get("primaryKey")), pb.get("primaryKeyPosition")]
    if key_a != key_b:
        message = f"primary key [flag, position] {show(key_a)} -> {show(key_b)}"
        changes.add(ChangeKind.primary_key_changed, f"{path}.primaryKey", True, message)
    changes.flag(
        f"{path}.required", a.required, b.required, ChangeKind.required_added, ChangeKind.required_removed, "required"
    )
    changes.flag(f"{path}.unique", a.unique, b.unique, ChangeKind.unique_added, ChangeKind.unique_removed, "unique")
    changes.values(f"{path}.validValues", a.enum, b.enum)
    changes.bound(f"{path}.minimum", a.minimum, b.minimum, lower=True)
    changes.bound(f"{path}.maximum", a.maximum, b.maximum, lower=False)
    changes.bound(f"{path}.minLength", a.min_length, b.min_length, lower=True, what="length")
    changes.bound(f"{path}.maxLength", a.max_length, b.max_length, lower=False, what="length")
    if a.pattern != b.pattern:
        kind = (
            ChangeKind.pattern_removed
            if b.pattern is None
            else (ChangeKind.pattern_added if a.pattern is None else ChangeKind.pattern_changed)
        )
        changes.add(kind, f"{path}.pattern", b.pattern is not None, f"pattern {show(a.pattern)} -> {show(b.pattern)}")
    _residual_options(changes, path, _options(pa), _options(pb), noted)
    for key in ("properties", "items"):
        if pa.get(key) != pb.get(key):
            changes.add(ChangeKind.nested_changed, f"{path}.{key}", True, f"the nested {key} changed")
    if _custom(pa) != _custom(pb):
        changes.add(ChangeKind.metadata_changed, f"{path}.customProperties", False, "customProperties changed")
    changes.metadata(path, pa, pb, (set(pa) | set(pb)) - _PROPERTY_HANDLED)


def _noted(checks: ObjectChecks, column: str) -> set[str]:
    """The logicalTypeOptions of ``column`` that the mapping could not carry into its spec."""
    marker = ".logicalTypeOptions."
    return {
        r.location.rsplit(marker, 1)[1]
        for r in checks.rules
        if isinstance(r, UncheckedRule) and r.column == column and marker in r.location
    }


def _raw_rule(doc_obj: Mapping[str, Any], rule: UncheckedRule, checks: ObjectChecks) -> Mapping[str, Any] | None:
    """The quality entry an unchecked rule stands for (None for notes about options and types)."""
    parts = rule.location.removeprefix(checks.location).split(".")
    try:
        if len(parts) == 2 and parts[1].startswith("quality["):
            return doc_obj["quality"][int(parts[1][8:-1])]  # type: ignore[no-any-return]
        if len(parts) == 3 and parts[2].startswith("quality["):
            prop = doc_obj["properties"][int(parts[1][11:-1])]
            return prop["quality"][int(parts[2][8:-1])]  # type: ignore[no-any-return]
    except (KeyError, IndexError, ValueError):
        return None
    return None


def _rule_table(
    obj: Mapping[str, Any], checks: ObjectChecks
) -> dict[str, list[tuple[QualityRule | Mapping[str, Any], str]]]:
    table: dict[str, list[tuple[QualityRule | Mapping[str, Any], str]]] = {}
    for rule in checks.rules:
        if isinstance(rule, QualityRule):
            if rule.location.endswith(".primaryKey"):
                continue  # a composite key: compared as primaryKey
            key = json.dumps(["evaluated", rule.measurement.key, rule.unit.value])
            table.setdefault(key, []).append((rule, rule.column or ""))
        else:
            raw = _raw_rule(obj, rule, checks)
            if raw is not None:
                table.setdefault(rule_identity(raw), []).append((raw, rule.column or ""))
    return table


def _rules(
    changes: Changes, name: str, old: ObjectChecks, new: ObjectChecks, oa: Mapping[str, Any], ob: Mapping[str, Any]
) -> None:
    # Rules of a property that was added or removed go with it (that change is reported already).
    kept = {c.name for c in old.columns} & {c.name for c in new.columns} | {""}
    before = {k: [r for r in v if r[1] in kept] for k, v in _rule_table(oa, old).items()}
    after = {k: [r for r in v if r[1] in kept] for k, v in _rule_table(ob, new).items()}
    for key in sorted(set(before) | set(after)):
        olds, news = before.get(key, []), after.get(key, [])
        for a, b in zip(olds, news, strict=False):
            _compare_rule(changes, _rule_path(name, b[1]), a[0], b[0])
        for rule, column in news[len(olds) :]:
            text = not isinstance(rule, QualityRule) and rule.get("type") == "text"
            changes.add(
                ChangeKind.quality_rule_added,
                _rule_path(name, column),
                not text,
                f"quality rule added: {_describe(rule)}",
            )
        for rule, column in olds[len(news) :]:
            changes.add(
                ChangeKind.quality_rule_removed,
                _rule_path(name, column),
                False,
                f"quality rule removed: {_describe(rule)}",
            )


def _rule_path(name: str, column: str) -> str:
    return f"{name}.{column}.quality" if column else f"{name}.quality"


def _describe(rule: QualityRule | Mapping[str, Any]) -> str:
    if isinstance(rule, QualityRule):
        return f"{rule.measurement.metric.value} {rule.operator.value} {show(rule.threshold)} {rule.unit.value}"
    return show({k: rule[k] for k in ("type", "metric", "query", "engine", "description") if k in rule})


def _compare_rule(
    changes: Changes, path: str, a: QualityRule | Mapping[str, Any], b: QualityRule | Mapping[str, Any]
) -> None:
    if isinstance(a, QualityRule) and isinstance(b, QualityRule):
        covers = acceptance_covers((b.operator, b.threshold), (a.operator, a.threshold), a.unit)
        back = acceptance_covers((a.operator, a.threshold), (b.operator, b.threshold), a.unit)
        stricter = _SEVERITY_RANK.get((b.severity or "error").lower(), 1) > _SEVERITY_RANK.get(
            (a.severity or "error").lower(), 1
        )
        if not covers or stricter:
            changes.add(
                ChangeKind.quality_rule_tightened,
                path,
                True,
                f"quality rule tightened: {_describe(a)} -> {_describe(b)}",
            )
        elif not back or _SEVERITY_RANK.get((b.severity or "error").lower(), 1) < _SEVERITY_RANK.get(
            (a.severity or "error").lower(), 1
        ):
            changes.add(
                ChangeKind.quality_rule_relaxed, path, False, f"quality rule relaxed: {_describe(a)} -> {_describe(b)}"
            )
        elif (a.name, a.description) != (b.name, b.description):
            changes.add(ChangeKind.description_changed, path, False, "quality rule description changed")
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping) and a != b:
        ops_a = {k: v for k, v in a.items() if k.startswith("must")}
        ops_b = {k: v for k, v in b.items() if k.startswith("must")}
        if ops_a != ops_b:
            changes.add(
                ChangeKind.quality_rule_tightened,
                path,
                True,
                f"threshold of a rule not run here changed: {show(ops_a)} -> {show(ops_b)}",
            )
        else:
            changes.add(ChangeKind.description_changed, path, False, "quality rule description changed")


def _object(changes: Changes, oa: Mapping[str, Any], ia: int, ob: Mapping[str, Any], ib: int) -> None:
    name = str(ob["name"])
    if oa.get("physicalName") != ob.get("physicalName"):
        changes.add(
            ChangeKind.physical_name_changed,
            f"{name}.physicalName",
            True,
            f"physicalName {show(oa.get('physicalName'))} -> {show(ob.get('physicalName'))}",
        )
    changes.metadata(name, oa, ob, (set(oa) | set(ob)) - _OBJECT_HANDLED)
    old, new = object_checks(oa, ia), object_checks(ob, ib)
    old_cols, new_cols = {c.name: c for c in old.columns}, {c.name: c for c in new.columns}
    old_props = {p["name"]: p for p in oa.get("properties") or []}
    new_props = {p["name"]: p for p in ob.get("properties") or []}
    for col in old.columns:
        if col.name not in new_cols:
            changes.add(ChangeKind.property_removed, f"{name}.{col.name}", True, f"property {col.name!r} removed")
    for col in new.columns:
        if col.name not in old_cols:
            required = col.required
            changes.add(
                ChangeKind.property_added,
                f"{name}.{col.name}",
                required,
                f"{'required' if required else 'optional'} property {col.name!r} added",
            )
        else:
            noted = _noted(old, col.name) | _noted(new, col.name)
            _column(
                changes, f"{name}.{col.name}", old_cols[col.name], col, old_props[col.name], new_props[col.name], noted
            )
    kept_old = [c.name for c in old.columns if c.name in new_cols]
    kept_new = [c.name for c in new.columns if c.name in old_cols]
    if kept_old != kept_new:
        changes.add(
            ChangeKind.properties_reordered,
            f"{name}.properties",
            True,
            "properties are in another order (files are checked in schema order)",
        )
    _rules(changes, name, old, new, oa, ob)


def diff_contracts(old: DataContract, new: DataContract) -> ContractDiff:
    """Every difference from ``old`` to ``new``, whether each is breaking, and the version verdict.

    Raises ``InvalidArgument`` (field ``contract``) if a property's constraints contradict each other.
    """
    changes = Changes()
    if old.id != new.id:
        changes.add(
            ChangeKind.contract_id_changed,
            "id",
            False,
            f"the documents have different ids ({old.id} and {new.id}): are they the same contract?",
        )
    if old.version != new.version:
        changes.add(ChangeKind.version_changed, "version", False, f"version {old.version} -> {new.version}")
    top = (set(old.document) | set(new.document)) - {"id", "version", "schema"}
    changes.metadata("", old.document, new.document, top)
    before = {o["name"]: (i, o) for i, o in enumerate(old.schema_objects)}
    after = {o["name"]: (i, o) for i, o in enumerate(new.schema_objects)}
    for name in before:
        if name not in after:
            changes.add(ChangeKind.schema_removed, str(name), True, f"schema object {name!r} removed")
    for name, (ib, ob) in after.items():
        if name not in before:
            changes.add(ChangeKind.schema_added, str(name), False, f"schema object {name!r} added")
        else:
            ia, oa = before[name]
            _object(changes, oa, ia, ob, ib)
    items = changes.items
    breaking = sum(c.breaking for c in items)
    return ContractDiff(
        old_id=old.id,
        new_id=new.id,
        old_version=old.version,
        new_version=new.version,
        changes=items,
        breaking=breaking > 0,
        breaking_count=breaking,
        **version_verdict(old.version, new.version, items),
    )
