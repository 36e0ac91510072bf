"""Property-based: whatever a client sends as product fields, the answer is a product or a
structured `invalid-argument`/`already-exists`/`too-large` error — never `internal`, never a crash."""

from __future__ import annotations

import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from tests.helpers import product_args

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import load_settings
from dataproduct_mcp.server.builder import build_server

ALLOWED = {"invalid-argument", "already-exists", "too-large"}

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=300))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=20), inner, max_size=5)),
    max_leaves=20,
)
field_names = st.sampled_from(sorted(product_args()) + [
    "type", "category", "visibility", "release_status", "keywords", "license", "language", "publisher",
    "contributors", "temporal", "spatial", "homepage", "files", "schema", "input_ports", "labels", "bogus",
])  # fmt: skip


class Harness:
    """One application and one MCP client on an event loop in a background thread, shared by examples."""

    def __init__(self, portal: BlockingPortal, root: Path) -> None:
        self.portal = portal
        self.app = Application.build(load_settings(data_dir=root / "data", allowed_roots=[root]))
        self.stop = anyio.Event()

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with self.app, Client(build_server(self.app)) as client:
            self.client = client
            task_status.started()
            await self.stop.wait()

    def call(self, tool: str, args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        async def go() -> tuple[bool, dict[str, Any]]:
            result = await self.client.call_tool(tool, args)
            return bool(result.is_error), result.structured_content or {}

        return self.portal.call(go)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with start_blocking_portal() as portal, tempfile.TemporaryDirectory() as tmp:
        h = portal.call(Harness, portal, Path(tmp))
        future, _ = portal.start_task(h.serve)
        try:
            yield h
        finally:
            portal.call(h.stop.set)
            future.result(timeout=30)


@settings(max_examples=300, deadline=None)
@given(mutations=st.lists(st.tuples(field_names, json_values), min_size=1, max_size=4))
def test_random_field_values_never_crash_the_server(harness: Harness, mutations: list[tuple[str, Any]]) -> None:
    args = product_args("prop")
    for name, value in mutations:
        args[name] = value
    is_error, body = harness.call("register_data_product", args)
    if is_error:
        assert body["error"]["code"] in ALLOWED, body
        if body["error"]["code"] == "invalid-argument":
            assert body["error"].get("field") or body["error"].get("problems")
    else:
        assert body["product"]["ord_id"].startswith("customer.dpmcp:dataProduct:")


printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=100
).filter(lambda t: t.strip())


@settings(max_examples=150, deadline=None)
@given(title=printable, tags=st.lists(printable, max_size=10))
def test_valid_unicode_titles_and_tags_round_trip(harness: Harness, title: str, tags: list[str]) -> None:
    name = "rt-" + str(abs(hash((title, tuple(tags)))))
    is_error, body = harness.call("register_data_product", product_args(name, title=title, tags=tags))
    assert not is_error, body
    is_error, product = harness.call("get_data_product", {"id": body["product"]["id"]})
    assert not is_error
    assert product["title"] == body["product"]["title"]
    assert unicodedata.normalize("NFC", product["title"]) == unicodedata.normalize("NFC", product["title"].strip())
    assert len(product["tags"]) == len(set(product["tags"])) <= len(tags)


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.characters(whitelist_categories=("Cc",)), min_size=1, max_size=5))
def test_control_characters_in_titles_are_refused(harness: Harness, text: str) -> None:
    is_error, body = harness.call("register_data_product", product_args("ctl", title="a" + text + "b"))
    assert is_error
    assert (body["error"]["code"], body["error"]["field"]) == ("invalid-argument", "title")
