"""Fixtures for streaming tests: a 1 M-row Parquet file and real `serve --transport http`
subprocesses with bearer auth for two tenants (acme, globex) and stream settings from env."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))
BIG_ROWS = 1_000_000
NOTE = "x" * 80  # a wide-ish column, so the JSON Lines form of the file is ~150 MB


def make_table(rows: int, offset: int = 0) -> pa.Table:
    ids = pa.array(range(offset, offset + rows), type=pa.int64())
    return pa.table(
        {
            "id": ids,
            "name": pc.binary_join_element_wise("row-", pc.cast(ids, pa.string()), ""),
            "amount": pc.divide(pc.cast(ids, pa.float64()), 100.0),
            "note": pa.array([NOTE] * rows, type=pa.string()).dictionary_encode(),
        }
    )


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stream-data")


@pytest.fixture(scope="session")
def big_parquet(data_dir: Path) -> Path:
    """1 M rows in 10 row groups (id = row index)."""
    path = data_dir / "big.parquet"
    with pq.ParquetWriter(path, make_table(1).schema) as writer:
        for start in range(0, BIG_ROWS, 100_000):
            writer.write_table(make_table(100_000, start), row_group_size=100_000)
    return path


@pytest.fixture(scope="session")
def small_parquet(data_dir: Path) -> Path:
    path = data_dir / "small.parquet"
    pq.write_table(make_table(20_000), path, row_group_size=5_000)
    return path


@dataclass
class StreamServer:
    url: str
    pid: int
    tokens: dict[str, str]  # tenant -> bearer token of the MCP endpoint
    wait: Callable[[float], int]  # the process's exit status, waiting up to that many seconds

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"


def _tokens_file(path: Path) -> dict[str, str]:
    tokens = {"acme": "dpmcp_test_acme_" + "a" * 32, "globex": "dpmcp_test_globex_" + "b" * 32}
    entries = [
        {"sha256": hashlib.sha256(t.encode()).hexdigest(), "tenant": tenant, "name": "test"}
        for tenant, t in tokens.items()
    ]
    path.write_text(json.dumps({"tokens": entries}))
    return tokens


@contextlib.contextmanager
def run_server(home: Path, data: Path, **settings: str) -> Iterator[StreamServer]:
    """A real server subprocess; ``settings`` are DPMCP_* variables without the prefix."""
    (home / "db").mkdir(exist_ok=True)
    tokens = _tokens_file(home / "tokens.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    env.update(
        {
            "DPMCP_DATA_DIR": str(home / "db"),
            "DPMCP_ALLOWED_ROOTS": os.pathsep.join([str(home), str(data)]),
            "DPMCP_AUTH_TOKENS_FILE": str(home / "tokens.json"),
            **{"DPMCP_" + k.upper(): v for k, v in settings.items()},
        }
    )
    proc = subprocess.Popen(
        [EXE, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        assert proc.stderr is not None
        for line in proc.stderr:  # bounded: EOF if the process fails to start
            match = re.search(r"listening on (http://\S+)/mcp", line)
            if match:
                url = match.group(1)
                break
        assert url, "server did not announce its address"
        drain = threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True)  # type: ignore[union-attr]
        drain.start()
        yield StreamServer(url, proc.pid, tokens, proc.wait)
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=20) == 0  # SIGTERM is a clean shutdown, open streams included
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[StreamServer]:
    """Default timeouts; room for 50 concurrent sessions of one tenant."""
    with run_server(tmp_path_factory.mktemp("srv"), data_dir, stream_max_per_tenant="64") as srv:
        yield srv
