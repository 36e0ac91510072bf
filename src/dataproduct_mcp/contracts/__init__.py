"""Data contracts (issue 13): Bitol ODCS v3.1 contracts in and out, their checks, their diffs,
and products as Bitol ODPS v1.0.0 documents. Pure functions over text and models: no I/O beyond
the bundled schemas (see docs/contracts.md).

Public surface::

    parse_contract(text: str | bytes) -> DataContract                 (TooLarge / InvalidArgument, field "contract")
    contract_checks(contract, table: str | None = None) -> ContractChecks(schema: TableSchema, rules, measurements)
    evaluate_rules(rules, stats: ContractStats) -> RuleEvaluation(errors, warnings, checked)
    measurements_for(rules) -> list[Measurement]                       (what a validator must count)
    product_to_contract(product: DataProduct) -> dict                  (ODCS v3.1.0, fixed key order)
    dump_contract(doc, format: "yaml" | "json" = "yaml") -> str
    contract_id_for(product) -> str                                    (stable UUID of a product's contract)
    diff_contracts(old: DataContract, new: DataContract) -> ContractDiff(changes, breaking, verdict, ...)
    product_to_odps(product, *, upstream: Mapping[str, DataProduct] | None = None) -> str   (ODPS v1.0.0 YAML)
    odps_document(product, *, upstream=None) -> dict;  odps_problems(doc) -> list[{location, problem}]

The rule and measurement types (QualityRule, UncheckedRule, Measurement, ContractStats) live in
:mod:`dataproduct_mcp.domain.contract`, where validators can reach them.
"""

from __future__ import annotations

from dataproduct_mcp.contracts.changes import Change, ChangeKind
from dataproduct_mcp.contracts.diff import ContractDiff, diff_contracts
from dataproduct_mcp.contracts.documents import MAX_BYTES, MAX_DEPTH, MAX_NODES
from dataproduct_mcp.contracts.export import contract_id_for, dump_contract, product_to_contract
from dataproduct_mcp.contracts.mapping import ContractChecks, contract_checks
from dataproduct_mcp.contracts.odps import ODPS_VERSION, odps_document, odps_problems, product_to_odps
from dataproduct_mcp.contracts.parse import ODCS_VERSION, SUPPORTED_API_VERSIONS, DataContract, parse_contract
from dataproduct_mcp.contracts.rules import RuleEvaluation, evaluate_rules, measurements_for

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "ODCS_VERSION",
    "ODPS_VERSION",
    "SUPPORTED_API_VERSIONS",
    "Change",
    "ChangeKind",
    "ContractChecks",
    "ContractDiff",
    "DataContract",
    "RuleEvaluation",
    "contract_checks",
    "contract_id_for",
    "diff_contracts",
    "dump_contract",
    "evaluate_rules",
    "measurements_for",
    "odps_document",
    "odps_problems",
    "parse_contract",
    "product_to_contract",
    "product_to_odps",
]
