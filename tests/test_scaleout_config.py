"""Scale-out settings: PostgreSQL selection, pool bounds, shared requestState keys."""

from __future__ import annotations

import pytest

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import ConfigError, load_settings
from dataproduct_mcp.persistence import open_store
from dataproduct_mcp.persistence.store import PgStore
from dataproduct_mcp.server.builder import build_server


def test_a_postgresql_url_selects_the_postgresql_store_with_its_pool_settings() -> None:
    settings = load_settings(
        database_url="postgresql://app@db:5432/dp?search_path=dpmcp", db_pool_min=3, db_pool_max=7, db_timeout_seconds=4
    )
    store = open_store(settings)
    assert isinstance(store, PgStore) and store.backend == "postgresql"
    assert (store.db.min_size, store.db.max_size, store.db.timeout) == (3, 7, 4)


def test_pool_bounds_are_checked() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(db_pool_min=5, db_pool_max=2)
    assert any("DB_POOL" in line for line in err.value.problems)


def test_request_state_keys_are_split_checked_and_redacted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    keys = ["a" * 32, "b" * 40]
    settings = load_settings(data_dir=tmp_path, request_state_keys=",".join(keys))
    assert settings.request_state_keys == keys
    with pytest.raises(ConfigError):
        load_settings(request_state_keys="short")
    app = Application.build(settings)
    build_server(app)  # a shared key ring: replicas unseal each other's requestState
    assert app.settings_summary()["request_state_keys"] == "<redacted>"
