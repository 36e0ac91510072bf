"""Data product use cases: register (idempotent), get, list/search, update (optimistic), delete (soft)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from pydantic import ValidationError

from dataproduct_mcp.domain.audit import AuditEvent, AuditKind
from dataproduct_mcp.domain.contract import AttachedContract
from dataproduct_mcp.domain.products import (
    DataProduct,
    DataProductFields,
    DataProductPatch,
    ProductStatus,
    content_hash,
    ord_id_for,
    semver_key,
)
from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.domain.validation import ValidationSummary
from dataproduct_mcp.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PathNotAllowed, TooLarge
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.base import ContractDocument, ProductFilter, Store
from dataproduct_mcp.services.audit import AuditLog
from dataproduct_mcp.services.files import PathPolicy
from dataproduct_mcp.services.paging import CursorCodec, CursorKey

__all__ = ["ListResult", "ProductService", "invalid_argument_from"]

log = get_logger(__name__)

MAX_PAGE = 100
MAX_PRODUCT_BYTES = 32 * 1024  # one product always fits in one tool result


_PATTERN_HINTS = {
    "version": "a SemVer 2.0.0 version such as 1.2.3 or 2.0.0-beta.1",
    "name": "letters, digits, '.', '_' and '-' only (an ORD resource name), e.g. sales-orders",
    "language": "a BCP 47 language tag such as en or de-CH",
}


def _problem(err: Any) -> str:
    if err.get("type") == "string_pattern_mismatch":
        last = str(err["loc"][-1]) if err["loc"] else ""
        return f"must be {_PATTERN_HINTS.get(last, 'in the documented format')}"
    return str(err["msg"])


def invalid_argument_from(exc: ValidationError, prefix: str = "") -> InvalidArgument:
    """A pydantic ValidationError as ``invalid-argument`` naming the first offending field
    (and listing up to 20 problems)."""
    errors = exc.errors()
    problems = [
        {
            "field": ".".join(filter(None, [prefix, *(str(p) for p in e["loc"])])) or "arguments",
            "problem": _problem(e),
        }
        for e in errors[:20]
    ]
    first = problems[0]
    field = first["field"] if first["field"] != "arguments" else None
    return InvalidArgument(f"{first['field']}: {first['problem']}", field=field, problems=problems)


@dataclass(frozen=True)
class ListResult:
    items: list[DataProduct]
    next_cursor: str | None
    total: int


class ProductService:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        policy: PathPolicy,
        *,
        namespace: str,
        cursor_secret: bytes | CursorKey,
        max_result_bytes: int = 64 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.audit = audit
        self.policy = policy  # product files must lie inside the allowed roots
        self.namespace = namespace
        self.cursors = CursorCodec(cursor_secret, purpose=b"products")
        self.clock = clock
        self.max_result_bytes = max_result_bytes

    def _audit_event(self, kind: AuditKind, product: DataProduct, before: int | None, **detail: Any) -> AuditEvent:
        return self.audit.event(
            kind,
            product.tenant,
            product_id=product.id,
            ord_id=product.ord_id,
            before_revision=before,
            after_revision=product.revision,
            detail=detail,
        )

    def _mirror(self, event: AuditEvent) -> None:
        self.audit.mirror(event)

    async def _get_or_miss(self, tenant: str, product_id: str) -> DataProduct:
        """get_product, recording a cross-tenant miss when the id belongs to another tenant."""
        try:
            return await self.store.get_product(tenant, product_id)
        except NotFound:
            if await self.store.product_exists_in_other_tenant(tenant, product_id):
                await self.audit.record(AuditKind.cross_tenant_miss, tenant, product_id=product_id)
            raise

    @staticmethod
    def _check_size(product: DataProduct, suggestion: str | None = None) -> None:
        size = len(product.model_dump_json(by_alias=True).encode())
        if size > MAX_PRODUCT_BYTES:
            raise TooLarge(
                f"the data product would be {size} bytes as JSON; the limit is {MAX_PRODUCT_BYTES}",
                size=size,
                limit=MAX_PRODUCT_BYTES,
                suggestion=suggestion
                or "Shorten the description or move long lists (files, labels) into fewer entries.",
            )

    async def _check_files(self, fields: DataProductFields, prefix: str = "") -> None:
        """Every file path must lie inside the allowed roots (it may not exist yet): refused now,
        naming the field, rather than found unreadable at validation or streaming time."""
        paths = [ref.path for ref in fields.files]

        def outside() -> list[tuple[int, PathNotAllowed]]:
            out = []
            for i, path in enumerate(paths):
                try:
                    self.policy.check(path)  # a file, directory, glob, s3:// URI or Delta table
                except PathNotAllowed as exc:
                    out.append((i, exc))
            return out

        refused = await anyio.to_thread.run_sync(outside) if paths else []
        if refused:
            i, exc = refused[0]
            raise InvalidArgument(
                f"{prefix}files[{i}].path: {exc.message}",
                field=f"{prefix}files[{i}].path",
                problems=[{"field": f"{prefix}files[{j}].path", "problem": e.message} for j, e in refused[:20]],
                suggestion=exc.suggestion,
            )

    async def register(self, tenant: str, arguments: Mapping[str, Any]) -> tuple[DataProduct, bool]:
        """Create a draft product; the same identity and content again returns the existing one
        (``created`` False); the same identity with other content is ``already-exists``."""
        try:
            fields = DataProductFields.model_validate(dict(arguments))
        except ValidationError as exc:
            raise invalid_argument_from(exc) from exc
        await self._check_files(fields)
        ord_id = ord_id_for(self.namespace, fields.name, fields.version)
        digest = content_hash(fields)
        existing = await self.store.find_live_identity(tenant, ord_id)
        if existing is not None:
            return self._same_or_conflict(existing, digest, ord_id)
        now = self.clock()
        product = DataProduct(
            **fields.model_dump(by_alias=True),
            id=str(uuid.uuid4()),
            ord_id=ord_id,
            tenant=tenant,
            namespace=self.namespace,
            revision=1,
            status=ProductStatus.draft,
            created_at=now,
            updated_at=now,
        )
        self._check_size(product)
        event = self._audit_event(AuditKind.product_created, product, None)
        try:
            await self.store.insert_product(product, digest, audit=event)
        except AlreadyExists:
            # A concurrent register of the same identity won the race: same rules apply.
            existing = await self.store.find_live_identity(tenant, ord_id)
            if existing is None:
                raise
            return self._same_or_conflict(existing, digest, ord_id)
        self._mirror(event)
        log.info("registered data product %s (%s)", product.id, ord_id)
        return product, True

    @staticmethod
    def _same_or_conflict(existing: tuple[DataProduct, str], digest: str, ord_id: str) -> tuple[DataProduct, bool]:
        product, stored_digest = existing
        if stored_digest == digest:
            return product, False
        raise AlreadyExists(
            f"data product {ord_id} already exists with different content",
            id=product.id,
            ord_id=ord_id,
            suggestion=(
                "Use update_data_product with id and expected_revision to change it, "
                "or choose another name or major version."
            ),
        )

    async def get(self, tenant: str, *, product_id: str | None = None, ord_id: str | None = None) -> DataProduct:
        if (product_id is None) == (ord_id is None):
            raise InvalidArgument("give exactly one of id or ord_id", field="id")
        if product_id is not None:
            return await self._get_or_miss(tenant, product_id)
        assert ord_id is not None
        return await self.store.get_product_by_ord_id(tenant, ord_id)

    async def list(
        self,
        tenant: str,
        *,
        query: str | None = None,
        tags: list[str] | None = None,
        status: ProductStatus | None = None,
        owner: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> ListResult:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidArgument(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        flt = ProductFilter(
            query=(query or "").strip() or None,
            tags=tuple(sorted(set(tags or []))),
            status=status,
            owner=owner,
        )
        key = {"q": flt.query, "t": flt.tags, "s": flt.status, "o": flt.owner}
        after = self.cursors.decode(cursor, key) if cursor else None
        page = await self.store.list_products(tenant, flt, limit, after)
        items, next_after = page.items, page.next_after
        # Never exceed the result budget: end the page early and let the cursor resume there.
        budget = self.max_result_bytes - 1024
        used = 0
        for i, item in enumerate(items):
            used += len(item.model_dump_json(by_alias=True).encode()) + 2
            if used > budget and i > 0:
                items, next_after = items[:i], page.positions[i - 1]
                break
        next_cursor = self.cursors.encode(next_after, key) if next_after is not None else None
        return ListResult(items=items, next_cursor=next_cursor, total=page.total)

    async def update(
        self, tenant: str, product_id: str, patch: Mapping[str, Any], expected_revision: int
    ) -> DataProduct:
        try:
            parsed = DataProductPatch.model_validate(dict(patch))
        except ValidationError as exc:
            raise invalid_argument_from(exc, "patch") from exc
        if not parsed.model_fields_set:
            raise InvalidArgument("patch is empty: name at least one field to change", field="patch")
        current = await self._get_or_miss(tenant, product_id)
        changes = parsed.model_dump(by_alias=True, include=parsed.model_fields_set)
        if "name" in changes and changes["name"] != current.name:
            raise InvalidArgument(
                "name is part of the product's identity and cannot change",
                field="patch.name",
                suggestion="Register a new data product under the new name and delete this one.",
            )
        merged = current.fields().model_dump(by_alias=True)
        for key, value in changes.items():
            default = DataProductFields.model_fields[key if key != "schema" else "schema_"].get_default(
                call_default_factory=True
            )
            merged[key] = default if value is None else value
        try:
            fields = DataProductFields.model_validate(merged)
        except ValidationError as exc:
            raise invalid_argument_from(exc, "patch") from exc
        if "files" in changes:
            await self._check_files(fields, "patch.")
        self._check_version_step(current.version, fields.version)
        # The product's schema is its attached contract's: a new schema detaches the contract.
        detach = current.contract is not None and "schema" in changes and fields.schema_ != current.schema_
        product = current.model_copy(
            update={
                **{k: getattr(fields, k) for k in DataProductFields.model_fields},
                "revision": current.revision + 1,
                "updated_at": self.clock(),
                "contract": None if detach else current.contract,
            }
        )
        self._check_size(product)
        detail: dict[str, Any] = {"fields": sorted(parsed.model_fields_set)}
        if detach:
            assert current.contract is not None
            detail["contract_detached"] = current.contract.id
        event = self._audit_event(AuditKind.product_updated, product, current.revision, **detail)
        await self.store.replace_product(product, expected_revision, content_hash(fields), audit=event)
        self._mirror(event)
        log.info("updated data product %s to revision %d", product.id, product.revision)
        return product

    async def attach_contract(
        self,
        tenant: str,
        product_id: str,
        schema: TableSchema,
        contract: AttachedContract,
        document: ContractDocument,
        expected_revision: int | None = None,
    ) -> DataProduct:
        """Attach an ODCS contract: its document is stored beside the product and ``schema`` (the
        contract's checks) becomes the product's schema, in one unit of work (revision + 1)."""
        current = await self._get_or_miss(tenant, product_id)
        product = current.model_copy(
            update={
                "schema_": schema,
                "contract": contract,
                "revision": current.revision + 1,
                "updated_at": contract.attached_at,
            }
        )
        self._check_size(
            product,
            "The contract's schema object has too many columns for one product (about 190 fit): split it into "
            "several schema objects and attach one per product, or validate files with validate_file's contract.",
        )
        event = self._audit_event(
            AuditKind.product_updated,
            product,
            current.revision,
            fields=["contract", "schema"],
            contract_id=contract.id,
            contract_version=contract.version,
        )
        revision = current.revision if expected_revision is None else expected_revision
        await self.store.replace_product(
            product, revision, content_hash(product.fields()), audit=event, contract=document
        )
        self._mirror(event)
        log.info("attached contract %s %s to data product %s", contract.id, contract.version, product.id)
        return product

    @staticmethod
    def _check_version_step(old: str, new: str) -> None:
        if old == new:
            return
        old_key, new_key = semver_key(old), semver_key(new)
        if new_key[0] != old_key[0]:
            raise InvalidArgument(
                f"version {new} changes the major version of {old}",
                field="patch.version",
                suggestion="A new major version is a new ORD resource: register it as a new data product.",
            )
        if new_key < old_key:
            raise InvalidArgument(
                f"version {new} is lower than the current {old}",
                field="patch.version",
                suggestion="Versions only move forward (SemVer precedence).",
            )

    async def record_validation(
        self, tenant: str, product_id: str, validation: ValidationSummary, *, attempts: int = 5
    ) -> DataProduct:
        """Store a validation outcome as ``last_validation`` and move ``status``: ``validated`` when
        every file is valid (a published product stays published), else back to ``draft``
        (deprecated products keep their status). Bumps the revision with optimistic concurrency,
        re-reading on a conflict. Idempotent per ``validation.task_id``: a task that reruns after
        a crash does not apply its outcome twice."""
        for attempt in range(attempts):
            current = await self.store.get_product(tenant, product_id)
            last = current.last_validation
            if validation.task_id is not None and last is not None and last.task_id == validation.task_id:
                return current  # already applied by an earlier run of the same task
            status = current.status
            if status is not ProductStatus.deprecated:
                if not validation.valid:
                    status = ProductStatus.draft
                elif status is ProductStatus.draft:
                    status = ProductStatus.validated
            product = current.model_copy(
                update={
                    "last_validation": validation,
                    "status": status,
                    "revision": current.revision + 1,
                    "updated_at": self.clock(),
                }
            )
            try:
                await self.store.replace_product(product, current.revision, content_hash(current.fields()))
            except Conflict:
                if attempt == attempts - 1:
                    raise
                log.info("product %s changed during validation; re-reading (attempt %d)", product_id, attempt + 1)
                continue
            log.info(
                "recorded validation of product %s: valid=%s, status %s", product_id, validation.valid, status.value
            )
            return product
        raise AssertionError("unreachable")

    async def delete(self, tenant: str, product_id: str, expected_revision: int | None = None) -> DataProduct:
        current = await self._get_or_miss(tenant, product_id)
        now = self.clock()
        product = current.model_copy(
            update={
                "status": ProductStatus.deleted,
                "deleted_at": now,
                "updated_at": now,
                "revision": current.revision + 1,
            }
        )
        revision = current.revision if expected_revision is None else expected_revision
        event = self._audit_event(AuditKind.product_deleted, product, current.revision)
        await self.store.replace_product(product, revision, content_hash(current.fields()), audit=event)
        self._mirror(event)
        log.info("deleted data product %s", product.id)
        return product
