"""Contract documents are read as plain JSON data, safely (YAML 1.2 core scalars, no Python tags,
no duplicate keys, bounded size, depth and alias expansion) and written so YAML 1.1 and 1.2
readers both get the same data back."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dataproduct_mcp.contracts import documents
from dataproduct_mcp.contracts.documents import (
    LOADERS,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    dump_json,
    dump_yaml,
    load_document,
)
from dataproduct_mcp.errors import InvalidArgument, TooLarge


@pytest.fixture(params=LOADERS, ids=[loader.__name__ for loader in LOADERS], autouse=True)
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs with each YAML event source (libyaml and PyYAML's Python parser)."""
    monkeypatch.setattr(documents, "LOADERS", [request.param])


def test_libyaml_is_used_when_pyyaml_has_it() -> None:
    assert LOADERS[0].__name__ == ("LibyamlLoader" if yaml.__with_libyaml__ else "PythonLoader")


def test_yaml_scalars_follow_the_yaml_1_2_core_schema() -> None:
    text = (
        "yes_word: yes\nno_word: no\non_word: on\nday: 2024-01-31\nstamp: 2024-01-31T10:00:00Z\n"
        "sci: 1e3\noctal: 0o17\nhex: 0x1F\nleading_zero: 010\nsexagesimal: 1:30\n"
        "truth: true\nTruth: True\nnothing: ~\nempty:\ninf: .inf\nneg: -2\nfloat: 2.5\nmerge_value: <<\n"
    )
    assert load_document(text) == {
        "yes_word": "yes",
        "no_word": "no",
        "on_word": "on",
        "day": "2024-01-31",
        "stamp": "2024-01-31T10:00:00Z",
        "sci": 1000.0,
        "octal": 15,
        "hex": 31,
        "leading_zero": 10,
        "sexagesimal": "1:30",
        "truth": True,
        "Truth": True,
        "nothing": None,
        "empty": None,
        "inf": float("inf"),
        "neg": -2,
        "float": 2.5,
        "merge_value": "<<",
    }


def test_yaml_anchors_and_merge_keys_still_work() -> None:
    assert load_document("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\nagain: *b\n") == {
        "base": {"x": 1},
        "other": {"x": 1, "y": 2},
        "again": {"x": 1},
    }


def _error(text: str | bytes) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        load_document(text, field="contract")
    assert caught.value.code == "invalid-argument"
    assert caught.value.field == "contract"
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: 1\na: 2\n", 2, 1),  # a key given twice
        ("a: [1, 2\n", 2, 1),  # unclosed flow sequence
        ("a:\n  - x\n - y\n", 3, 2),  # bad indentation
        ("a: !!python/object/apply:os.system [echo]\n", 1, 4),
        ("a: !!timestamp 2024-01-31\n", 1, 4),
        ("a: !!binary aGVsbG8=\n", 1, 4),
        ("a: !!set {x: null}\n", 1, 4),
        ("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", 1, MAX_DEPTH + 3),
    ],
)
def test_yaml_problems_name_line_and_column(text: str, line: int, column: int) -> None:
    err = _error(text)
    assert (err.context["line"], err.context["column"]) == (line, column)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [('{"a": 1,\n "b": }', 2, 7), ('{"a": 1\n "b": 2}', 2, 2), ("[1, 2", 1, 6)],
)
def test_json_syntax_errors_name_line_and_column(text: str, line: int, column: int) -> None:
    err = _error(text)
    assert (err.context["line"], err.context["column"]) == (line, column)


def test_a_yaml_flow_mapping_with_plain_keys_is_read_as_yaml() -> None:
    assert load_document("{apiVersion: v3.1.0, tags: [a, b], n: 1e3}") == {
        "apiVersion": "v3.1.0",
        "tags": ["a", "b"],
        "n": 1000.0,
    }


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', '{"a": NaN}', '{"a": Infinity}'])
def test_json_duplicate_keys_and_non_numbers_are_refused(text: str) -> None:
    _error(text)


def test_a_billion_laughs_alias_bomb_is_refused_without_expanding_it() -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]  # 10**10 values
    err = _error("\n".join(lines) + "\n")
    assert err.context["location"].startswith("a9")


def test_a_recursive_alias_is_refused() -> None:
    err = _error("a: &a [*a]\n")
    assert err.context["location"].startswith("a[0]")


def test_deep_json_nesting_is_refused_with_the_location_where_it_goes_too_deep() -> None:
    err = _error("[" * (MAX_DEPTH + 6) + "]" * (MAX_DEPTH + 6))
    assert err.context["location"].startswith("[0][0][0]")


def test_json_nested_past_the_parser_recursion_limit_is_refused() -> None:
    _error("[" * 100_000 + "]" * 100_000)


def test_exactly_max_nodes_values_pass_and_one_more_fails() -> None:
    # the root list counts as one value
    assert len(load_document(json.dumps([0] * (MAX_NODES - 1)))) == MAX_NODES - 1
    _error(json.dumps([0] * MAX_NODES))


@pytest.mark.parametrize(
    ("text", "location"),
    [("1: x\n", "(document)"), ("a:\n  true: x\n", "a"), ("a:\n  - {null: 1}\n", "a[0]")],
)
def test_non_string_keys_are_refused_with_their_location(text: str, location: str) -> None:
    assert _error(text).context["location"] == location


def test_a_list_as_a_key_is_refused_at_its_line() -> None:
    assert _error("a:\n  [1, 2]: x\n").context["line"] == 2


@pytest.mark.parametrize("text", ["", "   \n\t", b""])
def test_an_empty_document_is_refused(text: str | bytes) -> None:
    _error(text)


def test_bytes_must_be_utf8_and_the_offset_is_named() -> None:
    assert _error(b"name: caf\xe9\n").context["byte_offset"] == 9


def test_a_utf8_bom_is_accepted() -> None:
    assert load_document("\ufeffa: 1\n".encode()) == {"a": 1}


def test_control_characters_yaml_forbids_are_refused() -> None:
    _error("a: \x07\n")


@pytest.mark.parametrize("as_bytes", [True, False])
def test_documents_over_the_limit_are_too_large(as_bytes: bool) -> None:
    text = "a: '" + "x" * MAX_BYTES + "'\n"
    with pytest.raises(TooLarge) as caught:
        load_document(text.encode() if as_bytes else text, field="contract")
    assert caught.value.code == "too-large"
    assert caught.value.context["field"] == "contract"


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    text = "a: '" + "é" * (MAX_BYTES // 2) + "'\n"  # fewer characters than MAX_BYTES, more bytes
    assert len(text) < MAX_BYTES
    with pytest.raises(TooLarge):
        load_document(text)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["yes", "no", "on", "off", "~", "null", "1e3", "0o17", "0x1F", "010", "1:30", "2024-01-31", ".5"])
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.text(min_size=1, max_size=10), _JSON, min_size=1, max_size=5))
def test_dumped_yaml_reads_back_the_same_under_yaml_1_2_and_yaml_1_1(data: dict[str, Any]) -> None:
    text = dump_yaml(data)
    assert load_document(text) == data
    assert yaml.safe_load(text) == data  # PyYAML's own YAML 1.1 reading agrees
    assert load_document(dump_json(data)) == data


def test_dumped_yaml_keeps_the_key_order_and_writes_multi_line_text_as_a_block() -> None:
    text = dump_yaml({"z": 1, "a": "line one\nline two\n", "m": "2024-01-31"})
    assert text == "z: 1\na: |\n  line one\n  line two\nm: '2024-01-31'\n"
