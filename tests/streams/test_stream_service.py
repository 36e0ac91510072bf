"""StreamService and the readers/encoders without sockets: limits, tenants, tokens, reaping, formats."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import fastavro
import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from dataproduct_mcp.app import Application
from dataproduct_mcp.errors import DpError
from dataproduct_mcp.readers.source import inspect_source, iter_rows
from dataproduct_mcp.services.stream_encoding import FrameProducer, encode_bounded
from dataproduct_mcp.services.streams import StreamLimits, StreamService
from tests.streams.client import parse_batch
from tests.streams.conftest import make_table

pytestmark = pytest.mark.anyio

ROWS = 2500


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    table = make_table(ROWS).cast(
        pa.schema([("id", pa.int64()), ("name", pa.string()), ("amount", pa.float64()), ("note", pa.string())])
    )
    out = {"parquet": tmp_path / "t.parquet", "arrow": tmp_path / "t.arrow", "arrows": tmp_path / "t.arrows"}
    pq.write_table(table, out["parquet"], row_group_size=700)
    with ipc.new_file(out["arrow"], table.schema) as w:
        for batch in table.to_batches(max_chunksize=600):
            w.write_batch(batch)
    with ipc.new_stream(out["arrows"], table.schema) as w:
        for batch in table.to_batches(max_chunksize=600):
            w.write_batch(batch)
    out["csv"] = tmp_path / "t.csv"
    pacsv.write_csv(table, out["csv"])
    out["tsv"] = tmp_path / "t.tsv"
    pacsv.write_csv(table, out["tsv"], pacsv.WriteOptions(delimiter="\t", quoting_style="none"))
    lines = "".join(json.dumps(r) + "\n" for r in table.to_pylist())
    out["jsonl"] = tmp_path / "t.jsonl"
    out["jsonl"].write_text(lines)
    out["jsonl.gz"] = tmp_path / "t.jsonl.gz"
    out["jsonl.gz"].write_bytes(gzip.compress(lines.encode()))
    out["xml"] = tmp_path / "t.xml"
    out["xml"].write_text("<rows><row><id>1</id></row></rows>")
    return out


@pytest.fixture(scope="module")
def record_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same table as a JSON array (plain, gzip), an Avro file of many blocks and an xlsx sheet."""
    tmp = tmp_path_factory.mktemp("records")
    records = (
        make_table(ROWS)
        .cast(pa.schema([("id", pa.int64()), ("name", pa.string()), ("amount", pa.float64()), ("note", pa.string())]))
        .to_pylist()
    )
    out = {"json": tmp / "t.json", "json.gz": tmp / "t.json.gz", "avro": tmp / "t.avro", "xlsx": tmp / "t.xlsx"}
    text = json.dumps(records, indent=1)
    out["json"].write_text(text)
    out["json.gz"].write_bytes(gzip.compress(text.encode()))
    schema = {
        "type": "record",
        "name": "T",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": "string"},
            {"name": "amount", "type": "double"},
            {"name": "note", "type": ["null", "string"]},
        ],
    }
    with open(out["avro"], "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(schema), records, codec="deflate", sync_interval=20_000)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("t")
    ws.append(list(records[0]))
    for r in records:
        ws.append(list(r.values()))
    wb.save(out["xlsx"])
    return out


@pytest.fixture
async def streams(app: Application) -> AsyncIterator[StreamService]:
    service = StreamService(
        app.streams.policy, app.products, StreamLimits(ttl_s=60, idle_s=10, max_per_tenant=2, max_total=3)
    )
    await service.start()
    yield service
    await service.aclose()


async def code_of(awaitable: object) -> str:
    try:
        await awaitable  # type: ignore[misc]
    except DpError as err:
        return err.code
    raise AssertionError("no error")


def all_ids(fmt: str, producer: FrameProducer) -> tuple[list[int], list[int]]:
    ids: list[int] = []
    seqs: list[int] = []
    while (frames := producer.next_frames()) is not None:
        for frame in frames:
            seq, row, batch_ids = parse_batch(frame.data, fmt)
            assert row == (ids[-1] + 1 if ids else row)
            seqs.append(seq)
            ids += batch_ids.to_pylist()
    producer.close()
    return ids, seqs


@pytest.mark.parametrize("name", ["parquet", "arrow", "arrows", "csv", "tsv", "jsonl", "jsonl.gz"])
@pytest.mark.parametrize("start", [0, 699, 700, 1401, ROWS - 1, ROWS])
def test_every_source_format_yields_every_row_from_start_row_in_order(
    files: dict[str, Path], name: str, start: int
) -> None:
    info = inspect_source(files[name], None, None)
    assert info.format == {"arrows": "arrow", "jsonl.gz": "jsonl"}.get(name, name)
    assert info.rows_total == (ROWS if name in ("parquet", "arrow") else None)
    ids, seqs = all_ids("arrow", FrameProducer(info, "arrow", 333, start, 1 << 24))
    assert ids == list(range(start, ROWS))
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.parametrize("name", ["json", "json.gz", "avro", "xlsx"])
@pytest.mark.parametrize("start", [0, 699, 1401, ROWS - 1, ROWS])
def test_record_formats_yield_every_row_from_start_row_in_order(
    record_files: dict[str, Path], name: str, start: int
) -> None:
    info = inspect_source(record_files[name], None, None)
    assert info.format == name.removesuffix(".gz") and info.schema.names == ["id", "name", "amount", "note"]
    assert info.rows_total == (ROWS if name == "avro" else None)
    ids, seqs = all_ids("arrow", FrameProducer(info, "arrow", 333, start, 1 << 24))
    assert ids == list(range(start, ROWS))
    assert seqs == list(range(1, len(seqs) + 1))
    selected = inspect_source(record_files[name], None, ["amount", "id"])
    sizes = [(row, batch.num_rows, batch.schema.names) for row, batch in iter_rows(selected, 1000, 10)]
    assert sizes == [(10, 1000, ["amount", "id"]), (1010, 1000, ["amount", "id"]), (2010, 490, ["amount", "id"])]


def test_batches_have_exactly_batch_rows_rows_but_the_last(files: dict[str, Path]) -> None:
    info = inspect_source(files["csv"], None, ["amount", "id"])
    sizes = [(row, batch.num_rows, batch.schema.names) for row, batch in iter_rows(info, 1000, 10)]
    assert sizes == [(10, 1000, ["amount", "id"]), (1010, 1000, ["amount", "id"]), (2010, 490, ["amount", "id"])]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "arrow"])
