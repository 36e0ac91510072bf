"""Dublin Core mapping: every format, round trips through rdflib, oai_dc against the XSD."""

from __future__ import annotations

import json
import socket
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic

from dataproduct_mcp.domain.products import DataProduct
from dataproduct_mcp.errors import InvalidArgument
from dataproduct_mcp.metadata import DC_FORMATS, dublin_core_graph, map_dublin_core

BASE = "https://data.example.org/products/"
XSD_DIR = Path(__file__).resolve().parents[1] / "data" / "xsd"
DCT = "http://purl.org/dc/terms/"
RDF_PARSERS = {"jsonld": "json-ld", "turtle": "turtle", "rdfxml": "xml"}


def make_product(**overrides: Any) -> DataProduct:
    fields: dict[str, Any] = dict(
        id="6f1c3e4a-8b2d-4c1e-9f00-123456789abc",
        ord_id="customer.dpmcp:dataProduct:sales:v1",
        tenant="local",
        namespace="customer.dpmcp",
        revision=3,
        status="validated",
        created_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        updated_at=datetime(2024, 2, 2, 3, 4, 5, 250000, tzinfo=UTC),
        name="sales",
        title="Sales orders",
        version="1.2.0",
        owner="Sales Data Team",
        description="Every order, one row per line item.",
        short_description="Orders of all customers",
        tags=["sales", "orders"],
        keywords=["revenue"],
        license="Apache-2.0",
        language="en-GB",
        publisher="ACME Corp",
        contributors=["Ana", "Bo"],
        temporal={"start": date(2020, 1, 1), "end": date(2020, 12, 31)},
        spatial="Europe",
        homepage="https://example.org/sales",
        files=[
            {"path": "/data/orders.csv"},
            {"path": "/data/orders.parquet", "format": "parquet"},
            {"path": "/data/orders.jsonl.gz"},
            {"path": "/data/orders.avro"},
            {"path": "/data/orders.unknown"},
        ],
        input_ports=["0b7d7a35-1c2f-4f5e-8a9b-000000000001", "customer.dpmcp:dataProduct:customers:v1"],
        schema={"columns": [{"name": "id", "type": "integer", "required": True}]},
        labels={"region": ["EMEA"], "cost-center": ["4711"]},
        last_publication={
            "idempotency_key": "p:1",
            "revision": 1,
            "recorded_revision": 2,
            "published_at": "2024-02-03T00:00:00Z",
        },
    )
    fields.update(overrides)
    return DataProduct.model_validate(fields)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def oai_dc_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / "oai_dc.xsd")))


def parse_rdf(content: str, fmt: str) -> Graph:
    graph = Graph()
    with warnings.catch_warnings():
        # rdflib 7.6's JSON-LD parser builds a ConjunctiveGraph internally and warns about its own
        # deprecation; nothing to do with our output.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        graph.parse(data=content, format=RDF_PARSERS[fmt])
    return graph


def assert_round_trips(product: DataProduct | dict[str, Any], **kw: Any) -> None:
    expected = dublin_core_graph(product, base_uri=BASE, **kw)
    for fmt in RDF_PARSERS:
        result = map_dublin_core(product, format=fmt, base_uri=BASE, **kw)
        parsed = parse_rdf(result.content, fmt)
        assert isomorphic(parsed, expected), fmt
        assert len(parsed) == len(expected)


@pytest.mark.usefixtures("no_network")
def test_every_rdf_format_parses_back_to_the_same_graph_without_network() -> None:
    assert_round_trips(make_product(), custom_mappings={"region": "dcterms:spatial"})


@pytest.mark.usefixtures("no_network")
def test_jsonld_embeds_its_context() -> None:
    result = map_dublin_core(make_product(), format="jsonld", base_uri=BASE)
    doc = json.loads(result.content)
    assert isinstance(doc["@context"], dict)
    assert doc["@context"]["dcterms"] == DCT
    assert result.media_type == "application/ld+json"


