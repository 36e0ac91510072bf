"""A data contract applied to a validation (issue 13): the contract's schema object becomes the
declared schema and the counts its quality rules need become ``ValidationOptions.measurements``
(:func:`prepare_contract`); after the file (or dataset) has been validated, the rules are
evaluated on what the validator measured and their findings join the report
(:func:`apply_contract`). See docs/validation.md § Data contracts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataproduct_mcp.domain.contract import ContractStats, Measurement, Metric, QualityRule, UncheckedRule
from dataproduct_mcp.domain.validation import ContractSummary, Finding, FindingCode, Report
from dataproduct_mcp.errors import InvalidArgument
from dataproduct_mcp.validators.base import ValidationOptions

if TYPE_CHECKING:
    from dataproduct_mcp.contracts import ContractChecks, DataContract

__all__ = ["ContractRequest", "apply_contract", "prepare_contract"]


@dataclass(frozen=True)
class ContractRequest:
    """A contract ready to check files against (one schema object of it)."""

    checks: ContractChecks
    text: str  # the contract as text (a background task's parameters carry it)
    key: str  # what the findings depend on (the schema object's checks): part of the cache key

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """The counts to take; rowCount too when a rule needs it (then the row count is known to
        be of the whole file: a file not read to its end has no counts at all)."""
        needed = list(self.checks.measurements)
        if any(isinstance(r, QualityRule) and r.measurement.metric is Metric.row_count for r in self.checks.rules):
            needed.append(Measurement(metric=Metric.row_count))
        return tuple(needed)


def prepare_contract(contract: str | bytes | DataContract, table: str | None) -> ContractRequest:
    """Parse ``contract`` (ODCS YAML/JSON text, or a parsed one) and pick its schema object
    ``table`` (blocking: CPU work, run it in a worker thread). Errors are ``InvalidArgument``
    with ``field`` ``contract`` (``too-large`` over 1 MiB), or ``contract_table``."""
    from dataproduct_mcp.contracts import DataContract, contract_checks, parse_contract

    if isinstance(contract, DataContract):
        parsed, text = contract, json.dumps(contract.document, ensure_ascii=False, separators=(",", ":"))
    else:
        parsed = parse_contract(contract)
        text = contract.decode("utf-8-sig") if isinstance(contract, bytes) else contract
    try:
        checks = contract_checks(parsed, table)
    except InvalidArgument as exc:
        if exc.field != "table":
            raise
        raise InvalidArgument(exc.message, field="contract_table", suggestion=exc.suggestion) from exc
    key = hashlib.sha256(checks.model_dump_json(by_alias=True).encode()).hexdigest()
    return ContractRequest(checks=checks, text=text, key=key)


def _not_read(rule: QualityRule | UncheckedRule) -> UncheckedRule:
    if isinstance(rule, UncheckedRule):
        return rule
    return UncheckedRule(
        location=rule.location,
        what=f"{rule.measurement.metric.value} rule",
        reason="the file was not read to its end (see the errors), so nothing it counts is complete",
        column=rule.column,
    )


def apply_contract(report: Report, request: ContractRequest, options: ValidationOptions) -> Report:
    """``report`` with the contract's rule findings appended (``max_errors``/``max_warnings``
    bound the lists; the counts stay true) and its ``contract`` summary."""
    from dataproduct_mcp.contracts import evaluate_rules

    measured = report._measured  # a validators.measures.Measured, or None
    rules = request.checks.rules
    if measured is not None:
        stats = measured.final()
    else:
        rules = [_not_read(r) for r in rules]
        stats = ContractStats(rows=report.rows)
    result = evaluate_rules(rules, stats)
    errors = list(report.errors) + result.errors[: max(0, options.max_errors - len(report.errors))]
    warnings = list(report.warnings) + result.warnings[: max(0, options.max_warnings - len(report.warnings))]
    error_count = report.error_count + len(result.errors)
    failed = len(result.errors) + _count(result.warnings, FindingCode.constraint_error)
    checks = request.checks
    summary = ContractSummary(
        id=checks.contract_id,
        version=checks.contract_version,
        table=checks.table,
        rules=len(rules),
        checked=result.checked,
        failed=failed,
        not_checked=_count(result.warnings, FindingCode.schema_mismatch),
    )
    applied = report.model_copy(
        update={
            "errors": errors,
            "warnings": warnings,
            "error_count": error_count,
            "warning_count": report.warning_count + len(result.warnings),
            "valid": error_count == 0,
            "truncated": error_count > len(errors),
            "checks": [*report.checks, "contract"],
            "contract": summary,
        }
    )
    applied._measured = None  # the hashes behind the counts are not kept (nor cached)
    return applied


def _count(findings: list[Finding], code: FindingCode) -> int:
    return sum(1 for f in findings if f.code is code)
