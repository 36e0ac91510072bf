"""parse_contract: the official ODCS examples parse; every bad document is an InvalidArgument (or
TooLarge) on field ``contract`` that names where the problem is."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataproduct_mcp.contracts import MAX_BYTES, SUPPORTED_API_VERSIONS, parse_contract
from dataproduct_mcp.contracts.documents import load_document
from dataproduct_mcp.contracts.odcs_schema import clear_verdicts, odcs_validator, schema_errors
from dataproduct_mcp.errors import DpError, InvalidArgument, TooLarge

DATA = Path(__file__).resolve().parents[1] / "data" / "contracts"


@pytest.mark.parametrize(
    ("name", "contract_id", "version", "api_version", "objects"),
    [
        (
            "odcs-full-example.odcs.yaml",
            "53581432-6c55-4ba2-a65f-72344a91553a",
            "1.1.0",
            "v3.1.0",
            ["tbl", "receivers"],
        ),
        (
            "odcs-all-data-types.odcs.yaml",
            "53581432-6c55-4ba2-a65f-72344a91553a",
            "1.0.0",
            "v3.0.2",
            ["transactions_tbl"],
        ),
        (
            "odcs-column-completeness.odcs.yaml",
            "53581432-6c55-4ba2-a65f-72344a91553a",
            "1.0.0",
            "v3.0.2",
            ["Air_Quality"],
        ),
        ("odcs-table-column.odcs.yaml", "53581432-6c55-4ba2-a65f-72344a91553b", "1.0.0", "v3.0.0", ["tbl"]),
    ],
)
def test_the_official_odcs_examples_parse(
    name: str, contract_id: str, version: str, api_version: str, objects: list[str]
) -> None:
    contract = parse_contract((DATA / "valid" / name).read_bytes())
    assert (contract.id, contract.version, contract.api_version) == (contract_id, version, api_version)
    assert [o["name"] for o in contract.schema_objects] == objects
    assert [o.name for o in contract.model.schema_ or []] == objects  # the pydantic model agrees


def test_a_contract_given_as_json_parses_to_the_same_document() -> None:
    text = (DATA / "valid" / "odcs-full-example.odcs.yaml").read_text()
    from_yaml = parse_contract(text)
    from_json = parse_contract(json.dumps(from_yaml.document))
    assert from_json.document == from_yaml.document


def test_the_bundled_schema_is_the_odcs_v3_1_0_schema() -> None:
    schema = odcs_validator().schema
    assert schema["title"] == "Open Data Contract Standard (ODCS)"
    assert schema["properties"]["apiVersion"]["default"] == "v3.1.0"
    assert set(SUPPORTED_API_VERSIONS) <= set(schema["properties"]["apiVersion"]["enum"])


# file -> (error code, context key to check, its value)
INVALID = {
    "api-version-missing.odcs.yaml": ("location", "apiVersion"),
    "api-version-unknown.odcs.yaml": ("location", "apiVersion"),
    "api-version-v2.odcs.yaml": ("location", "apiVersion"),
    "odcs-column-validity-v3.2.0.odcs.yaml": ("location", "apiVersion"),
    "kind-wrong.odcs.yaml": ("location", "kind"),
    "missing-status.odcs.yaml": ("location", "status"),
    "not-a-mapping.odcs.yaml": ("location", "(document)"),
    "bad-date-time.odcs.yaml": ("location", "contractCreatedTs"),
    "bad-pattern.odcs.yaml": ("location", "schema[0].properties[0].logicalTypeOptions.pattern"),
    "duplicate-property.odcs.yaml": ("location", "schema[0].properties[1].name"),
    "duplicate-schema-object.odcs.yaml": ("location", "schema[1].name"),
    "option-for-other-type.odcs.yaml": ("location", "schema[0].properties[0].logicalTypeOptions"),
    "quality-between-reversed.odcs.yaml": ("location", "schema[0].quality[0].mustBeBetween"),
    "quality-no-operator.odcs.yaml": ("location", "schema[0].properties[0].quality[0]"),
    "quality-two-operators.odcs.yaml": ("location", "schema[0].properties[0].quality[0]"),
    "quality-unknown-column.odcs.yaml": ("location", "schema[0].quality[0].arguments.properties[1]"),
    "quality-unknown-metric.odcs.yaml": ("location", "schema[0].properties[0].quality[0].metric"),
    "unknown-property-key.odcs.yaml": ("location", "schema[0].properties[0]"),
    "wrong-logical-type.odcs.yaml": ("location", "schema[0].properties[1].logicalType"),
    "wrong-type-required.odcs.yaml": ("location", "schema[0].properties[0].required"),
    "odcs-strict-schema-test-invalid.odcs.yaml": ("location", "authoritativeDefinitions[0]"),
    "yaml-alias-bomb.odcs.yaml": ("location", "customProperties[8].value[8][8][8][5][8][8][1][2][7]"),
    "yaml-recursive-alias.odcs.yaml": ("location", "customProperties[0].value[0][0][0][0][0]..."),
    "yaml-deep-nesting.odcs.yaml": ("line", 9),
    "yaml-duplicate-key.odcs.yaml": ("line", 7),
    "yaml-python-tag.odcs.yaml": ("line", 9),
    "yaml-syntax-error.odcs.yaml": ("line", 11),
    "json-syntax-error.odcs.json": ("line", 5),
}


def test_every_invalid_sample_is_in_the_table() -> None:
    assert sorted(p.name for p in (DATA / "invalid").iterdir()) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_contracts_are_invalid_argument_naming_where(name: str) -> None:
    key, expected = INVALID[name]
    with pytest.raises(InvalidArgument) as caught:
        parse_contract((DATA / "invalid" / name).read_bytes())
    err = caught.value
    assert (err.code, err.field, err.context.get(key)) == ("invalid-argument", "contract", expected)
    assert err.suggestion
    body = err.to_dict("t")["error"]
    assert body["field"] == "contract" and body["code"] == "invalid-argument"
    json.dumps(body)  # the tool error is plain JSON


def test_every_problem_of_the_official_strict_schema_sample_is_listed() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_contract((DATA / "invalid" / "odcs-strict-schema-test-invalid.odcs.yaml").read_bytes())
    locations = {p["location"] for p in caught.value.context["problems"]}
    # each "undefined...Property" of the sample is named
    assert {
        "authoritativeDefinitions[0]",
        "price",
        "roles[0]",
        "schema[0]",
        "schema[0].properties[0]",
        "schema[0].properties[1].quality[0]",
        "servers[0]",
        "servers[0].customProperties[1].property",
        "slaProperties[0]",
        "support[0]",
        "team",
    } <= locations


def test_a_document_over_one_mib_is_too_large() -> None:
    doc = {"apiVersion": "v3.1.0", "kind": "DataContract", "id": "x", "version": "1.0.0", "status": "active"}
    doc["description"] = {"purpose": "x" * MAX_BYTES}
    with pytest.raises(TooLarge) as caught:
        parse_contract(json.dumps(doc))
    assert (caught.value.code, caught.value.context["field"]) == ("too-large", "contract")


def test_a_large_contract_under_the_limit_parses() -> None:
    props = [
        {"name": f"column_{i}", "logicalType": "integer", "required": True, "logicalTypeOptions": {"minimum": 0}}
        for i in range(2000)
    ]
    doc = {"apiVersion": "v3.1.0", "kind": "DataContract", "id": "x", "version": "1.0.0", "status": "active"}
    doc["schema"] = [{"name": "wide", "properties": props}]
    text = yaml.safe_dump(doc)
    assert len(text) < MAX_BYTES
    assert len(parse_contract(text).schema_objects[0]["properties"]) == 2000


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: [v3.1.0]\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\n",
        "apiVersion: v3.1.0\nkind: DataContract\nid: 7\nversion: 1.0.0\nstatus: active\n",
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\nschema: {name: t}\n",
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\nschema: [{}]\n",
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\nteam: 5\n",
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nstatus: active\nschema:\n- name: t\n"
        "  properties:\n  - name: a\n    quality:\n    - metric: rowCount\n      mustBeBetween: [1, x]\n",
        "42",
        "null",
        "just text",
    ],
)
def test_wrong_types_anywhere_are_invalid_argument_never_a_crash(text: str) -> None:
    with pytest.raises(DpError) as caught:
        parse_contract(text)
    assert (caught.value.code, caught.value.context.get("field")) == ("invalid-argument", "contract")


def _whole(doc: Any) -> list[tuple[tuple[str, ...], str]]:
    return sorted((tuple(map(str, e.absolute_path)), e.message) for e in odcs_validator().iter_errors(doc))


def _piecewise(doc: Any) -> list[tuple[tuple[str, ...], str]]:
    return sorted((tuple(map(str, (*p, *e.absolute_path))), e.message) for p, e in schema_errors(doc))


SAMPLES = sorted(p for p in DATA.glob("*/*") if p.suffix in (".yaml", ".json"))


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_checking_piece_by_piece_finds_exactly_what_the_whole_schema_finds(path: Path) -> None:
    try:
        doc = load_document(path.read_bytes())
    except InvalidArgument:
        return  # not JSON data: the schema never sees it
    clear_verdicts()
    assert _piecewise(doc) == _whole(doc)
    assert _piecewise(doc) == _whole(doc)  # and again from remembered verdicts


MUTATIONS: list[tuple[tuple[Any, ...], Any]] = [
    (("schema", 0, "properties", 1, "logicalType"), "text"),
    (("schema", 0, "properties", 1, "name"), 5),
    (("schema", 0, "properties", 1, "logicalTypeOptions"), {"minLength": -1}),
    (("schema", 0, "properties", 2, "quality", 0, "dimension"), "speed"),
    (("schema", 0, "properties", 2, "quality"), "not a list"),
    (("schema", 0, "properties"), {"not": "a list"}),
    (("schema", 0, "quality", 0, "unit"), 7),
    (("schema", 1, "properties", 0, "items"), {"logicalType": "array", "extra": 1}),
    (("schema", 1, "properties", 0, "properties"), [{"name": "nested", "logicalType": "nope"}]),
    (("schema",), "x"),
]


@pytest.mark.parametrize(("path", "value"), MUTATIONS)
def test_piecewise_checking_agrees_on_broken_variants_of_the_full_example(path: tuple[Any, ...], value: Any) -> None:
    doc = copy.deepcopy(load_document((DATA / "valid" / "odcs-full-example.odcs.yaml").read_bytes()))
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert _whole(doc)  # the variant is broken
    assert _piecewise(doc) == _whole(doc)