def test_record_maps_the_contract_fields() -> None:
    result = map_dublin_core(make_product(), format="json", base_uri=BASE, custom_mappings={"region": "spatial"})
    r = result.record
    assert r["dcterms:title"] == ["Sales orders"]
    assert r["dcterms:abstract"] == ["Orders of all customers"]
    assert r["dcterms:creator"] == ["Sales Data Team"]
    assert r["dcterms:publisher"] == ["ACME Corp"]
    assert r["dcterms:contributor"] == ["Ana", "Bo"]
    assert r["dcterms:subject"] == ["sales", "orders", "revenue"]
    assert r["dcterms:type"] == ["Dataset"]
    assert r["dcterms:format"] == [
        "text/csv",
        "application/vnd.apache.parquet",
        "application/jsonl",
        "application/avro",
    ]
    assert r["dcterms:identifier"] == [
        "customer.dpmcp:dataProduct:sales:v1",
        "urn:uuid:6f1c3e4a-8b2d-4c1e-9f00-123456789abc",
    ]
    assert r["dcterms:language"] == ["en-GB"]
    assert r["dcterms:license"] == ["https://spdx.org/licenses/Apache-2.0"]
    assert r["dcterms:spatial"] == ["Europe", "EMEA"]
    assert r["dcterms:temporal"] == ["start=2020-01-01; end=2020-12-31; scheme=W3C-DTF"]
    assert r["dcterms:source"] == [
        BASE + "0b7d7a35-1c2f-4f5e-8a9b-000000000001",
        "customer.dpmcp:dataProduct:customers:v1",
    ]
    assert r["dcterms:relation"] == ["https://example.org/sales"]
    assert json.loads(r["dcterms:conformsTo"][0]) == {"columns": [{"name": "id", "type": "integer", "required": True}]}
    assert r["dcterms:created"][0].startswith("2024-01-02T03:04:05")
    assert r["dcterms:modified"] == r["dcterms:date"]
    assert r["dcterms:issued"][0].startswith("2024-02-03T00:00:00")
    assert "labels.cost-center" in result.unmapped and "labels.region" not in result.unmapped
    assert "files.path" in result.unmapped
    assert any("unknown format" in w for w in result.warnings)
    assert json.loads(result.content)["subject"] == BASE + "6f1c3e4a-8b2d-4c1e-9f00-123456789abc"


def test_rdf_terms_are_typed() -> None:
    graph = dublin_core_graph(make_product(), base_uri=BASE)
    subject = URIRef(BASE + "6f1c3e4a-8b2d-4c1e-9f00-123456789abc")
    xsd = "http://www.w3.org/2001/XMLSchema#"

    def one(term: str) -> Any:
        return graph.value(subject, URIRef(DCT + term))

    assert one("created").datatype == URIRef(xsd + "dateTime")
    assert one("language") == Literal("en-GB", datatype=URIRef(DCT + "RFC5646"))
    assert one("temporal").datatype == URIRef(DCT + "Period")
    assert one("type") == URIRef("http://purl.org/dc/dcmitype/Dataset")
    assert one("title").language == "en-gb" or one("title").language == "en-GB"
    assert URIRef("https://www.iana.org/assignments/media-types/text/csv") in set(
        graph.objects(subject, URIRef(DCT + "format"))
    )
    assert Literal("application/jsonl", datatype=URIRef(DCT + "IMT")) in set(
        graph.objects(subject, URIRef(DCT + "format"))
    )


