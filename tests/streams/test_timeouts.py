"""Sessions end by themselves: idle timeout, absolute expiry, server shutdown (short timeouts via env)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.streams.client import open_stream, status, ws_connect
from tests.streams.conftest import StreamServer, run_server
from tests.streams.test_streaming import wait_for

pytestmark = pytest.mark.anyio

TTL_S = 3
IDLE_S = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[StreamServer]:
    home = tmp_path_factory.mktemp("srv-timeouts")
    with run_server(home, data_dir, stream_ttl_seconds=str(TTL_S), stream_idle_seconds=str(IDLE_S)) as srv:
        yield srv


def closed_count(detail: dict[str, object], reason: str) -> int:
    closed = detail["sessions_closed_total"]
    assert isinstance(closed, dict)
    return int(closed.get(reason, 0))


async def test_a_session_nobody_connects_to_idles_out_and_its_token_is_refused(
    server: StreamServer, small_parquet: Path
) -> None:
    with anyio.fail_after(30):
        before = closed_count(await status(server), "idle")
        stream = await open_stream(server, source=str(small_parquet), format="arrow")
        await wait_for(server, lambda d: closed_count(d, "idle") > before and d["active_sessions"] == 0)
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(stream):
                pass
        assert refused.value.response.status_code == 401


async def test_a_client_that_stops_reading_is_cut_off_after_the_idle_timeout(
    server: StreamServer, big_parquet: Path
) -> None:
    with anyio.fail_after(30):
        before = closed_count(await status(server), "idle")
        stream = await open_stream(server, source=str(big_parquet), format="jsonl", batch_rows=10_000)
        async with ws_connect(stream, max_queue=1) as ws:
            await ws.recv()  # schema; then read nothing until the server gives up on us
            detail = await wait_for(server, lambda d: closed_count(d, "idle") > before)
            assert detail["active_sessions"] == 0
            with pytest.raises(ConnectionClosed):  # what was in flight drains, then the connection ends
                for _ in range(10_000):
                    await ws.recv()


async def test_a_session_expires_at_its_deadline_even_while_streaming(server: StreamServer, big_parquet: Path) -> None:
    with anyio.fail_after(30):
        stream = await open_stream(server, source=str(big_parquet), format="arrow", batch_rows=1000)
        async with ws_connect(stream) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(100_000):  # 1000 batches: far more than TTL_S allows at this pace
                    await ws.recv()
                    await anyio.sleep(0.01)  # a steady, slowish reader: never idle, but not done in time
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
        assert closed_count(await status(server), "expired") >= 1
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(stream):
                pass
        assert refused.value.response.status_code == 401


async def test_shutdown_closes_streaming_clients_and_the_server_exits_cleanly(
    tmp_path: Path, data_dir: Path, big_parquet: Path
) -> None:
    with anyio.fail_after(60):
        with run_server(tmp_path, data_dir) as srv:  # asserts exit status 0 on SIGTERM
            stream = await open_stream(srv, source=str(big_parquet), format="arrow", batch_rows=1000)
            ws = await ws_connect(stream)
            await ws.recv()
            await ws.recv()
            # SIGTERM while the client keeps reading, as a live client does (waiting for the exit
            # first would stop this event loop, and with it the reads the close frame queues behind).
            os.kill(srv.pid, signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(100_000):
                    await ws.recv()
            assert await anyio.to_thread.run_sync(srv.wait, 20) == 0  # a clean exit, open streams included
        assert closed.value.rcvd is not None and closed.value.rcvd.code in (1001, 1012)
        await ws.close()
