"""The validation task kinds: ``validate-file`` and ``validate-product``.

Both are idempotent, so a rerun after a crash is harmless: validating reads files only, and a
product's outcome is recorded once per task id (:meth:`ProductService.record_validation`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from dataproduct_mcp.domain.validation import (
    DEFAULT_MAX_ERRORS,
    MAX_ERRORS_LIMIT,
    FileError,
    FileValidation,
    ValidationSummary,
)
from dataproduct_mcp.errors import DpError
from dataproduct_mcp.services.contracts import ContractService
from dataproduct_mcp.services.products import ProductService
from dataproduct_mcp.services.tasks import TaskService
from dataproduct_mcp.services.validation import VALIDATE_FILE, ValidationService

if TYPE_CHECKING:
    from dataproduct_mcp.services.task_runner import TaskContext

__all__ = ["ValidateFileParams", "ValidateProductParams", "register_validation_kinds"]


class ValidateFileParams(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: Annotated[str, Field(min_length=1, max_length=4096)]
    format: Annotated[str | None, Field(max_length=32)] = None
    schema_: Annotated[dict[str, Any] | None, Field(alias="schema")] = None
    max_errors: Annotated[int, Field(ge=1, le=MAX_ERRORS_LIMIT)] = DEFAULT_MAX_ERRORS
    encoding: Annotated[str, Field(min_length=1, max_length=40)] = "utf-8"
    contract: Annotated[str | None, Field(max_length=1024 * 1024, description="ODCS text")] = None
    contract_table: Annotated[str | None, Field(max_length=1000)] = None


class ValidateProductParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Annotated[str, Field(min_length=1, max_length=64)]


def _byte_progress(ctx: TaskContext, start: float, share: float, label: str) -> Callable[[int, int], None]:
    """A ``(bytes_done, total_bytes)`` callback (from the validation thread) mapped onto ``[start, start+share]``."""

    def report(done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        ctx.report(start + share * min(1.0, fraction), label)

    return report


async def _stat(validation: ValidationService, path: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of a product file (a source: total bytes, newest mtime), None if it cannot
    be read (the validation says why)."""
    try:
        return await anyio.to_thread.run_sync(validation.policy.state, path)
    except DpError:
        return None


def register_validation_kinds(
    tasks: TaskService, products: ProductService, validation: ValidationService, contracts: ContractService
) -> None:
    """Register both kinds. A product with an attached data contract has its files checked against
    the contract (its schema object and quality rules), else against its ``schema``."""

    async def validate_file(ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        p = ValidateFileParams.model_validate(params)
        ctx.report(0.0, f"validating {p.path}")
        report = await validation.validate(
            ctx.tenant,
            p.path,
            format=p.format,
            schema=p.schema_,
            max_errors=p.max_errors,
            encoding=p.encoding,
            contract=p.contract,
            contract_table=p.contract_table,
            progress=_byte_progress(ctx, 0.0, 1.0, f"validating {p.path}"),
            is_cancelled=ctx.is_cancelled,
        )
        ctx.checkpoint()
        return report.model_dump(mode="json")

    async def check_product(tenant: str, params: dict[str, Any]) -> None:
        await products.get(tenant, product_id=params["product_id"])  # not-found now, not in the task

    async def validate_product(ctx: TaskContext, params: dict[str, Any]) -> dict[str, Any]:
        p = ValidateProductParams.model_validate(params)
        product = await products.get(ctx.tenant, product_id=p.product_id)
        contract = await contracts.attached(ctx.tenant, product)
        table = product.contract.table if product.contract is not None else None
        schema = product.schema_.model_dump(mode="json") if product.schema_ is not None and not contract else None
        rules_failed: dict[str, int] = {}
        n = len(product.files)
        files: list[FileValidation] = []
        for i, ref in enumerate(product.files):
            ctx.checkpoint()
            label = f"file {i + 1} of {n}: {ref.path}"
            ctx.report(i / n, label)
            # Size and mtime before reading: scheduled re-validation compares them (a change during
            # the validation shows as a change next time, never the other way round).
            stat = await _stat(validation, ref.path)
            try:
                report = await validation.validate(
                    ctx.tenant,
                    ref.path,
                    format=ref.format,
                    schema=schema,
                    contract=contract,
                    contract_table=table,
                    progress=_byte_progress(ctx, i / n, 1 / n, label),
                    is_cancelled=ctx.is_cancelled,
                )
            except DpError as exc:  # a missing or disallowed file is an invalid product, not a failed task
                ctx.checkpoint()
                files.append(
                    FileValidation(
                        path=ref.path,
                        valid=False,
                        error_count=1,
                        size=stat[0] if stat else None,
                        mtime_ns=stat[1] if stat else None,
                        error=FileError(code=exc.code, message=exc.message),
                    )
                )
                continue
            if report.contract is not None:
                rules_failed[ref.path] = report.contract.failed
            files.append(
                FileValidation(
                    path=ref.path,
                    valid=report.valid,
                    error_count=report.error_count,
                    sha256=report.sha256,
                    size=stat[0] if stat else None,
                    mtime_ns=stat[1] if stat else None,
                )
            )
        ctx.checkpoint()  # the last moment to stop without an effect
        summary = ValidationSummary(
            task_id=ctx.task_id, at=datetime.now(UTC), valid=all(f.valid for f in files), files=files
        )
        updated = await products.record_validation(ctx.tenant, product.id, summary)
        file_results = [f.model_dump(mode="json") for f in files]
        for entry in file_results:
            if entry["path"] in rules_failed:
                entry["contract_rules_failed"] = rules_failed[entry["path"]]
        return {
            "product_id": product.id,
            "contract": product.contract.model_dump(mode="json", include={"id", "version", "table"})
            if product.contract is not None
            else None,
            "files": file_results,
            "valid": summary.valid,
            "status": updated.status.value,
            "revision": updated.revision,
        }

    tasks.register_kind(VALIDATE_FILE, validate_file, params_model=ValidateFileParams)
    tasks.register_kind(
        "validate-product", validate_product, params_model=ValidateProductParams, precheck=check_product
    )