def test_an_oversized_batch_is_split_to_fit_the_message_limit(files: dict[str, Path], fmt: str) -> None:
    info = inspect_source(files["parquet"], None, None)
    row, batch = next(iter_rows(info, 1000, 0))
    frames = encode_bounded(fmt, batch, row, 1, 20_000)
    assert len(frames) > 1 and all(f.size <= 20_000 for f in frames)
    assert [f.seq for f in frames] == list(range(1, len(frames) + 1))
    assert sum(f.rows for f in frames) == 1000
    with pytest.raises(DpError) as err:
        encode_bounded(fmt, batch, row, 1, 10)
    assert err.value.code == "too-large"


def test_jsonl_frames_are_valid_json_lines_with_nulls_for_non_finite_numbers() -> None:
    batch = pa.record_batch({"x": [1.5, float("nan"), None], "s": ['a"\\', "\n", None], "t": pa.array([1, 2, 3])})
    (frame,) = encode_bounded("jsonl", batch, 0, 1, 1 << 20)
    assert isinstance(frame.data, str)
    head, _, body = frame.data.partition("\n")
    assert json.loads(head) == {"type": "batch", "seq": 1, "row": 0, "rows": 3}
    assert [json.loads(line) for line in body.splitlines()] == [
        {"x": 1.5, "s": 'a"\\', "t": 1},
        {"x": None, "s": "\n", "t": 2},
        {"x": None, "s": None, "t": 3},
    ]


async def test_limits_per_tenant_and_in_total_are_rate_limited(streams: StreamService, files: dict[str, Path]) -> None:
    src = str(files["parquet"])
    await streams.open("acme", src, format="arrow")
    await streams.open("acme", src, format="arrow")
    assert await code_of(streams.open("acme", src, format="arrow")) == "rate-limited"
    await streams.open("globex", src, format="arrow")
    assert await code_of(streams.open("initech", src, format="arrow")) == "rate-limited"
    assert streams.stats()["active_sessions"] == 3


