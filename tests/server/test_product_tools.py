"""Data product tools through an in-process MCP client, in both protocol eras."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]  # SQLite and PostgreSQL (tests/pg.py)


async def test_register_returns_a_draft_with_an_ord_id(client: Client) -> None:
    out = await call_ok(client, "register_data_product", product_args())
    product = out["product"]
    assert out["created"] is True
    assert product["status"] == "draft"
    assert product["revision"] == 1
    assert product["ord_id"] == "customer.dpmcp:dataProduct:sales-orders:v1"
    assert product["tenant"] == "local"


async def test_register_twice_with_same_content_is_idempotent(client: Client) -> None:
    first = await call_ok(client, "register_data_product", product_args())
    again = await call_ok(client, "register_data_product", product_args())
    assert again["created"] is False
    assert again["product"]["id"] == first["product"]["id"]


async def test_register_same_identity_with_other_content_is_already_exists(client: Client) -> None:
    await call_ok(client, "register_data_product", product_args())
    err = await call_err(client, "register_data_product", product_args(title="Other title", version="1.4.0"))
    assert err["code"] == "already-exists"


async def test_a_new_major_version_is_a_new_product(client: Client) -> None:
    await call_ok(client, "register_data_product", product_args())
    v2 = await call_ok(client, "register_data_product", product_args(version="2.0.0"))
    assert v2["product"]["ord_id"].endswith(":v2")


async def test_get_by_id_and_by_ord_id(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    by_id = await call_ok(client, "get_data_product", {"id": product["id"]})
    by_ord = await call_ok(client, "get_data_product", {"ord_id": product["ord_id"]})
    assert by_id == by_ord
    assert by_id["id"] == product["id"]


async def test_get_needs_exactly_one_of_id_and_ord_id(client: Client) -> None:
    assert (await call_err(client, "get_data_product", {}))["code"] == "invalid-argument"


async def test_get_unknown_id_is_not_found(client: Client) -> None:
    assert (await call_err(client, "get_data_product", {"id": "nope"}))["code"] == "not-found"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "has space"),
        ("version", "1.0"),
        ("version", "01.0.0"),
        ("title", ""),
        ("title", "x" * 256),
        ("type", "tertiary"),
        ("language", "not a tag!"),
        ("homepage", "ftp://example.org"),
        ("tags", ["ok"] * 65 + ["x"]),
        ("labels", {"bad key!": ["v"]}),
        ("schema", {"columns": []}),
        ("temporal", {"start": "2024-05-01", "end": "2024-01-01"}),
        ("files", [{"path": "a\x00b"}]),
    ],
)
async def test_invalid_field_is_invalid_argument_naming_the_field(client: Client, field: str, value: object) -> None:
    err = await call_err(client, "register_data_product", product_args(**{field: value}))
    assert err["code"] == "invalid-argument"
    assert err["field"].split(".")[0] == field


async def test_missing_required_field_is_invalid_argument(client: Client) -> None:
    args = product_args()
    del args["owner"]
    err = await call_err(client, "register_data_product", args)
    assert err["code"] == "invalid-argument"
    assert err["field"] == "owner"


async def test_update_with_the_current_revision_bumps_it(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    updated = await call_ok(
        client,
        "update_data_product",
        {"id": product["id"], "patch": {"title": "Orders", "version": "1.1.0"}, "expected_revision": 1},
    )
    assert updated["revision"] == 2
    assert updated["title"] == "Orders"
    assert updated["version"] == "1.1.0"
    assert updated["updated_at"] > product["updated_at"]


async def test_update_with_a_stale_revision_is_conflict(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    await call_ok(client, "update_data_product", {"id": product["id"], "patch": {"title": "A"}, "expected_revision": 1})
    err = await call_err(
        client, "update_data_product", {"id": product["id"], "patch": {"title": "B"}, "expected_revision": 1}
    )
    assert err["code"] == "conflict"
    assert err["current_revision"] == 2


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"name": "renamed"}, "patch.name"),
        ({"version": "2.0.0"}, "patch.version"),
        ({"version": "0.9.0"}, "patch.version"),
        ({"version": "nope"}, "patch.version"),
        ({"unknown_field": 1}, "patch.unknown_field"),
        ({}, "patch"),
    ],
)
async def test_update_rejects_identity_changes_and_bad_fields(client: Client, patch: dict, field: str) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    err = await call_err(client, "update_data_product", {"id": product["id"], "patch": patch, "expected_revision": 1})
    assert err["code"] == "invalid-argument"
    assert err["field"] == field


async def test_update_with_null_clears_an_optional_field(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args(license="MIT")))["product"]
    updated = await call_ok(
        client,
        "update_data_product",
        {"id": product["id"], "patch": {"license": None}, "expected_revision": 1},
    )
    assert updated["license"] is None


async def test_delete_removes_from_listing_and_get(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    deleted = await call_ok(client, "delete_data_product", {"id": product["id"]})
    assert deleted["status"] == "deleted"
    assert (await call_err(client, "get_data_product", {"id": product["id"]}))["code"] == "not-found"
    listing = await call_ok(client, "list_data_products", {})
    assert listing["total"] == 0
    assert (await call_err(client, "delete_data_product", {"id": product["id"]}))["code"] == "not-found"


async def test_a_deleted_identity_can_be_registered_again(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    await call_ok(client, "delete_data_product", {"id": product["id"]})
    again = await call_ok(client, "register_data_product", product_args())
    assert again["created"] is True
    assert again["product"]["id"] != product["id"]


async def test_list_pages_through_everything_once(client: Client) -> None:
    ids = set()
    for i in range(23):
        ids.add((await call_ok(client, "register_data_product", product_args(f"p{i}")))["product"]["id"])
    seen: list[str] = []
    cursor = None
    while True:
        args = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = await call_ok(client, "list_data_products", args)
        assert page["total"] == 23
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 23 and set(seen) == ids


async def test_list_filters_by_query_tags_status_and_owner(client: Client) -> None:
    await call_ok(client, "register_data_product", product_args("alpha", title="Ünïcode Umsätze", tags=["finance"]))
    await call_ok(client, "register_data_product", product_args("beta", owner="other-team", tags=["finance", "eu"]))
    await call_ok(client, "register_data_product", product_args("gamma"))

    async def names(args: dict) -> list[str]:
        return [p["name"] for p in (await call_ok(client, "list_data_products", args))["items"]]

    assert await names({"query": "umsätze"}) == ["alpha"]
    assert await names({"query": "ETA"}) == ["beta"]
    assert await names({"tags": ["finance"]}) == ["alpha", "beta"]
    assert await names({"tags": ["finance", "eu"]}) == ["beta"]
    assert await names({"owner": "other-team"}) == ["beta"]
    assert await names({"status": "draft", "query": "gam"}) == ["gamma"]
    assert await names({"status": "published"}) == []
    assert await names({"query": 'a"b OR c'}) == []


async def test_a_cursor_from_other_filters_or_tampered_is_invalid(client: Client) -> None:
    for i in range(3):
        await call_ok(client, "register_data_product", product_args(f"p{i}"))
    page = await call_ok(client, "list_data_products", {"limit": 1})
    cursor = page["next_cursor"]
    err = await call_err(client, "list_data_products", {"limit": 1, "cursor": cursor, "query": "p1"})
    assert (err["code"], err["field"]) == ("invalid-argument", "cursor")
    err = await call_err(client, "list_data_products", {"limit": 1, "cursor": cursor[:-2] + "xx"})
    assert err["field"] == "cursor"


async def test_limit_out_of_range_is_invalid_argument(client: Client) -> None:
    err = await call_err(client, "list_data_products", {"limit": 101})
    assert (err["code"], err["field"]) == ("invalid-argument", "limit")


async def test_pages_never_exceed_the_result_size_limit(client: Client) -> None:
    for i in range(12):
        await call_ok(client, "register_data_product", product_args(f"big{i}", description="d" * 16000))
    page = await call_ok(client, "list_data_products", {"limit": 100})
    assert page["total"] == 12
    assert 0 < len(page["items"]) < 12
    assert page["next_cursor"] is not None
    result = await client.call_tool("list_data_products", {"limit": 100})
    assert len(result.content[0].text.encode()) <= 64 * 1024  # type: ignore[union-attr]


async def test_unknown_tool_is_a_structured_not_found(client: Client) -> None:
    assert (await call_err(client, "no_such_tool", {}))["code"] == "not-found"


async def test_product_resource_reads_the_product(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    result = await client.read_resource(f"dataproduct://products/{product['id']}")
    assert f'"id": "{product["id"]}"' in result.contents[0].text  # type: ignore[union-attr]


async def test_server_status_reports_components_and_counts(client: Client) -> None:
    await call_ok(client, "register_data_product", product_args())
    status = await call_ok(client, "get_server_status", {})
    assert status["components"]["database"]["status"] == "ok"
    assert status["products"] == {"draft": 1}
    assert status["version"]


async def test_every_tool_has_all_four_annotations_and_an_output_schema(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert tools
    for tool in tools:
        a = tool.annotations
        assert a is not None, tool.name
        hints = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
        assert None not in hints, tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.description and len(tool.description) > 40, tool.name


async def test_register_refuses_files_outside_the_roots_naming_the_field(client: Client, tmp_path: Path) -> None:
    files = [{"path": str(tmp_path / "inside.csv")}, {"path": "/etc/passwd"}, {"path": "../../outside.csv"}]
    err = await call_err(client, "register_data_product", product_args(files=files))
    assert err["code"] == "invalid-argument"
    assert err["field"] == "files[1].path"
    assert [p["field"] for p in err["problems"]] == ["files[1].path", "files[2].path"]
    listed = await call_ok(client, "list_data_products", {})
    assert listed["total"] == 0  # nothing was stored


async def test_register_accepts_files_inside_the_roots_that_do_not_exist_yet(client: Client, tmp_path: Path) -> None:
    files = [{"path": "later/orders.csv"}, {"path": str(tmp_path / "also-later.parquet")}]
    out = await call_ok(client, "register_data_product", product_args(files=files))
    assert [f["path"] for f in out["product"]["files"]] == ["later/orders.csv", str(tmp_path / "also-later.parquet")]


async def test_update_refuses_a_file_outside_the_allowed_roots_naming_the_patch_field(client: Client) -> None:
    product = (await call_ok(client, "register_data_product", product_args()))["product"]
    err = await call_err(
        client,
        "update_data_product",
        {"id": product["id"], "patch": {"files": [{"path": "/etc/shadow"}]}, "expected_revision": 1},
    )
    assert err["code"] == "invalid-argument"
    assert err["field"] == "patch.files[0].path"
    again = await call_ok(client, "get_data_product", {"id": product["id"]})
    assert again["revision"] == 1 and again["files"] == product["files"]
