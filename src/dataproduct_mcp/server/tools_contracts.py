"""Data contract tools (issue 13): import_contract, export_contract, diff_contracts, export_odps; the
contract and ODPS resources of a product. Thin: every call is one ContractService call."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import BaseModel, Field

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.contract import AttachedContract, UncheckedRule
from dataproduct_mcp.domain.contract_diff import ContractDiff
from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations
from dataproduct_mcp.services.contracts import DiffResult

MAX_CONTRACT_CHARS = 1024 * 1024  # parse_contract refuses more than 1 MiB of UTF-8 as too-large

ProductId = Annotated[
    str, Field(description="Product UUID, e.g. '0b7d7a35-1c2f-4f5e-8a9b-3c4d5e6f7a8b'.", max_length=64)
]
ContractText = Annotated[
    str,
    Field(
        description="An ODCS v3.1 data contract (apiVersion v3.0.x or v3.1.0, kind DataContract) as YAML or "
        "JSON text, at most 1 MiB. Example: 'apiVersion: v3.1.0\\nkind: DataContract\\nid: orders-contract\\n"
        "version: 1.0.0\\nstatus: active\\nschema:\\n- name: orders\\n  properties:\\n  - name: id\\n"
        "    logicalType: integer\\n    required: true'.",
        min_length=1,
        max_length=MAX_CONTRACT_CHARS,
    ),
]


class ContractDiffResult(BaseModel):
    diff: ContractDiff = Field(description="Changes (breaking ones first), the required and actual version steps.")
    changes_total: int = Field(description="Every change found (diff.changes may list fewer: see truncated).")
    truncated: bool = Field(description="True when diff.changes was cut to fit the result budget.")


class ImportContractResult(BaseModel):
    product: DataProduct = Field(description="The product, its schema now the contract's, revision + 1.")
    contract: AttachedContract
    unchecked: list[UncheckedRule] = Field(
        description="What of the contract this server does not check on files (SQL and custom rules, ...)."
    )
    unchecked_total: int
    changes: ContractDiffResult | None = Field(
        None, description="Against the product's contract before the import (none when it had no schema)."
    )


class ExportContractResult(BaseModel):
    text: str = Field(description="The ODCS v3.1 contract document.")
    format: Literal["yaml", "json"]
    source: Literal["attached", "generated"] = Field(
        description="'attached': the contract given to import_contract; 'generated': made from the product."
    )
    contract_id: str
    version: str
    sha256: str = Field(description="Of text (UTF-8).")


class ExportOdpsResult(BaseModel):
    text: str = Field(description="The ODPS v1.0.0 document (YAML), valid against the official schema.")
    unresolved_input_ports: list[dict[str, str]] = Field(
        description="Input ports that could not become ODPS input ports {ref, reason}; also in customProperties."
    )


def _diff_result(result: DiffResult) -> ContractDiffResult:
    return ContractDiffResult(diff=result.diff, changes_total=result.changes_total, truncated=result.truncated)


def register(server: DataProductServer, app: Application) -> None:
    contracts = app.contracts
    tenant = server.tenant

    @server.tool(annotations=tool_annotations("Attach a data contract to a product", read_only=False, idempotent=True))
    async def import_contract(
        product_id: ProductId,
        contract: ContractText,
        table: Annotated[
            str | None,
            Field(
                description="The contract's schema object (name or physicalName) that describes the product's "
                "files; needed when the contract has several. Example: 'orders'.",
                max_length=255,
            ),
        ] = None,
        expected_revision: Annotated[
            int | None, Field(ge=1, description="Fail with 'conflict' unless the product is at this revision.")
        ] = None,
    ) -> ImportContractResult:
        """Attach an ODCS v3.1 data contract to one of your data products. The contract is checked against
        the official ODCS JSON Schema (problems are 'invalid-argument' with field 'contract', a location such as
        schema[0].properties[2].logicalType, and up to 20 problems); the chosen schema object becomes the
        product's `schema`, and from then on validate_data_product checks the files against the contract's
        columns AND quality rules (nullValues, missingValues, invalidValues, duplicateValues, rowCount).
        `unchecked` lists what is not checked (SQL/custom rules, ...); `changes` compares with the product's
        previous contract and names breaking changes. Changing the schema later with update_data_product
        detaches the contract."""
        out = await contracts.attach(tenant(), product_id, contract, table=table, expected_revision=expected_revision)
        return ImportContractResult(
            product=out.product,
            contract=out.contract,
            unchecked=out.unchecked,
            unchecked_total=out.unchecked_total,
            changes=_diff_result(out.changes) if out.changes is not None else None,
        )

    @server.tool(annotations=tool_annotations("Export a product's data contract", read_only=True, idempotent=True))
    async def export_contract(
        product_id: ProductId,
        format: Annotated[Literal["yaml", "json"], Field(description="'yaml' (default) or 'json'.")] = "yaml",
        source: Annotated[
            Literal["auto", "attached", "generated"],
            Field(
                description="'auto': the attached contract if any, else one generated from the product's fields "
                "and schema; 'attached' or 'generated' to choose."
            ),
        ] = "auto",
    ) -> ExportContractResult:
        """A data product's ODCS v3.1 data contract as YAML or JSON text: the one attached with import_contract,
        or one generated from the product (id stable per product, valid against the official schema; the
        product's columns and constraints as properties). A document larger than DPMCP_MAX_RESULT_BYTES is
        'too-large': read the resource dataproduct://products/{id}/contract instead."""
        out = await contracts.export(tenant(), product_id, format=format, source=source)
        return ExportContractResult(
            text=out.text,
            format=out.format,
            source=out.source,
            contract_id=out.contract_id,
            version=out.version,
            sha256=out.sha256,
        )

    @server.tool(annotations=tool_annotations("Diff two data contract versions", read_only=True, idempotent=True))
    async def diff_contracts(
        new: ContractText,
        old: Annotated[
            str | None,
            Field(
                description="The earlier ODCS contract (YAML or JSON text). Give this or product_id.",
                min_length=1,
                max_length=MAX_CONTRACT_CHARS,
            ),
        ] = None,
        product_id: Annotated[
            str | None,
            Field(description="Compare `new` with this product's current contract instead of `old`.", max_length=64),
        ] = None,
    ) -> ContractDiffResult:
        """Compare two versions of an ODCS data contract and name the breaking changes: each change {kind, path,
        breaking, message} (e.g. 'property-removed' at 'orders.amount', 'range-tightened', 'required-added',
        'quality-rule-tightened'), breaking ones first, and the verdict on the version step (required_bump
        major/minor/patch/none vs actual_bump, version_ok). Give `old` or `product_id` (the product's attached
        or generated contract)."""
        return _diff_result(await contracts.diff(tenant(), new, old=old, product_id=product_id))

    @server.tool(annotations=tool_annotations("Export a product as ODPS", read_only=True, idempotent=True))
    async def export_odps(product_id: ProductId) -> ExportOdpsResult:
        """A data product as a Bitol Open Data Product Standard (ODPS) v1.0.0 YAML document, valid against the
        official schema: its output port names the product's data contract, and each input port names the
        upstream product's name, version and contract id (resolved among your products; those that cannot be
        are listed in unresolved_input_ports with the reason)."""
        out = await contracts.odps(tenant(), product_id)
        return ExportOdpsResult(text=out.text, unresolved_input_ports=out.unresolved)

    @server.resource(
        "dataproduct://products/{id}/contract",
        name="data-product-contract",
        description="A live data product's ODCS v3.1 data contract (attached, else generated) as YAML; any size.",
        mime_type="application/yaml",
    )
    async def contract_resource(id: str) -> str:
        try:
            return (await contracts.contract_text(tenant(), id)).text
        except NotFound as exc:
            raise ResourceNotFoundError(f"no data product with id {id!r}") from exc

    @server.resource(
        "dataproduct://products/{id}/odps",
        name="data-product-odps",
        description="A live data product as an ODPS v1.0.0 document (YAML); any size.",
        mime_type="application/yaml",
    )
    async def odps_resource(id: str) -> str:
        try:
            return (await contracts.odps(tenant(), id, check_budget=False)).text
        except NotFound as exc:
            raise ResourceNotFoundError(f"no data product with id {id!r}") from exc
