"""Shared fixtures: real SQLite files in tmp_path, a real Application, in-process MCP clients."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import Settings, load_settings
from dataproduct_mcp.logs import configure_logging
from dataproduct_mcp.server.builder import DataProductServer, build_server

PROTOCOL_ERAS = ["legacy", "2026-07-28"]  # 2025-11-25 handshake era, and the stateless 2026-07-28 era


@pytest.fixture(scope="session", autouse=True)
def _stderr_logging() -> None:
    # Installs our handler on the root logger first, so the SDK adds no handler of its own.
    configure_logging("INFO", "text")
    logging.getLogger("dataproduct_mcp").setLevel(logging.DEBUG)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    return load_settings(data_dir=data, allowed_roots=[tmp_path])


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Application]:
    application = Application.build(settings)
    async with application:
        application.started = True
        yield application


@pytest.fixture
def server(app: Application) -> DataProductServer:
    return build_server(app)


@pytest.fixture(params=PROTOCOL_ERAS)
async def client(request: pytest.FixtureRequest, server: DataProductServer) -> AsyncIterator[Client]:
    async with Client(server, mode=request.param) as c:
        yield c
