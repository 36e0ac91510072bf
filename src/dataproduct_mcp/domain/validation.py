"""Validation findings and reports (contract §6). Findings are data, not exceptions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from dataproduct_mcp.domain.limits import DEFAULT_MAX_ERRORS, MAX_ERRORS_LIMIT

__all__ = [
    "DEFAULT_MAX_ERRORS",
    "MAX_ERRORS_LIMIT",
    "ColumnInfo",
    "ContractSummary",
    "FileError",
    "FileValidation",
    "Finding",
    "FindingCode",
    "Report",
    "ValidationSummary",
]


class FindingCode(StrEnum):
    """Finding codes; frictionless names where they fit."""

    encoding_error = "encoding-error"
    format_error = "format-error"
    blank_header = "blank-header"
    duplicate_label = "duplicate-label"
    missing_label = "missing-label"
    extra_label = "extra-label"
    extra_cell = "extra-cell"
    missing_cell = "missing-cell"
    blank_row = "blank-row"
    type_error = "type-error"
    constraint_error = "constraint-error"
    unique_error = "unique-error"
    schema_mismatch = "schema-mismatch"
    checksum_error = "checksum-error"
    empty_file = "empty-file"


class Finding(BaseModel):
    """One problem, with where it is. ``row`` is the 1-based data record (header not counted),
    ``line`` the 1-based physical line, ``byte_offset`` 0-based; each is set where known."""

    model_config = ConfigDict(frozen=True)

    code: FindingCode
    message: str
    row: int | None = None
    line: int | None = None
    byte_offset: int | None = None
    column: int | None = Field(None, description="1-based column position")
    column_name: str | None = None
    value: str | None = Field(None, description="The offending value, shortened to 200 characters")
    file: str | None = Field(None, description="The file of a dataset the finding is in (datasets only)")


class ColumnInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    type: str
    nullable: bool


class ContractSummary(BaseModel):
    """The data contract a file was validated against, and how its quality rules fared (the
    failed and unchecked rules are findings in ``errors``/``warnings``)."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: str
    table: str = Field(description="The contract's schema object the file was checked against")
    rules: int = Field(ge=0, description="File-level quality rules (column constraints are checked value by value)")
    checked: int = Field(ge=0, description="Rules whose measured value was compared with the threshold")
    failed: int = Field(ge=0, description="Rules that failed (errors, or warnings for severity info/warning)")
    not_checked: int = Field(ge=0, description="Rules that could not be checked (warnings saying why)")


class Report(BaseModel):
    """The result of validating one file."""

    valid: bool
    path: str
    format: str
    media_type: str
    bytes: int
    sha256: str
    rows: int
    columns: list[ColumnInfo] = []
    errors: list[Finding] = []
    warnings: list[Finding] = []
    error_count: int = Field(0, description="True total of errors, even when `errors` is truncated")
    warning_count: int = 0
    truncated: bool = Field(False, description="More errors were found than max_errors; see error_count")
    checks: list[str] = []
    elapsed_ms: float = 0.0
    cached: bool = False
    extra: dict[str, Any] = Field(default_factory=dict, description="Format-specific facts (row groups, sheets...)")
    contract: ContractSummary | None = Field(None, description="The data contract checked (validate_file's `contract`)")
    #: the contract's counts as the validator took them (validators.measures.Measured), until the
    #: service has evaluated the rules; never serialised
    _measured: Any = PrivateAttr(None)


class FileError(BaseModel):
    """Why a product file could not be validated at all (missing, outside the roots, unsupported)."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class FileValidation(BaseModel):
    """The outcome for one product file, with the identity it had when it was read (scheduled
    re-validation compares ``size`` and ``mtime_ns``, then ``sha256``)."""

    model_config = ConfigDict(frozen=True)

    path: str
    valid: bool
    error_count: int = Field(ge=0)
    sha256: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    error: FileError | None = None


class ValidationSummary(BaseModel):
    """A product's ``last_validation``: the last ``validate_data_product`` outcome."""

    model_config = ConfigDict(frozen=True)

    task_id: str | None = Field(None, description="The task that produced it (applied once per task).")
    at: datetime = Field(description="When the outcome was recorded (UTC).")
    valid: bool = Field(description="Every file was readable and valid.")
    files: list[FileValidation] = []
