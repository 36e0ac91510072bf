"""Input ports in ORD: integration dependencies referenced from ``inputPorts``, valid against both
official schemas and our cross-reference checks, in one document, a split set, a publication
document (references across documents) and a ``select``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tests.ord.ord_factories import BASE_URL, NAMESPACE, make_product

from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.ord import (
    SCHEMA_VERSIONS,
    api_resource_id_for,
    build_ord_document,
    build_ord_documents,
    check_ord_document,
    check_ord_documents,
    select_document,
)
from dataproduct_mcp.ord import builder as ord_builder
from dataproduct_mcp.ord.validation import schema_validator

DELETED_AT = datetime(2025, 3, 1, tzinfo=UTC)


def build(products: list[DataProduct], **kw: Any) -> Any:
    return build_ord_document(products, namespace=NAMESPACE, base_url=BASE_URL, **kw)


def assert_schemas_accept(doc: dict) -> None:
    for version in SCHEMA_VERSIONS:
        errors = list(schema_validator(version).iter_errors(doc))
        assert not errors, (version, [e.message for e in errors[:5]])


def dep_id(product: DataProduct) -> str:
    return f"{NAMESPACE}:integrationDependency:{product.name}:v1"


def inputs_of(doc: dict) -> dict[str, list[str]]:
    """dataProduct ordId -> the upstream output ports its integration dependency's aspects name."""
    deps = {d["ordId"]: d for d in doc.get("integrationDependencies", [])}
    out = {}
    for product in doc["dataProducts"]:
        ports = product.get("inputPorts")
        if ports:
            [port] = ports
            aspects = deps[port["ordId"]]["aspects"]
            out[product["ordId"]] = [r["ordId"] for a in aspects for r in a["apiResources"]]
    return out


def test_a_derived_product_names_its_upstream_output_port_through_an_integration_dependency() -> None:
    source = make_product(1, type="primary")
    derived = make_product(2, input_ports=[source.id])
    result = build([source, derived])
    doc = result.document
    assert result.skipped == [] and result.warnings == []
    assert_schemas_accept(doc)
    assert check_ord_document(doc) == []
    [dependency] = doc["integrationDependencies"]
    assert dependency["ordId"] == dep_id(derived)
    assert {"ordId", "title", "version", "releaseStatus", "visibility", "partOfPackage", "mandatory"} <= set(dependency)
    assert dependency["mandatory"] is True and dependency["partOfPackage"] == doc["packages"][0]["ordId"]
    assert dependency["version"] == derived.version
    assert dependency["visibility"] == "internal" and dependency["releaseStatus"] == "active"
    assert inputs_of(doc) == {derived.ord_id: [api_resource_id_for(source.ord_id)]}
    assert "inputPorts" not in next(p for p in doc["dataProducts"] if p["ordId"] == source.ord_id)


def test_a_chain_by_id_and_by_ord_id_gives_one_dependency_per_consumer() -> None:
    a = make_product(1, type="primary")
    b = make_product(2, input_ports=[a.ord_id])
    c = make_product(3, input_ports=[b.id, a.id.upper(), b.ord_id])  # a UUID in any case; b named twice
    doc = build([a, b, c]).document
    assert_schemas_accept(doc)
    assert check_ord_document(doc) == []
    assert inputs_of(doc) == {
        b.ord_id: [api_resource_id_for(a.ord_id)],
        c.ord_id: [api_resource_id_for(b.ord_id), api_resource_id_for(a.ord_id)],
    }


def test_a_cycle_is_expressed_as_it_is_and_stays_valid() -> None:
    a = make_product(1, input_ports=["00000000-0000-4000-8000-000000000002"])
    b = make_product(2, input_ports=[a.id])
    result = build([a, b])
    assert result.warnings == []
    assert_schemas_accept(result.document)
    assert check_ord_document(result.document) == []
    assert inputs_of(result.document) == {
        a.ord_id: [api_resource_id_for(b.ord_id)],
        b.ord_id: [api_resource_id_for(a.ord_id)],
    }


