"""Fixtures for server tests: a real `serve --transport http` subprocess with bearer auth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.procs import HttpServer, make_token, server_env, start_server


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[HttpServer]:
    token = make_token(tmp_path)
    env = server_env(tmp_path) | {"DPMCP_AUTH_TOKENS_FILE": str(tmp_path / "tokens.json")}
    with start_server(["--port", "0"], env) as url:
        yield HttpServer(url, token)
