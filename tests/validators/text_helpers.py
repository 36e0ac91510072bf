"""Helpers for the text-format validator tests (CSV, TSV, JSON, JSON Lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.domain.validation import Report
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.registry import validate_path

DATA = Path(__file__).resolve().parents[1] / "data"

Row = tuple[int | None, int | None, int | None, str]


def schema_for(path: Path) -> TableSchema | None:
    """The sidecar ``<stem>.schema.json`` next to a golden file, if any."""
    sidecar = path.parent / f"{path.name.split('.')[0]}.schema.json"
    return TableSchema.model_validate_json(sidecar.read_text()) if sidecar.exists() else None


def validate(path: Path, **options: Any) -> Report:
    options.setdefault("schema", schema_for(path))
    return validate_path(path, ValidationOptions(**options))


def table(report: Report) -> list[Row]:
    """Compact ``(row, line, column, code)`` rows of the errors, in file order."""
    return [(f.row, f.line, f.column, f.code.value) for f in report.errors]


def everything(report: Report) -> tuple[Any, ...]:
    """All of a report that two ways of validating one file must agree on (not timings, not
    implementation counters in ``extra``)."""
    return (
        [f.model_dump() for f in report.errors],
        [f.model_dump() for f in report.warnings],
        report.error_count,
        report.rows,
        [c.model_dump() for c in report.columns],
        report.sha256,
        report.valid,
    )
