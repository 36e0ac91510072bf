"""Data-contract quality rules and the measurements a validator makes for them (issue 13).

A data contract (ODCS v3.1, see :mod:`dataproduct_mcp.contracts`) states two kinds of checks:
column constraints, which become a :class:`~dataproduct_mcp.domain.schema.TableSchema` and are
checked value by value, and *quality rules* over a whole file (``nullValues``,
``missingValues``, ``invalidValues``, ``duplicateValues``, ``rowCount``), which compare one
measured count with a threshold. This module holds the rule objects and the small structure a
validator fills with its counts; no I/O here.

What each metric counts (the definitions validators implement):

==================  ==============================================================================
``nullValues``      values of the column that are null (an empty cell, JSON ``null``, a missing key)
``missingValues``   values equal to one of ``values`` (``None`` in ``values`` counts the nulls too)
``invalidValues``   non-null values that are not in ``values`` (when given) or do not fully match
                    ``pattern`` (when given): failing either makes a value invalid
``duplicateValues`` rows minus distinct rows, over the ``columns`` tuple (one column: its non-null
                    values minus its distinct non-null values; several: whole tuples, null a value)
``rowCount``        data rows (the header is not a row)
==================  ==============================================================================

With ``unit: percent`` the count is taken as a percentage of the rows (0 for a file of no rows).
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AttachedContract",
    "ContractStats",
    "Measurement",
    "Metric",
    "Operator",
    "QualityRule",
    "RuleUnit",
    "UncheckedRule",
]

Scalar = str | int | float | bool | None


class Metric(StrEnum):
    """ODCS v3.1 library metrics."""

    null_values = "nullValues"
    missing_values = "missingValues"
    invalid_values = "invalidValues"
    duplicate_values = "duplicateValues"
    row_count = "rowCount"


class Operator(StrEnum):
    """ODCS v3.1 comparison operators (exactly one per rule)."""

    must_be = "mustBe"
    must_not_be = "mustNotBe"
    must_be_greater_than = "mustBeGreaterThan"
    must_be_greater_or_equal_to = "mustBeGreaterOrEqualTo"
    must_be_less_than = "mustBeLessThan"
    must_be_less_or_equal_to = "mustBeLessOrEqualTo"
    must_be_between = "mustBeBetween"
    must_not_be_between = "mustNotBeBetween"


class RuleUnit(StrEnum):
    rows = "rows"
    percent = "percent"


class Measurement(BaseModel):
    """One count a validator takes over a file. Two rules that need the same count share it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Metric
    columns: Annotated[tuple[str, ...], Field(max_length=2000, description="() for rowCount")] = ()
    values: Annotated[
        tuple[Scalar, ...] | None,
        Field(max_length=10_000, description="missingValues: the missing values; invalidValues: the valid ones"),
    ] = None
    pattern: Annotated[str | None, Field(max_length=1000, description="invalidValues: a value must fully match")] = None

    @property
    def key(self) -> str:
        """Stable text key of this measurement (the key of :attr:`ContractStats.counts`)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class QualityRule(BaseModel):
    """A rule this server evaluates: ``measurement`` compared with ``operator`` and ``threshold``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: str = Field(description="Where the rule is in the contract, e.g. schema[0].properties[2].quality[0]")
    measurement: Measurement
    operator: Operator
    threshold: float | tuple[float, float] = Field(description="A number; a (low, high) pair for the between operators")
    unit: RuleUnit = RuleUnit.rows
    name: str | None = None
    description: str | None = None
    severity: str | None = Field(default=None, description="ODCS severity; info and warning make a failure a warning")

    @property
    def column(self) -> str | None:
        """The column of a property-level rule (None for table-level rules)."""
        return self.measurement.columns[0] if len(self.measurement.columns) == 1 else None


class UncheckedRule(BaseModel):
    """Something the contract asks that this server does not check (an SQL or custom-engine rule,
    a text rule, an unknown metric, an option with no counterpart); reported as a warning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: str
    what: str = Field(description="What is not checked, e.g. 'quality rule of type sql'")
    reason: str
    column: str | None = None


class ContractStats(BaseModel):
    """What a validator measured for a contract's rules: the row count and one count per
    :class:`Measurement` (by :attr:`Measurement.key`); a measurement it could not take is absent."""

    model_config = ConfigDict(extra="forbid")

    rows: Annotated[int, Field(ge=0)]
    counts: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)

    def count(self, measurement: Measurement) -> int | None:
        if measurement.metric is Metric.row_count:
            return self.rows
        return self.counts.get(measurement.key)

    def record(self, measurement: Measurement, count: int) -> None:
        if count < 0:
            raise ValueError("a count cannot be negative")
        self.counts[measurement.key] = count


class AttachedContract(BaseModel):
    """The ODCS contract attached to a data product (``import_contract``): which document, and
    what of it this server checks. The document itself is stored beside the product
    (``product_contracts``); the product's ``schema`` is the contract's schema object ``table``
    as checks, and stays so: changing the schema with ``update_data_product`` detaches it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="The contract's own id")
    version: str
    api_version: str = Field(description="ODCS apiVersion, e.g. v3.1.0")
    status: str
    table: str = Field(description="The schema object whose columns are the product's schema")
    sha256: str = Field(description="Of the stored document (canonical JSON)")
    rules: int = Field(ge=0, description="Quality rules this server evaluates on files")
    unchecked: int = Field(ge=0, description="Parts of the contract reported as 'not checked'")
    attached_at: datetime
