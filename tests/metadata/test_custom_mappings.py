"""Custom mapping files: label key -> DCMI term."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataproduct_mcp.metadata import load_custom_mappings, map_dublin_core, parse_custom_mappings


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "mappings.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_a_good_file_loads_in_either_shape(tmp_path: Path) -> None:
    flat = write(tmp_path, json.dumps({"region": "dcterms:spatial", "domain": "subject"}))
    assert load_custom_mappings(flat) == {"region": "dcterms:spatial", "domain": "dcterms:subject"}
    wrapped = write(tmp_path, json.dumps({"mappings": {"owner-email": "http://purl.org/dc/terms/rightsHolder"}}))
    assert load_custom_mappings(wrapped) == {"owner-email": "dcterms:rightsHolder"}


def test_a_bad_file_lists_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"region": "dcterms:place", "bad key!": "subject", "n": 3}))
    with pytest.raises(ValueError) as info:
        load_custom_mappings(path)
    message = str(info.value)
    assert "dcterms:place" in message and "bad key!" in message and "'n'" in message


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '"x"'])
def test_malformed_json_is_a_clear_error(tmp_path: Path, content: str) -> None:
    with pytest.raises(ValueError, match="custom mappings file"):
        load_custom_mappings(write(tmp_path, content))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be read"):
        load_custom_mappings(tmp_path / "absent.json")


def test_mapped_labels_become_terms_and_iris_stay_iris() -> None:
    mappings = parse_custom_mappings({"spec": "conformsTo", "area": "dc:coverage"})
    raw = {
        "name": "x",
        "title": "X",
        "labels": {"spec": ["https://example.org/spec/v1"], "area": ["Nordics"], "z": ["1"]},
    }
    result = map_dublin_core(raw, format="turtle", base_uri="https://h.example/", custom_mappings=mappings)
    assert "<https://example.org/spec/v1>" in result.content
    assert result.record["dcterms:coverage"] == ["Nordics"]
    assert result.unmapped.count("labels.z") == 1


def test_an_unknown_term_at_call_time_is_refused() -> None:
    with pytest.raises(ValueError):
        map_dublin_core({"title": "X"}, base_uri="https://h.example/", custom_mappings={"a": "dcterms:nope"})
