"""A real PostgreSQL for tests: 127.0.0.1:5432, database ``test``, trust auth, one schema per use.

The server is looked up once per session (user: the OS user, then ``postgres``). Without one,
PostgreSQL tests are skipped with the reason -- except in CI (``CI=true``), where they fail:
CI must run them (``.ci/run`` starts the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import asyncpg
import pytest

HOST, PORT, DATABASE = "127.0.0.1", 5432, "test"
T = TypeVar("T")

_probe: dict[str, Any] = {}


def run_sync(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a private event loop in a thread (safe from sync fixtures and from tests
    whose own loop is running)."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(fn())  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised in the caller
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(120)
    if "error" in out:
        raise out["error"]
    return out["value"]


def _users() -> list[str]:
    users = []
    with contextlib.suppress(Exception):
        users.append(getpass.getuser())
    users.append("postgres")
    return list(dict.fromkeys(users))


def admin_dsn() -> str:
    """The DSN of the test server, or skip (fail in CI) when there is none."""
    if "dsn" not in _probe:
        _probe["dsn"], _probe["reason"] = None, ""
        reasons = []
        for user in _users():
            dsn = f"postgresql://{user}@{HOST}:{PORT}/{DATABASE}"

            async def check(dsn: str = dsn) -> None:
                conn = await asyncpg.connect(dsn, timeout=5)
                try:
                    await conn.execute("SELECT 1")
                    with contextlib.suppress(asyncpg.PostgresError):  # the trigram index where permitted
                        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
                finally:
                    await conn.close()

            try:
                run_sync(check)
            except Exception as exc:
                reasons.append(f"{user}: {type(exc).__name__}: {exc}")
                continue
            _probe["dsn"] = dsn
            break
        _probe["reason"] = "; ".join(reasons)
    if _probe["dsn"] is None:
        message = (
            f"no PostgreSQL reachable at {HOST}:{PORT}/{DATABASE} (trust auth) -- {_probe['reason']}."
            " Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: PostgreSQL tests must run, but " + message, pytrace=False)
        pytest.skip(message)
    return str(_probe["dsn"])


def with_search_path(dsn: str, schema: str) -> str:
    return f"{dsn}?search_path={schema}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn(), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_schema(prefix: str = "t") -> Iterator[str]:
    """A new empty schema; yields the DSN whose search_path names it; dropped afterwards."""
    base = admin_dsn()
    schema = f"dpmcp_{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    run_sync(lambda: _admin(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(base, schema)
    finally:
        run_sync(lambda: _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


class TcpProxy:
    """A TCP forwarder to the test PostgreSQL on a fixed local port, that can go down and come back
    (the database "fails" and "returns" without touching the real server)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def dsn(self, dsn: str) -> str:
        return dsn.replace(f"{HOST}:{PORT}", f"{HOST}:{self.port}")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, PORT)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))
