"""An unexpected exception inside a tool is `internal` with a trace id that finds the traceback in the logs."""

from __future__ import annotations

import logging

import pytest
from mcp import Client
from tests.helpers import call_err, product_args

from dataproduct_mcp.server.builder import DataProductServer

pytestmark = pytest.mark.anyio


async def test_internal_error_trace_id_finds_the_traceback(
    server: DataProductServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire at /very/private/path")

    monkeypatch.setattr(server.app.store, "find_live_identity", explode)
    caplog.set_level(logging.ERROR)
    async with Client(server) as client:
        err = await call_err(client, "register_data_product", product_args())
    assert err["code"] == "internal"
    assert "/very/private" not in err["message"]
    records = [r for r in caplog.records if getattr(r, "trace_id", None) == err["trace_id"]]
    assert records, "no log record carries the trace id"
    assert any(r.exc_info and "disk on fire" in str(r.exc_info[1]) for r in records)
