"""Page cursors are signed with a secret nobody can derive: random bytes kept in the database
(shared by every replica of it) or DPMCP_CURSOR_SECRET."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mcp import Client
from tests.helpers import call_err, call_ok, product_args

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import ConfigError, Settings, load_settings
from dataproduct_mcp.server.builder import build_server
from dataproduct_mcp.services.paging import CURSOR_SECRET_NAME, CursorCodec

pytestmark = [pytest.mark.anyio, pytest.mark.both_backends]

NO_FILTERS = {"q": None, "t": (), "s": None, "o": None}  # what list_data_products signs without filters


async def first_page(client: Client, n: int = 3) -> dict:
    for i in range(n):
        await call_ok(client, "register_data_product", product_args(name=f"p{i}"))
    page = await call_ok(client, "list_data_products", {"limit": 1})
    assert page["next_cursor"] is not None
    return page


async def test_a_cursor_from_one_replica_pages_on_another(settings: Settings) -> None:
    async with Application.build(settings) as one, Application.build(settings) as two:
        async with Client(build_server(one)) as a, Client(build_server(two)) as b:
            page = await first_page(a)
            following = await call_ok(b, "list_data_products", {"limit": 1, "cursor": page["next_cursor"]})
            assert following["items"][0]["name"] == "p1"
        assert one.cursor_key.value == two.cursor_key.value
        assert len(one.cursor_key.value) == 32
        assert one.cursor_key.value == await one.store.server_secret(CURSOR_SECRET_NAME)


async def test_a_cursor_forged_from_the_deployment_is_refused(settings: Settings) -> None:
    """The old secret was sha256 of the database path and namespace: anyone who knew those could sign
    cursors. A cursor signed that way is refused; one signed with the stored secret is accepted."""
    where = settings.database_url if settings.backend == "postgresql" else settings.sqlite_path
    guessed = hashlib.sha256(f"dpmcp-cursor:{where}:{settings.ord_namespace}".encode()).digest()
    async with Application.build(settings) as app, Client(build_server(app)) as client:
        await first_page(client)
        forged = CursorCodec(guessed, purpose=b"products").encode(1, NO_FILTERS)
        err = await call_err(client, "list_data_products", {"limit": 1, "cursor": forged})
        assert (err["code"], err["field"]) == ("invalid-argument", "cursor")
        genuine = CursorCodec(app.cursor_key, purpose=b"products").encode(1, NO_FILTERS)
        page = await call_ok(client, "list_data_products", {"limit": 1, "cursor": genuine})
        assert page["items"][0]["name"] == "p1"


async def test_a_cursor_of_one_listing_is_refused_by_another(settings: Settings) -> None:
    async with Application.build(settings) as app, Client(build_server(app)) as client:
        page = await first_page(client)
        err = await call_err(client, "list_tasks", {"cursor": page["next_cursor"]})
        assert (err["code"], err["field"]) == ("invalid-argument", "cursor")


async def test_a_configured_secret_signs_cursors_across_databases(tmp_path: Path, settings: Settings) -> None:
    secret = "s" * 40
    other = tmp_path / "other"
    other.mkdir()
    configured = settings.model_copy(update={"cursor_secret": load_settings(cursor_secret=secret).cursor_secret})
    elsewhere = load_settings(data_dir=other, allowed_roots=[tmp_path], cursor_secret=secret)
    async with Application.build(configured) as one, Application.build(elsewhere) as two:
        assert one.cursor_key.value == two.cursor_key.value == secret.encode()
        async with Client(build_server(one)) as a, Client(build_server(two)) as b:
            page = await first_page(a)
            for i in range(3):
                await call_ok(b, "register_data_product", product_args(name=f"q{i}"))
            following = await call_ok(b, "list_data_products", {"limit": 1, "cursor": page["next_cursor"]})
            assert following["items"][0]["name"] == "q1"


def test_a_short_configured_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(cursor_secret="too-short")
    assert any("CURSOR_SECRET" in line for line in info.value.problems)