@pytest.mark.parametrize(
    ("license", "iri"),
    [
        ("MIT", "https://spdx.org/licenses/MIT"),
        ("cc-by-sa-4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
        ("CC0-1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
        ("https://example.org/my-licence", "https://example.org/my-licence"),
    ],
)
def test_known_licenses_become_iris(license: str, iri: str) -> None:
    result = map_dublin_core(make_product(license=license), base_uri=BASE)
    assert result.record["dcterms:license"] == [iri]
    assert not any("license" in w for w in result.warnings)


def test_unknown_license_is_a_rights_literal_with_a_warning() -> None:
    result = map_dublin_core(make_product(license="Internal use only"), base_uri=BASE)
    assert "dcterms:license" not in result.record
    assert result.record["dcterms:rights"] == ["Internal use only"]
    assert any("license" in w for w in result.warnings)


def test_oai_dc_is_valid_against_the_xsd_and_has_only_simple_dc() -> None:
    result = map_dublin_core(
        make_product(), format="oai_dc", base_uri=BASE, custom_mappings={"region": "spatial", "cost-center": "audience"}
    )
    doc = etree.fromstring(result.content.encode())
    oai_dc_schema().assertValid(doc)
    assert "xsi:type" not in result.content and "dcterms" not in result.content
    names = {etree.QName(child).localname for child in doc}
    assert names <= {
        "title", "creator", "subject", "description", "publisher", "contributor", "date", "type", "format",
        "identifier", "source", "language", "relation", "coverage", "rights",
    }  # fmt: skip
    assert doc.findtext("{http://purl.org/dc/elements/1.1/}type") == "Dataset"
    assert any("audience" in w for w in result.warnings)  # no simple-DC element for it


def test_oai_dc_schema_rejects_a_qualified_element() -> None:
    bad = (
        b'<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        b'xmlns:dcterms="http://purl.org/dc/terms/"><dcterms:modified>2024</dcterms:modified></oai_dc:dc>'
    )
    assert not oai_dc_schema().validate(etree.fromstring(bad))


@pytest.mark.usefixtures("no_network")
def test_unicode_and_very_long_texts_survive_every_format() -> None:
    product = make_product(
        title="Umsätze 売上 🚀 ‏עברית‎",
        description=("Ünïcödé – “quotes” & <tags> ]]> " * 500)[:16000],
        owner="Équipe données",
        tags=["naïve", "日本"],
    )
    assert_round_trips(product)
    result = map_dublin_core(product, format="oai_dc", base_uri=BASE)
    oai_dc_schema().assertValid(etree.fromstring(result.content.encode()))
    assert "売上" in result.content


@pytest.mark.usefixtures("no_network")
def test_xml_illegal_characters_are_stripped_with_a_warning() -> None:
    product = make_product(title="Sales\ufffe orders\uffff")
    for fmt in DC_FORMATS:
        result = map_dublin_core(product, format=fmt, base_uri=BASE)
        assert "\ufffe" not in result.content and "\uffff" not in result.content
        assert any(w.startswith("title:") for w in result.warnings)
    assert_round_trips(product)
    result = map_dublin_core(product, format="oai_dc", base_uri=BASE)
    oai_dc_schema().assertValid(etree.fromstring(result.content.encode()))
    constructed = DataProduct.model_construct(**{**make_product().__dict__, "description": "bell\x07 here"})
    result = map_dublin_core(constructed, format="rdfxml", base_uri=BASE)
    assert "\x07" not in result.content


@pytest.mark.usefixtures("no_network")
def test_missing_optional_fields_give_a_minimal_valid_record() -> None:
    product = DataProduct(
        id="6f1c3e4a-8b2d-4c1e-9f00-123456789abc",
        ord_id="customer.dpmcp:dataProduct:bare:v0",
        tenant="local",
        namespace="customer.dpmcp",
        revision=1,
        status="draft",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        updated_at=datetime(2024, 1, 1, tzinfo=UTC),
        name="bare",
        title="Bare",
        version="0.1.0",
        owner="me",
    )
    assert_round_trips(product)
    result = map_dublin_core(product, format="oai_dc", base_uri=BASE)
    oai_dc_schema().assertValid(etree.fromstring(result.content.encode()))
    assert set(map_dublin_core(product, base_uri=BASE).record) == {
        "dcterms:type", "dcterms:title", "dcterms:creator", "dcterms:publisher", "dcterms:created",
        "dcterms:modified", "dcterms:date", "dcterms:identifier",
    }  # fmt: skip


@pytest.mark.usefixtures("no_network")
def test_raw_metadata_maps_like_a_product() -> None:
    raw = {
        "name": "weather",
        "title": "Weather",
        "language": "de",
        "temporal": {"start": "2021-03-01T06:30:00+01:00"},
        "files": [{"path": "w.tsv"}],
        "created_at": "2021-03-01T00:00:00Z",
        "colour": "blue",
    }
    result = map_dublin_core(raw, format="turtle", base_uri="urn:dpmcp:")
    assert result.subject == "urn:dpmcp:weather"
    assert result.record["dcterms:format"] == ["text/tab-separated-values"]
    assert result.record["dcterms:temporal"][0].startswith("start=2021-03-01T06:30:00+01:00")
    assert "colour" in result.unmapped
    assert_round_trips(raw)


def test_invalid_raw_metadata_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        map_dublin_core({"title": "x", "language": "not a tag!"}, base_uri=BASE)
    assert info.value.field == "metadata.language"
    assert info.value.code == "invalid-argument"


def test_bad_format_or_base_uri_is_refused() -> None:
    with pytest.raises(ValueError):
        map_dublin_core(make_product(), format="csv", base_uri=BASE)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        map_dublin_core(make_product(), base_uri="relative/path")


def test_an_attached_data_contract_is_a_conforms_to_by_its_id() -> None:
    from dataproduct_mcp.domain.contract import AttachedContract

    def attached(contract_id: str) -> AttachedContract:
        return AttachedContract(
            id=contract_id,
            version="1.0.0",
            api_version="v3.1.0",
            status="active",
            table="orders",
            sha256="0" * 64,
            rules=1,
            unchecked=0,
            attached_at=datetime(2024, 3, 1, tzinfo=UTC),
        )

    uuid_id = "5f0c8f0e-7f0b-4a59-9d8e-2d1c3b4a5e6f"
    record = map_dublin_core(make_product(contract=attached(uuid_id)), format="json", base_uri=BASE).record
    assert record["dcterms:conformsTo"][1] == f"urn:uuid:{uuid_id}"
    graph = dublin_core_graph(make_product(contract=attached(uuid_id)), base_uri=BASE)
    assert URIRef(f"urn:uuid:{uuid_id}") in set(graph.objects())
    named = map_dublin_core(make_product(contract=attached("orders-contract")), format="json", base_uri=BASE)
    assert named.record["dcterms:conformsTo"][1] == "orders-contract"
    assert "contract" not in named.unmapped
    assert_round_trips(make_product(contract=attached(uuid_id)))
