"""Real server subprocesses for end-to-end tests: start, read the announced URL, stop cleanly."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp.client.streamable_http import streamable_http_client

EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))


def server_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    env.update({"DPMCP_DATA_DIR": str(tmp_path / "data"), "DPMCP_ALLOWED_ROOTS": str(tmp_path)})
    return env


def make_token(tmp_path: Path, tenant: str = "acme") -> str:
    """Create a real token with the CLI, recorded in tmp_path/tokens.json."""
    out = subprocess.run(
        [EXE, "token", "create", "--tenant", tenant, "--name", "test", "--file", str(tmp_path / "tokens.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.split("token: ", 1)[1].split()[0]


@contextlib.asynccontextmanager
async def authed(url: str, token: str) -> AsyncIterator[Any]:
    """An MCP Streamable HTTP transport that sends the bearer token (and closes its HTTP client)."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            yield streams


@dataclass
class HttpServer:
    url: str
    token: str


def spawn_server(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start `serve --transport http` and return the process and its URL (the caller stops it;
    stderr keeps being drained so the server never blocks on a full pipe)."""
    proc = subprocess.Popen(
        [EXE, "serve", "--transport", "http", "--host", "127.0.0.1", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    url = None
    for line in proc.stderr:  # bounded: the process exits (EOF) if it fails to start
        match = re.search(r"listening on (http://\S+)/mcp", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        proc.wait()
        proc.stderr.close()
        raise AssertionError("server did not announce its address")
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    return proc, url


def kill_hard(proc: subprocess.Popen[str]) -> None:
    """SIGKILL: no shutdown code runs (the crash case)."""
    proc.kill()
    proc.wait(timeout=20)
    if proc.stderr is not None:
        proc.stderr.close()


@contextlib.contextmanager
def start_server(args: list[str], env: dict[str, str]) -> Iterator[str]:
    proc = subprocess.Popen(
        [EXE, "serve", "--transport", "http", "--host", "127.0.0.1", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        assert proc.stderr is not None
        for line in proc.stderr:  # bounded: the process exits (EOF) if it fails to start
            match = re.search(r"listening on (http://\S+)/mcp", line)
            if match:
                url = match.group(1)
                break
        assert url, "server did not announce its address"
        # Keep draining stderr so a chatty server never blocks on a full pipe.
        drain = threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True)  # type: ignore[union-attr]
        drain.start()
        yield url
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=20) == 0  # SIGTERM is a clean shutdown
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
