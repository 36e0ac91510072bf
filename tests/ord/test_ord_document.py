"""ORD documents: built from products, valid against both official schemas, cross-referenced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft7Validator
from tests.ord.ord_factories import BASE_URL, NAMESPACE, make_product

from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.ord import (
    MAX_DOCUMENT_BYTES,
    SCHEMA_VERSIONS,
    build_ord_document,
    build_ord_documents,
    check_ord_document,
    check_ord_documents,
    serialize_ord_document,
    validate_product_for_ord,
)
from dataproduct_mcp.ord.validation import format_checker, schema_validator

REQUIRED = {"ordId", "type", "category", "title", "shortDescription", "description", "version",
            "releaseStatus", "visibility", "partOfPackage", "responsible", "outputPorts"}  # fmt: skip
SHARED_ORD = Path("/work/shared/ord")


def build(products: list[DataProduct], tombstones=(), **kw):  # type: ignore[no-untyped-def]
    return build_ord_document(products, tombstones, namespace=NAMESPACE, base_url=BASE_URL, **kw)


def assert_valid_whole(doc: dict) -> None:
    """Validate the whole document with each official schema, independently of our checker."""
    for version in SCHEMA_VERSIONS:
        errors = list(schema_validator(version).iter_errors(doc))
        assert not errors, (version, [e.message for e in errors[:5]])
    assert check_ord_document(doc) == []


def test_the_format_checker_really_checks_date_time_and_uri() -> None:
    checker = format_checker()
    assert {"date-time", "uri", "uri-reference"} <= set(checker.checkers)
    assert checker.conforms("2025-01-01T00:00:00Z", "date-time")
    assert not checker.conforms("2025-13-01 noon", "date-time")
    assert not checker.conforms("2025-01-01T00:00:00", "date-time")  # RFC 3339 needs an offset
    assert checker.conforms("https://example.org/x", "uri")
    assert not checker.conforms("not a uri", "uri")
    doc = build([make_product()]).document
    doc["dataProducts"][0]["lastUpdate"] = "yesterday"
    problems = check_ord_document(doc)
    assert {(p.check, p.path) for p in problems} == {
        ("schema 1.13.0", "/dataProducts/0/lastUpdate"),
        ("schema 1.16.3", "/dataProducts/0/lastUpdate"),
    }
    assert not Draft7Validator(schema_validator("1.16.3").schema, format_checker=checker).is_valid(doc)


def test_one_product_makes_a_valid_document_with_every_required_field() -> None:
    result = build([make_product()])
    doc = result.document
    assert result.skipped == [] and result.warnings == []
    assert_valid_whole(doc)
    [package] = doc["packages"]
    [product] = doc["dataProducts"]
    [api] = doc["apiResources"]
    assert package["ordId"] == f"{NAMESPACE}:package:DataProducts:v1"
    assert REQUIRED <= set(product)
    assert product["ordId"] == f"{NAMESPACE}:dataProduct:orders-1:v1"
    assert product["version"] == "1.4.2"
    assert product["lastUpdate"] == "2025-01-01T01:00:00Z"
    assert product["responsible"] == f"{NAMESPACE}:team:sales-data-team"
    assert product["partOfPackage"] == package["ordId"]
    assert product["outputPorts"] == [{"ordId": api["ordId"]}]
    assert api["apiProtocol"] == "websocket"
    assert api["entryPoints"] == ["ws://127.0.0.1:8765/streams"]
    assert doc["describedSystemInstance"] == {"baseUrl": BASE_URL}
    assert doc["openResourceDiscovery"] == "1.13"


def test_many_products_validate_and_each_has_its_stream() -> None:
    products = [make_product(i, version=f"{i % 3}.1.0") for i in range(1, 61)]
    doc = build(products, stream_url="{ws_base_url}/streams/products/{id}").document
    assert_valid_whole(doc)
    assert len(doc["dataProducts"]) == 60 and len(doc["apiResources"]) == 60
    assert {p["ordId"] for p in doc["dataProducts"]} == {p.ord_id for p in products}
    entry = next(a for a in doc["apiResources"] if a["ordId"] == f"{NAMESPACE}:apiResource:orders-7.stream:v1")
    assert entry["entryPoints"] == [f"ws://127.0.0.1:8765/streams/products/{products[6].id}"]


def test_a_callable_gives_the_stream_url() -> None:
    doc = build([make_product()], stream_url=lambda p: f"ws://127.0.0.1:9/s?product={p.id}").document
    assert doc["apiResources"][0]["entryPoints"] == ["ws://127.0.0.1:9/s?product=00000000-0000-4000-8000-000000000001"]
    assert_valid_whole(doc)


def test_deleted_products_become_tombstones_with_their_output_ports() -> None:
    gone_at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    deleted = make_product(2, status="deleted", deleted_at=gone_at)
    result = build(
        [make_product(1), deleted],
        [(f"{NAMESPACE}:dataProduct:old:v3", gone_at - timedelta(days=20)),
         (f"{NAMESPACE}:dataProduct:orders-1:v1", gone_at),  # re-registered since: live wins
         ("not an ord id", gone_at)],
    )  # fmt: skip
    doc = result.document
    assert_valid_whole(doc)
    stones = {s["ordId"]: s["removalDate"] for s in doc["tombstones"]}
    assert stones == {
        f"{NAMESPACE}:dataProduct:orders-2:v1": "2025-03-01T12:00:00Z",
        f"{NAMESPACE}:apiResource:orders-2.stream:v1": "2025-03-01T12:00:00Z",
        f"{NAMESPACE}:dataProduct:old:v3": "2025-02-09T12:00:00Z",
        f"{NAMESPACE}:apiResource:old.stream:v3": "2025-02-09T12:00:00Z",
    }
    assert [p["ordId"] for p in doc["dataProducts"]] == [f"{NAMESPACE}:dataProduct:orders-1:v1"]
    assert any("not an ord id" in w for w in result.warnings)


def test_only_tombstones_still_make_a_valid_document() -> None:
    doc = build([], [(f"{NAMESPACE}:dataProduct:old:v1", datetime(2025, 1, 1, tzinfo=UTC))]).document
    assert_valid_whole(doc)
    assert "dataProducts" not in doc and len(doc["tombstones"]) == 2


def test_last_update_and_version_follow_the_product() -> None:
    before = build([make_product()]).document["dataProducts"][0]
    changed = make_product(version="1.5.0", updated_at=datetime(2025, 6, 1, 8, 30, tzinfo=UTC))
    after = build([changed]).document["dataProducts"][0]
    assert (before["version"], after["version"]) == ("1.4.2", "1.5.0")
    assert after["lastUpdate"] == "2025-06-01T08:30:00Z" != before["lastUpdate"]


def test_unicode_owner_tags_and_long_texts_stay_valid() -> None:
    product = make_product(
        owner="数据团队",
        title="Umsätze 売上 " + "x" * 230,
        description="Ünïcödé 🚀 " * 1400,
        short_description=None,
        tags=["sales", "ventes-été"],
        keywords=["revenue/EMEA"],
    )
    result = build([product])
    assert_valid_whole(result.document)
    entry = result.document["dataProducts"][0]
    assert entry["responsible"].startswith(f"{NAMESPACE}:team:owner-")
    assert entry["tags"] == ["sales", "revenue/EMEA"]
    assert len(result.document["apiResources"][0]["title"]) <= 255
    assert any("tag" in w for w in result.warnings)


def test_an_owner_already_in_responsible_form_is_kept() -> None:
    doc = build([make_product(owner="acme:team:sales-analytics")]).document
    assert doc["dataProducts"][0]["responsible"] == "acme:team:sales-analytics"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ord_id": f"{NAMESPACE}:dataProduct:other:v1"}, "ord_id"),
        ({"ord_id": f"{NAMESPACE}:dataProduct:orders-1:v7"}, "ord_id"),
        ({"ord_id": "Bad Id"}, "ord_id"),
        ({"namespace": "other.ns", "ord_id": "other.ns:dataProduct:orders-1:v1"}, "namespace"),
    ],
)
def test_a_product_with_a_bad_field_is_reported_with_that_field(overrides: dict, field: str) -> None:
    product = make_product(**overrides)
    assert field in {p.field for p in validate_product_for_ord(product, namespace=NAMESPACE)}
    result = build([make_product(2), product])
    [skipped] = result.skipped
    assert skipped.product_id == product.id and field in {p.field for p in skipped.problems}
    assert [p["ordId"] for p in result.document["dataProducts"]] == [f"{NAMESPACE}:dataProduct:orders-2:v1"]
    assert_valid_whole(result.document)


def test_a_name_too_long_for_the_output_port_id_is_reported() -> None:
    namespace = "n" * 85
    product = make_product(name="x" * 150, namespace=namespace, ord_id=f"{namespace}:dataProduct:{'x' * 150}:v1")
    assert [p.field for p in validate_product_for_ord(product, namespace=namespace)] == ["name"]
    result = build_ord_document([product], namespace=namespace, base_url=BASE_URL)
    assert [p.field for p in result.skipped[0].problems] == ["name"]


def test_fields_the_model_did_not_validate_are_reported_not_published() -> None:
    good = make_product()
    broken = DataProduct.model_construct(**{**good.__dict__, "id": "x", "visibility": "secret", "title": ""})
    problems = {p.field for p in validate_product_for_ord(broken, namespace=NAMESPACE)}
    assert {"visibility", "title"} <= problems
    schema_only = DataProduct.model_construct(**{**good.__dict__, "homepage": "not a url"})
    assert validate_product_for_ord(schema_only, namespace=NAMESPACE) == []
    result = build([schema_only, make_product(2)])
    [skipped] = result.skipped
    assert "homepage" in {p.field for p in skipped.problems}
    assert any("uri" in p.problem for p in skipped.problems)
    assert_valid_whole(result.document)


def test_duplicate_ord_ids_in_one_build_are_reported() -> None:
    first = make_product(1)
    second = make_product(2, name="orders-1", ord_id=first.ord_id)
    result = build([first, second])
    assert [s.product_id for s in result.skipped] == [second.id]
    assert_valid_whole(result.document)


def test_configuration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        build_ord_document([], namespace=NAMESPACE, base_url="http://localhost:8080")
    with pytest.raises(ValueError):
        build_ord_document([], namespace="Bad_NS", base_url=BASE_URL)
    with pytest.raises(ValueError):
        build_ord_document([], namespace=NAMESPACE, base_url=BASE_URL, policy_levels=["nope"])


def test_policy_levels_appear_on_document_and_package() -> None:
    doc = build([make_product()], policy_levels=["sap:core:v1"]).document
    assert doc["policyLevels"] == doc["packages"][0]["policyLevels"] == ["sap:core:v1"]
    assert_valid_whole(doc)


def test_cross_reference_checks_catch_what_the_schemas_cannot() -> None:
    doc = build([make_product(1), make_product(2)]).document
    doc["dataProducts"][0]["partOfPackage"] = f"{NAMESPACE}:package:Missing:v1"
    doc["dataProducts"][1]["outputPorts"] = [{"ordId": f"{NAMESPACE}:apiResource:nowhere:v1"}]
    doc["apiResources"].append(dict(doc["apiResources"][0]))
    when = "2025-01-01T00:00:00Z"
    doc["tombstones"] = [
        {"ordId": "customer.dpmcp:dataProduct:bad id:v1", "removalDate": when},
        {"ordId": doc["dataProducts"][0]["ordId"], "removalDate": when},
        {"ordId": f"{NAMESPACE}:dataProduct:gone:v1", "removalDate": when},
        {"ordId": f"{NAMESPACE}:dataProduct:gone:v1", "removalDate": "2025-01-02T00:00:00Z"},
    ]
    problems = [p for p in check_ord_document(doc) if p.check == "cross-reference"]
    assert {p.path for p in problems} == {
        "/dataProducts/0/partOfPackage",
        "/dataProducts/1/outputPorts/0/ordId",
        "/apiResources/2/ordId",
        "/tombstones/0/ordId",
        "/tombstones/1/ordId",
        "/tombstones",
    }
    assert any("gone:v1 is tombstoned 2 times" in p.message for p in problems)


def test_documents_are_split_under_the_size_limit_with_every_product_present() -> None:
    products = [make_product(i, description="Long text. " * 1400) for i in range(1, 401)]
    stones = [(f"{NAMESPACE}:dataProduct:gone-{i}:v1", datetime(2025, 1, 1, tzinfo=UTC)) for i in range(50)]
    result = build_ord_documents(products, stones, namespace=NAMESPACE, base_url=BASE_URL)
    docs = result.documents
    assert len(docs) >= 3 and result.skipped == []
    sizes = [len(serialize_ord_document(d)) for d in docs]
    assert max(sizes) <= MAX_DOCUMENT_BYTES
    described = [p["ordId"] for d in docs for p in d.get("dataProducts", [])]
    assert sorted(described) == sorted(p.ord_id for p in products)
    assert sum(len(d.get("tombstones", [])) for d in docs) == 100
    assert [len(d.get("packages", [])) for d in docs] == [1] + [0] * (len(docs) - 1)
    assert check_ord_documents(docs) == []
    for doc in docs:  # each one is valid on its own against both schemas
        for version in SCHEMA_VERSIONS:
            assert schema_validator(version).is_valid(doc)


def test_a_small_limit_splits_finely_and_the_set_still_checks() -> None:
    products = [make_product(i) for i in range(1, 121)]
    result = build_ord_documents(products, namespace=NAMESPACE, base_url=BASE_URL, max_bytes=40_000)
    assert len(result.documents) > 3
    assert all(len(serialize_ord_document(d)) <= 40_000 for d in result.documents)
    assert sum(len(d.get("dataProducts", [])) for d in result.documents) == 120
    assert check_ord_documents(result.documents) == []
    # A single split document alone misses the package: the per-document check says so.
    assert any(p.check == "cross-reference" for p in check_ord_document(result.documents[1]))


def test_the_bundled_schemas_are_the_official_ones_with_their_license() -> None:
    bundled = resources.files("dataproduct_mcp.ord.schemas")
    for version in SCHEMA_VERSIONS:
        for kind in ("Document", "Configuration"):
            ours = json.loads(bundled.joinpath(f"v{version}").joinpath(f"{kind}.schema.json").read_text("utf-8"))
            if SHARED_ORD.exists():
                official = json.loads((SHARED_ORD / f"v{version}" / f"{kind}.schema.json").read_text("utf-8"))
                assert ours == official
    assert "Apache License" in bundled.joinpath("LICENSE").read_text("utf-8")
    notice = " ".join(bundled.joinpath("NOTICE").read_text("utf-8").split())
    assert "Apache License, Version 2.0" in notice


def test_the_official_minimal_example_passes_the_schemas() -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "ord" / "ord-document-minimal.json"  # vendored copy
    problems = check_ord_document(json.loads(path.read_text("utf-8")))
    assert [p.check for p in problems] == ["cross-reference"]  # its output port API is not in the document