def test_unresolved_ports_are_left_out_with_a_warning_never_an_invalid_document() -> None:
    gone = make_product(1, status="deleted", deleted_at=DELETED_AT)
    live = make_product(2, type="primary")
    partly = make_product(3, input_ports=[live.id, gone.id, "customer.dpmcp:dataProduct:nowhere:v1"])
    nothing = make_product(4, input_ports=["00000000-0000-4000-8000-000000000999"])
    result = build([gone, live, partly, nothing])
    doc = result.document
    assert_schemas_accept(doc)
    assert check_ord_document(doc) == []
    assert inputs_of(doc) == {partly.ord_id: [api_resource_id_for(live.ord_id)]}
    assert len(result.warnings) == 3
    assert sum("deleted data product" in w for w in result.warnings) == 1
    assert sum(nothing.ord_id in w for w in result.warnings) == 1


def test_a_port_naming_a_product_ord_cannot_express_is_left_out_after_the_checks() -> None:
    good = make_product(1)
    schema_only = DataProduct.model_construct(**{**good.__dict__, "homepage": "not a url"})  # passes the field checks
    derived = make_product(2, input_ports=[good.id])
    result = build([schema_only, derived])
    assert [s.product_id for s in result.skipped] == [good.id]
    assert_schemas_accept(result.document)
    assert check_ord_document(result.document) == []
    assert inputs_of(result.document) == {}
    assert any("ORD cannot express" in w for w in result.warnings)


def test_a_dependency_the_checks_refuse_is_dropped_and_its_product_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injection (no real product makes the builder emit a bad dependency): the guard that
    # keeps documents valid must take the dependency out, not publish it or lose the product.
    real = ord_builder.dependency_entry

    def broken(product: DataProduct, upstreams: list[DataProduct], *, namespace: str) -> dict | None:
        entry = real(product, upstreams, namespace=namespace)
        return None if entry is None else {**entry, "version": "not semver"}

    monkeypatch.setattr(ord_builder, "dependency_entry", broken)
    a = make_product(1)
    b = make_product(2, input_ports=[a.id])
    result = build([a, b])
    assert result.skipped == []
    assert [p["ordId"] for p in result.document["dataProducts"]] == [a.ord_id, b.ord_id]
    assert "integrationDependencies" not in result.document
    assert_schemas_accept(result.document)
    assert check_ord_document(result.document) == []
    assert any(b.ord_id in w and "input ports were left out" in w for w in result.warnings)


def test_the_publication_document_references_upstream_ports_described_in_their_own_documents() -> None:
    a = make_product(1, type="primary")
    b = make_product(2, input_ports=[a.id, "00000000-0000-4000-8000-000000000404"])
    result = build([b], references=[a])
    doc = result.document
    assert_schemas_accept(doc)
    assert [p["ordId"] for p in doc["dataProducts"]] == [b.ord_id]
    assert [r["ordId"] for r in doc["apiResources"]] == [api_resource_id_for(b.ord_id)]  # a's port not described
    assert inputs_of(doc) == {b.ord_id: [api_resource_id_for(a.ord_id)]}
    elsewhere = {api_resource_id_for(a.ord_id) or "": "apiResources"}
    assert check_ord_document(doc, described_elsewhere=elsewhere) == []
    [problem] = check_ord_document(doc)  # on its own, the reference across documents is named
    assert (
        problem.check == "cross-reference"
        and problem.path == "/integrationDependencies/0/aspects/0/apiResources/0/ordId"
    )
    # a's own publication document describes that port, so both together are one valid set.
    own = build([a]).document
    assert check_ord_documents([own, {k: v for k, v in doc.items() if k != "packages"}]) == []