async def test_sessions_are_scoped_by_tenant_and_tokens_are_checked(
    streams: StreamService, files: dict[str, Path]
) -> None:
    session, token = await streams.open("acme", str(files["parquet"]), format="jsonl")
    with pytest.raises(DpError) as err:
        streams.close("globex", session.id)
    assert err.value.code == "not-found"
    for wrong in (None, "", token + "x", "x" * len(token)):
        with pytest.raises(DpError) as err:
            streams.authenticate(session.id, wrong)
        assert err.value.code == "unauthorized"
    with pytest.raises(DpError) as err:
        streams.authenticate("no-such-session", token)
    assert err.value.code == "unauthorized"
    assert streams.authenticate(session.id, token) is session
    assert token not in repr(session.__dict__)  # only the hash is kept
    streams.attach(session)
    with pytest.raises(DpError) as err:
        streams.attach(session)
    assert err.value.code == "conflict"
    assert streams.close("acme", session.id).close_reason == "closed"
    assert session.closed.is_set()


async def test_the_reaper_ends_idle_and_expired_sessions(streams: StreamService, files: dict[str, Path]) -> None:
    idle, _ = await streams.open("acme", str(files["parquet"]), format="arrow")
    busy, _ = await streams.open("globex", str(files["parquet"]), format="arrow")
    now = time.monotonic()
    busy.last_activity = now + 9
    assert streams.reap(now + 10.5) == 1 and idle.close_reason == "idle"
    assert streams.reap(now + 61) == 1 and busy.close_reason == "expired"
    assert streams.stats()["sessions_closed_total"] == {"idle": 1, "expired": 1}


async def test_shutdown_ends_every_session_and_refuses_new_ones(streams: StreamService, files: dict[str, Path]) -> None:
    session, _ = await streams.open("acme", str(files["parquet"]), format="arrow")
    await streams.aclose()
    assert session.close_reason == "shutdown" and session.closed.is_set()
    assert await code_of(streams.open("acme", str(files["parquet"]), format="arrow")) == "shutting-down"


async def test_bad_sources_and_arguments_fail_with_stable_codes(
    streams: StreamService, files: dict[str, Path], tmp_path: Path
) -> None:
    src = str(files["parquet"])
    cases = [
        (streams.open("acme", str(files["xml"]), format="jsonl"), "unsupported-format"),
        (streams.open("acme", "/etc/passwd", format="jsonl"), "path-not-allowed"),
        (streams.open("acme", str(tmp_path / "missing.csv"), format="jsonl"), "file-not-found"),
        (streams.open("acme", src, format="jsonl", columns=["nope"]), "invalid-argument"),
        (streams.open("acme", src, format="xml"), "invalid-argument"),
        (streams.open("acme", src, format="jsonl", batch_rows=0), "invalid-argument"),
        (streams.open("acme", src, format="jsonl", start_row=ROWS + 1), "invalid-argument"),
        (streams.open("acme", src, format="jsonl", file=0), "invalid-argument"),
        (streams.open("acme", "5f0c4a52-2d2b-4d7e-9d53-6a1d6c3b9a11", format="jsonl"), "not-found"),
    ]
    for awaitable, code in cases:
        assert await code_of(awaitable) == code
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"xs": [[1, 2], [3]]}), nested)
    assert await code_of(streams.open("acme", str(nested), format="csv")) == "invalid-argument"
    assert streams.stats()["active_sessions"] == 0


async def test_a_reconnect_waits_for_the_dropped_connection_but_a_second_live_one_is_refused(
    streams: StreamService, files: dict[str, Path]
) -> None:
    session, token = await streams.open("acme", str(files["parquet"]), format="arrow")
    streams.attach(session)

    async def old_connection_winds_down() -> None:
        await anyio.sleep(0.1)
        streams.detach(session, completed=False)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(old_connection_winds_down)
            await streams.attach_when_free(session, wait_s=5)  # the reconnect: accepted once the old one is gone
        assert session.attached
        started = time.monotonic()
        with pytest.raises(DpError) as err:  # the old connection is still there after the wait: refused
            await streams.attach_when_free(session, wait_s=0.2)
        assert err.value.code == "conflict" and time.monotonic() - started >= 0.2
        streams.detach(session, completed=True)  # the stream completed: the session ended
        with pytest.raises(DpError) as err:
            await streams.attach_when_free(session, wait_s=0.2)
        assert err.value.code == "unauthorized"
