"""The result of comparing two data-contract versions (:func:`dataproduct_mcp.contracts.diff_contracts`):
each change, whether it is breaking, and the verdict on the version step. Models only; the
comparison lives in :mod:`dataproduct_mcp.contracts.diff`."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Bump", "Change", "ChangeKind", "ContractDiff"]

Bump = Literal["major", "minor", "patch", "none"]


class ChangeKind(StrEnum):
    schema_removed = "schema-removed"
    schema_added = "schema-added"
    property_removed = "property-removed"
    property_added = "property-added"
    properties_reordered = "properties-reordered"
    type_changed = "type-changed"
    type_widened = "type-widened"
    physical_type_changed = "physical-type-changed"
    physical_name_changed = "physical-name-changed"
    required_added = "required-added"
    required_removed = "required-removed"
    unique_added = "unique-added"
    unique_removed = "unique-removed"
    primary_key_changed = "primary-key-changed"
    valid_values_narrowed = "valid-values-narrowed"
    valid_values_widened = "valid-values-widened"
    range_tightened = "range-tightened"
    range_widened = "range-widened"
    range_changed = "range-changed"
    length_tightened = "length-tightened"
    length_widened = "length-widened"
    pattern_added = "pattern-added"
    pattern_changed = "pattern-changed"
    pattern_removed = "pattern-removed"
    option_changed = "option-changed"
    option_relaxed = "option-relaxed"
    nested_changed = "nested-changed"
    quality_rule_added = "quality-rule-added"
    quality_rule_removed = "quality-rule-removed"
    quality_rule_tightened = "quality-rule-tightened"
    quality_rule_relaxed = "quality-rule-relaxed"
    description_changed = "description-changed"
    metadata_changed = "metadata-changed"
    contract_id_changed = "contract-id-changed"
    version_changed = "version-changed"


class Change(BaseModel):
    """One difference between two contract versions."""

    model_config = ConfigDict(frozen=True)

    kind: ChangeKind
    path: str  # name-based: "orders.amount.logicalTypeOptions.maximum"
    breaking: bool
    message: str


class ContractDiff(BaseModel):
    """The changes from ``old`` to ``new`` and whether the version step fits them."""

    model_config = ConfigDict(frozen=True)

    old_id: str
    new_id: str
    old_version: str
    new_version: str
    changes: list[Change]
    breaking: bool
    breaking_count: int
    required_bump: Bump
    actual_bump: Literal["major", "minor", "patch", "none", "downgrade", "unknown"]
    version_ok: bool
    verdict: str
