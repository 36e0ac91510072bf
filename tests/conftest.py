"""Shared fixtures: real SQLite files in tmp_path, a real Application, in-process MCP clients."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from mcp import Client

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import Settings, load_settings
from dataproduct_mcp.logs import configure_logging
from dataproduct_mcp.server.builder import DataProductServer, build_server
from tests.pg import fresh_schema

if TYPE_CHECKING:
    from tests.s3 import S3Server

PROTOCOL_ERAS = ["legacy", "2026-07-28"]  # 2025-11-25 handshake era, and the stateless 2026-07-28 era
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_backends: run on SQLite and on PostgreSQL (the `backend` fixture; tests/pg.py)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Tests marked both_backends run once per store backend; everything else stays on SQLite.
    if metafunc.definition.get_closest_marker("both_backends") and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session", autouse=True)
def _stderr_logging() -> None:
    # Installs our handler on the root logger first, so the SDK adds no handler of its own.
    configure_logging("INFO", "text")
    logging.getLogger("dataproduct_mcp").setLevel(logging.DEBUG)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(backend: str) -> Iterator[str | None]:
    """None for SQLite (a file in the data dir); for PostgreSQL a DSN naming a fresh schema."""
    if backend == "sqlite":
        yield None
        return
    with fresh_schema() as dsn:
        yield dsn


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    pg = {"database_url": database_url, "db_pool_min": 1, "db_pool_max": 5} if database_url else {}
    return load_settings(data_dir=data, allowed_roots=[tmp_path], **pg)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Application]:
    application = Application.build(settings)
    async with application:
        application.runtime.started = True
        yield application


@pytest.fixture
def server(app: Application) -> DataProductServer:
    return build_server(app)


@pytest.fixture(params=PROTOCOL_ERAS)
async def client(request: pytest.FixtureRequest, server: DataProductServer) -> AsyncIterator[Client]:
    async with Client(server, mode=request.param) as c:
        yield c


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """A real S3-compatible server (moto) on 127.0.0.1 with authentication enforced (tests/s3.py)."""
    from tests.s3 import running_s3

    with running_s3() as server:
        yield server