def test_a_deleted_product_with_inputs_tombstones_its_integration_dependency() -> None:
    a = make_product(1)
    b = make_product(2, input_ports=[a.id], status="deleted", deleted_at=DELETED_AT)
    doc = build([a, b]).document
    assert_schemas_accept(doc)
    assert check_ord_document(doc) == []
    assert {t["ordId"] for t in doc["tombstones"]} == {b.ord_id, api_resource_id_for(b.ord_id), dep_id(b)}


def test_cross_reference_checks_catch_dangling_input_ports_and_aspects() -> None:
    a = make_product(1)
    b = make_product(2, input_ports=[a.id])
    doc = build([a, b]).document
    doc["dataProducts"][0]["inputPorts"] = [{"ordId": f"{NAMESPACE}:integrationDependency:nothing:v1"}]
    doc["integrationDependencies"][0]["aspects"][0]["apiResources"].append(
        {"ordId": f"{NAMESPACE}:apiResource:nowhere:v1"}
    )
    doc["integrationDependencies"][0]["aspects"].append(
        {"title": "Events", "mandatory": False, "eventResources": [{"ordId": f"{NAMESPACE}:eventResource:none:v1"}]}
    )
    doc["integrationDependencies"][0]["partOfPackage"] = f"{NAMESPACE}:package:Missing:v1"
    assert_schemas_accept(doc)  # the schemas cannot see any of it
    problems = [p for p in check_ord_document(doc) if p.check == "cross-reference"]
    assert {p.path for p in problems} == {
        "/dataProducts/0/inputPorts/0/ordId",
        "/integrationDependencies/0/aspects/0/apiResources/1/ordId",
        "/integrationDependencies/0/aspects/1/eventResources/0/ordId",
        "/integrationDependencies/0/partOfPackage",
    }
    described = {api_resource_id_for(a.ord_id) or "": "apiResources"}  # described here: claiming it elsewhere is wrong
    assert any(
        "also described" in p.message for p in check_ord_document(build([a, b]).document, described_elsewhere=described)
    )


def test_a_split_set_resolves_inputs_across_its_documents() -> None:
    products = [make_product(1, type="primary", description="Long text. " * 1400)]
    for i in range(2, 301):
        products.append(make_product(i, description="Long text. " * 1400, input_ports=[products[-1].id]))
    result = build_ord_documents(products, namespace=NAMESPACE, base_url=BASE_URL)
    docs = result.documents
    assert len(docs) >= 2 and result.skipped == [] and result.warnings == []
    assert check_ord_documents(docs) == []
    assert sum(len(d.get("integrationDependencies", [])) for d in docs) == 299
    for doc in docs:
        assert_schemas_accept(doc)
        # a product and its dependency are always in the same document
        local = {d["ordId"] for d in doc.get("integrationDependencies", [])}
        assert all(p["inputPorts"][0]["ordId"] in local for p in doc["dataProducts"] if "inputPorts" in p)


def test_select_returns_a_derived_product_with_its_ports_and_dependency() -> None:
    a = make_product(1, type="primary")
    b = make_product(2, input_ports=[a.id])
    c = make_product(3, input_ports=[b.id])
    doc = build([a, b, c]).document
    selected = select_document(doc, b.ord_id)
    assert [p["ordId"] for p in selected["dataProducts"]] == [b.ord_id]
    assert [r["ordId"] for r in selected["apiResources"]] == [api_resource_id_for(b.ord_id)]
    assert [d["ordId"] for d in selected["integrationDependencies"]] == [dep_id(b)]
    assert len(selected["packages"]) == 1 and "tombstones" not in selected
    assert_schemas_accept(selected)
    upstream_port = {api_resource_id_for(a.ord_id) or "": "apiResources"}
    assert check_ord_document(selected, described_elsewhere=upstream_port) == []
    only_dependency = select_document(doc, dep_id(c))
    assert [d["ordId"] for d in only_dependency["integrationDependencies"]] == [dep_id(c)]
    assert "dataProducts" not in only_dependency and len(only_dependency["packages"]) == 1
