"""Declared table schemas (contract §6): the expected columns of a file and their constraints."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ColumnSpec", "ColumnType", "TableSchema"]


class ColumnType(StrEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    datetime = "datetime"


class ColumnSpec(BaseModel):
    """One expected column and the constraints every value in it must meet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=255, description="Column name as in the header.")]
    type: ColumnType = Field(ColumnType.string, description="Expected type of every non-empty value.")
    required: bool = Field(False, description="Every row must have a non-empty value.")
    unique: bool = Field(False, description="No two rows may share a value.")
    minimum: float | str | None = Field(None, description="Inclusive minimum (number, or ISO date/datetime).")
    maximum: float | str | None = Field(None, description="Inclusive maximum (number, or ISO date/datetime).")
    pattern: Annotated[
        str | None, Field(max_length=1000, description="Regular expression a value must fully match.")
    ] = None
    enum: Annotated[list[Any] | None, Field(max_length=1000, description="Allowed values.")] = None
    min_length: Annotated[int | None, Field(ge=0, description="Minimum string length.")] = None
    max_length: Annotated[int | None, Field(ge=0, description="Maximum string length.")] = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ColumnSpec:
        if self.min_length is not None and self.max_length is not None and self.min_length > self.max_length:
            raise ValueError("min_length is greater than max_length")
        if (
            isinstance(self.minimum, int | float)
            and isinstance(self.maximum, int | float)
            and self.minimum > self.maximum
        ):
            raise ValueError("minimum is greater than maximum")
        return self


class TableSchema(BaseModel):
    """`{"columns": [...]}`: the columns a file must have, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: Annotated[list[ColumnSpec], Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _names_unique(self) -> TableSchema:
        seen: set[str] = set()
        for column in self.columns:
            if column.name in seen:
                raise ValueError(f"duplicate column name {column.name!r}")
            seen.add(column.name)
        return self
