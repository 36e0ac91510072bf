"""Data contracts of products (issue 13): attach an ODCS v3.1 contract to a product, export a
product's contract, diff two contract versions, export a product as Bitol ODPS v1.0.0.

A product has at most one attached contract. Attaching parses and checks the document
(:func:`~dataproduct_mcp.contracts.parse_contract`: size, syntax, the official schema), turns
one of its schema objects into the product's ``schema`` and stores the document beside the
product in the same unit of work; from then on the product's files are validated against the
contract's schema *and* quality rules, and ``export_contract`` gives the document back. A product
without one exports the contract generated from its fields and schema
(:func:`~dataproduct_mcp.contracts.product_to_contract`). Changing the product's schema with
``update_data_product`` detaches the contract (:mod:`.products`), so the two never disagree.

The contracts library (jsonschema, PyYAML, the ODCS models) is imported on first use, not at
start. Parsing is CPU work (a large contract takes seconds): it runs in a worker thread, and parsed
stored documents are remembered by sha256 (a few, bounded). Results that would not fit the tool
result budget are ``too-large`` with a pointer to the product's contract resource, never cut
into invalid YAML; diffs keep their true counts and list the breaking changes first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import anyio
from cachetools import LRUCache

from dataproduct_mcp.domain.contract import AttachedContract, QualityRule, UncheckedRule
from dataproduct_mcp.domain.contract_diff import ContractDiff
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import Internal, InvalidArgument, TooLarge
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.persistence.base import ContractDocument, Store
from dataproduct_mcp.services.lineage import LineageService
from dataproduct_mcp.services.products import ProductService

if TYPE_CHECKING:
    from dataproduct_mcp.contracts import DataContract

__all__ = [
    "ContractExport",
    "ContractImport",
    "ContractService",
    "DiffResult",
    "OdpsExport",
    "contract_resource_uri",
    "odps_resource_uri",
]

log = get_logger(__name__)

ContractFormat = Literal["yaml", "json"]
ContractSource = Literal["auto", "attached", "generated"]
MAX_UNCHECKED = 50  # "not checked" entries listed in an import result (the count is always true)
_ENVELOPE = 2048  # room for the result's other fields and the JSON-RPC envelope


def contract_resource_uri(product_id: str) -> str:
    return f"dataproduct://products/{product_id}/contract"


def odps_resource_uri(product_id: str) -> str:
    return f"dataproduct://products/{product_id}/odps"


@dataclass(frozen=True)
class ContractImport:
    product: DataProduct
    contract: AttachedContract
    unchecked: list[UncheckedRule]
    unchecked_total: int
    changes: DiffResult | None  # against the product's contract before the import (None: it had none)


@dataclass(frozen=True)
class ContractExport:
    text: str
    format: ContractFormat
    source: Literal["attached", "generated"]
    contract_id: str
    version: str
    sha256: str  # of ``text``


@dataclass(frozen=True)
class OdpsExport:
    text: str
    unresolved: list[dict[str, str]]  # input ports that could not be ODPS input ports, with why


@dataclass(frozen=True)
class DiffResult:
    diff: ContractDiff  # ``changes`` may be cut to fit; every count is the true one
    changes_total: int
    truncated: bool


def _canonical(contract: DataContract) -> ContractDocument:
    text = json.dumps(contract.document, ensure_ascii=False, separators=(",", ":"))
    return ContractDocument(sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), document=text)


def fit_diff(diff: ContractDiff, budget: int) -> DiffResult:
    """``diff`` with its changes (breaking ones first) cut so that its JSON fits ``budget`` bytes."""
    total = len(diff.changes)
    ordered = sorted(diff.changes, key=lambda c: not c.breaking)  # stable: breaking first, in order
    fitted = diff.model_copy(update={"changes": ordered})
    if len(fitted.model_dump_json()) <= budget:
        return DiffResult(diff=fitted, changes_total=total, truncated=False)
    low, high = 0, total  # the most changes that fit: binary search on the prefix length
    while low < high:
        mid = (low + high + 1) // 2
        if len(diff.model_copy(update={"changes": ordered[:mid]}).model_dump_json()) <= budget:
            low = mid
        else:
            high = mid - 1
    return DiffResult(diff=diff.model_copy(update={"changes": ordered[:low]}), changes_total=total, truncated=True)


class ContractService:
    def __init__(
        self,
        store: Store,
        products: ProductService,
        lineage: LineageService,
        *,
        max_result_bytes: int = 64 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.products = products
        self.lineage = lineage
        self.max_result_bytes = max_result_bytes
        self.clock = clock
        self._parsed: LRUCache[str, DataContract] = LRUCache(maxsize=16)

    @property
    def _budget(self) -> int:
        return self.max_result_bytes - _ENVELOPE

    # -- reading ------------------------------------------------------------------------------

    @staticmethod
    async def parse(text: str | bytes, field: str = "contract") -> DataContract:
        """Parse contract text in a worker thread; problems name ``field``."""
        from dataproduct_mcp.contracts import parse_contract

        try:
            return await anyio.to_thread.run_sync(parse_contract, text)
        except InvalidArgument as exc:
            if field != "contract":
                exc.field = exc.context["field"] = field
            raise

    async def attached(self, tenant: str, product: DataProduct) -> DataContract | None:
        """The contract attached to ``product`` (parsed; remembered by sha256), None without one."""
        if product.contract is None:
            return None
        cached = self._parsed.get(product.contract.sha256)
        if cached is not None:
            return cached
        from dataproduct_mcp.contracts import parse_contract

        stored = await self.store.get_contract(tenant, product.id)
        if stored is None or stored.sha256 != product.contract.sha256:
            raise Internal(f"the contract attached to data product {product.id} is missing from the store")
        contract = await anyio.to_thread.run_sync(parse_contract, stored.document)
        self._parsed[stored.sha256] = contract
        return contract

    async def current(self, tenant: str, product: DataProduct) -> tuple[DataContract, Literal["attached", "generated"]]:
        """The product's contract: the attached one, else the one its fields and schema make."""
        contract = await self.attached(tenant, product)
        if contract is not None:
            return contract, "attached"
        from dataproduct_mcp.contracts import dump_contract, parse_contract, product_to_contract

        text = dump_contract(product_to_contract(product), "json")
        return await anyio.to_thread.run_sync(parse_contract, text), "generated"

    # -- use cases ----------------------------------------------------------------------------

    async def attach(
        self,
        tenant: str,
        product_id: str,
        text: str,
        *,
        table: str | None = None,
        expected_revision: int | None = None,
    ) -> ContractImport:
        from dataproduct_mcp.contracts import contract_checks, diff_contracts

        product = await self.products.get(tenant, product_id=product_id)
        contract = await self.parse(text)
        checks = await anyio.to_thread.run_sync(contract_checks, contract, table)
        before = None
        if product.contract is not None or product.schema_ is not None:
            previous, _ = await self.current(tenant, product)
            before = fit_diff(await anyio.to_thread.run_sync(diff_contracts, previous, contract), self._budget // 2)
        unchecked = [r for r in checks.rules if isinstance(r, UncheckedRule)]
        document = _canonical(contract)
        ref = AttachedContract(
            id=contract.id,
            version=contract.version,
            api_version=contract.api_version,
            status=contract.status,
            table=checks.table,
            sha256=document.sha256,
            rules=sum(isinstance(r, QualityRule) for r in checks.rules),
            unchecked=len(unchecked),
            attached_at=self.clock(),
        )
        if (
            product.contract is not None
            and (product.contract.sha256, product.contract.table) == (document.sha256, checks.table)
            and product.schema_ == checks.schema_
        ):  # the same contract again: nothing changes (the call is idempotent)
            return ContractImport(product, product.contract, unchecked[:MAX_UNCHECKED], len(unchecked), before)
        updated = await self.products.attach_contract(
            tenant, product.id, checks.schema_, ref, document, expected_revision
        )
        self._parsed[document.sha256] = contract
        return ContractImport(
            product=updated,
            contract=ref,
            unchecked=unchecked[:MAX_UNCHECKED],
            unchecked_total=len(unchecked),
            changes=before,
        )

    async def export(
        self, tenant: str, product_id: str, *, format: ContractFormat = "yaml", source: ContractSource = "auto"
    ) -> ContractExport:
        """The product's contract as text, within the tool result budget."""
        exported = await self.contract_text(tenant, product_id, format=format, source=source)
        self._check_fits(exported.text, product_id, contract_resource_uri(product_id))
        return exported

    async def contract_text(
        self, tenant: str, product_id: str, *, format: ContractFormat = "yaml", source: ContractSource = "auto"
    ) -> ContractExport:
        """The product's contract as text, whatever its size (the resource reads this)."""
        from dataproduct_mcp.contracts import dump_contract, product_to_contract

        product = await self.products.get(tenant, product_id=product_id)
        if source == "attached" and product.contract is None:
            raise InvalidArgument(
                f"data product {product.id} has no attached contract",
                field="source",
                suggestion="Attach one with import_contract, or ask for source 'generated' (or 'auto').",
            )
        contract = None if source == "generated" else await self.attached(tenant, product)
        if contract is not None:
            text, kind = dump_contract(dict(contract.document), format), "attached"
            contract_id, version = contract.id, contract.version
        else:
            doc = product_to_contract(product)
            text, kind = dump_contract(doc, format), "generated"
            contract_id, version = str(doc["id"]), str(doc["version"])
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return ContractExport(text, format, kind, contract_id, version, digest)  # type: ignore[arg-type]

    async def diff(self, tenant: str, new: str, *, old: str | None = None, product_id: str | None = None) -> DiffResult:
        if (old is None) == (product_id is None):
            raise InvalidArgument(
                "give exactly one of old (contract text) and product_id (its current contract)",
                field="old" if old is None else "product_id",
                suggestion="Pass the earlier contract as old, or the product whose contract new would replace.",
            )
        new_contract = await self.parse(new, "new")
        if old is not None:
            old_contract = await self.parse(old, "old")
        else:
            assert product_id is not None
            product = await self.products.get(tenant, product_id=product_id)
            old_contract, _ = await self.current(tenant, product)
        from dataproduct_mcp.contracts import diff_contracts

        diff = await anyio.to_thread.run_sync(diff_contracts, old_contract, new_contract)
        return fit_diff(diff, self._budget)

    async def odps(self, tenant: str, product_id: str, *, check_budget: bool = True) -> OdpsExport:
        """The product as ODPS v1.0.0 YAML; its input ports resolved through lineage."""
        from dataproduct_mcp.contracts.documents import dump_yaml
        from dataproduct_mcp.contracts.odps import odps_document, odps_problems

        product = await self.products.get(tenant, product_id=product_id)
        upstream: dict[str, DataProduct | str] = dict(await self.lineage.resolve_ports(tenant, product))
        doc = odps_document(product, upstream=upstream)
        problems = odps_problems(doc)
        if problems:  # never hand out a document the official schema refuses
            raise Internal(f"the ODPS document of {product.id} fails the ODPS v1.0.0 schema: {problems[:3]}")
        text = dump_yaml(doc)
        if check_budget:
            self._check_fits(text, product.id, odps_resource_uri(product.id))
        custom = {e["property"]: e["value"] for e in doc.get("customProperties", [])}
        unresolved: list[dict[str, str]] = custom.get("unresolvedInputPorts", [])
        return OdpsExport(text=text, unresolved=list(unresolved))

    def _check_fits(self, text: str, product_id: str, uri: str) -> None:
        size = len(json.dumps(text, ensure_ascii=False).encode("utf-8"))
        if size > self._budget:
            raise TooLarge(
                f"the document of data product {product_id} is {size} bytes, more than one tool result holds",
                size=size,
                limit=self._budget,
                suggestion=f"Read the resource {uri} (resources/read), which has no result budget.",
            )
