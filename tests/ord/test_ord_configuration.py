"""The ORD configuration (well-known endpoint) and the select capability."""

from __future__ import annotations

import pytest
from tests.ord.ord_factories import BASE_URL, NAMESPACE, make_product

from dataproduct_mcp.errors import InvalidArgument, NotFound
from dataproduct_mcp.ord import (
    BASIC_AUTH,
    SELECT_HTTP_STATUS,
    bearer_access_strategy,
    build_ord_configuration,
    build_ord_documents,
    check_ord_configuration,
    check_ord_document,
    document_urls,
    select_configuration,
    select_document,
)


def test_the_configuration_validates_against_both_schemas() -> None:
    config = build_ord_configuration(BASE_URL, document_urls(3))
    assert check_ord_configuration(config) == []
    v1 = config["openResourceDiscoveryV1"]
    assert [d["url"] for d in v1["documents"]] == [
        "/open-resource-discovery/v1/documents/1",
        "/open-resource-discovery/v1/documents/2",
        "/open-resource-discovery/v1/documents/3",
    ]
    assert v1["documents"][0]["accessStrategies"] == [{"type": "open"}]
    assert v1["capabilities"] == {"selector": True}
    assert config["baseUrl"] == BASE_URL


def test_auth_access_strategies_validate() -> None:
    config = build_ord_configuration(BASE_URL + "/", document_urls(1), [bearer_access_strategy(NAMESPACE), BASIC_AUTH])
    assert check_ord_configuration(config) == []
    assert config["baseUrl"] == BASE_URL


def test_a_bad_configuration_is_caught() -> None:
    config = build_ord_configuration(BASE_URL, document_urls(1))
    config["openResourceDiscoveryV1"]["documents"][0]["accessStrategies"] = []
    config["baseUrl"] = "http://localhost:8080"
    paths = {p.path for p in check_ord_configuration(config)}
    assert {"/baseUrl", "/openResourceDiscoveryV1/documents/0/accessStrategies"} <= paths
    with pytest.raises(ValueError, match="127.0.0.1"):
        build_ord_configuration("http://localhost:8080", document_urls(1))


def split_build():  # type: ignore[no-untyped-def]
    products = [make_product(i) for i in range(1, 41)]
    return build_ord_documents(products, namespace=NAMESPACE, base_url=BASE_URL, max_bytes=30_000).documents


def test_select_on_the_configuration_lists_only_the_document_holding_the_resource() -> None:
    docs = split_build()
    config = build_ord_configuration(BASE_URL, document_urls(len(docs)))
    target = docs[-1]["dataProducts"][0]["ordId"]
    selected = select_configuration(config, docs, target)
    assert [d["url"] for d in selected["openResourceDiscoveryV1"]["documents"]] == [document_urls(len(docs))[-1]]
    assert check_ord_configuration(selected) == []


def test_select_on_a_document_returns_the_product_with_its_output_port_and_package() -> None:
    docs = split_build()
    target = docs[0]["dataProducts"][1]["ordId"]
    selected = select_document(docs[0], target)
    assert [p["ordId"] for p in selected["dataProducts"]] == [target]
    assert selected["dataProducts"][0]["outputPorts"][0]["ordId"] == selected["apiResources"][0]["ordId"]
    assert len(selected["apiResources"]) == 1 and len(selected["packages"]) == 1
    assert "tombstones" not in selected
    assert check_ord_document(selected) == []


def test_select_refuses_a_malformed_id_and_reports_an_unknown_one() -> None:
    docs = split_build()
    config = build_ord_configuration(BASE_URL, document_urls(len(docs)))
    with pytest.raises(InvalidArgument) as bad:
        select_configuration(config, docs, "not an ord id")
    assert bad.value.field == "select" and SELECT_HTTP_STATUS[bad.value.code] == 500
    with pytest.raises(NotFound) as missing:
        select_document(docs[0], f"{NAMESPACE}:dataProduct:nothing:v1")
    assert SELECT_HTTP_STATUS[missing.value.code] == 404
    with pytest.raises(NotFound):
        select_configuration(config, docs, f"{NAMESPACE}:dataProduct:nothing:v1")
