"""open_stream over a Hive-partitioned dataset on a real S3-compatible server (moto) and over
record formats (Avro, a JSON array) read record by record, through a real
`serve --transport http` subprocess and a `websockets` client."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import fastavro
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from tests.s3 import S3Server
from tests.streams.client import call, open_stream, read_all, ws_connect
from tests.streams.conftest import StreamServer, make_table, run_server
from tests.streams.test_streaming import assert_rows_in_order

pytestmark = pytest.mark.anyio

LAYOUT = [("eu", 0, 1000), ("eu", 1000, 1000), ("us", 2000, 1000)]  # region, first id, rows


@pytest.fixture(scope="module")
def dataset(s3: S3Server) -> str:
    bucket = s3.bucket()
    for i, (region, start, rows) in enumerate(LAYOUT):
        table = pa.table({"id": pa.array(range(start, start + rows), pa.int64()), "v": [float(start)] * rows})
        buf = io.BytesIO()
        pq.write_table(table, buf, row_group_size=400)
        s3.put(f"{bucket}/ds/region={region}/part-{i}.parquet", buf.getvalue())
    s3.put(f"{bucket}/ds/_SUCCESS", b"")
    return bucket


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory, s3: S3Server, dataset: str) -> Iterator[StreamServer]:
    home, data = tmp_path_factory.mktemp("srv-s3"), tmp_path_factory.mktemp("data-s3")
    settings = {k.removeprefix("DPMCP_").lower(): v for k, v in s3.env().items()}
    roots = os.pathsep.join([str(home), str(data), f"s3://{dataset}/ds"])
    with run_server(home, data, allowed_roots=roots, **settings) as srv:
        yield srv


async def test_an_s3_dataset_streams_its_files_in_order_with_the_partition_column(
    s3_server: StreamServer, dataset: str
) -> None:
    with anyio.fail_after(120):
        stream = await open_stream(s3_server, source=f"s3://{dataset}/ds/", format="arrow", batch_rows=700)
        assert stream["rows_total"] == 3000 and stream["columns"] == ["id", "v", "region"]
        regions: list[str] = []
        async with ws_connect(stream) as ws:
            schema = json.loads(await ws.recv())
            assert [c["name"] for c in schema["columns"]] == ["id", "v", "region"]
            ids = []
            async for message in ws:
                if isinstance(message, str):
                    end = json.loads(message.partition("\n")[0])
                    assert end["type"] == "end" and end["rows"] == 3000
                    break
                table = ipc.open_stream(pa.py_buffer(message)).read_all()
                ids.extend(table.column("id").to_pylist())
                regions.extend(table.column("region").to_pylist())
        assert ids == list(range(3000))
        assert regions == ["eu"] * 2000 + ["us"] * 1000


async def test_an_s3_dataset_resumes_from_a_row_in_a_later_file(s3_server: StreamServer, dataset: str) -> None:
    with anyio.fail_after(120):
        stream = await open_stream(s3_server, source=f"s3://{dataset}/ds", format="jsonl", batch_rows=500)
        async with ws_connect(stream, start_row=1500) as ws:
            received = await read_all(ws, "jsonl")
        assert_rows_in_order(received, 1500, 3000, 500)


async def test_streaming_outside_the_allowed_prefixes_is_refused(s3_server: StreamServer, dataset: str) -> None:
    ok, body = await call(s3_server, "open_stream", {"source": f"s3://{dataset}/other/", "format": "arrow"})
    assert not ok and body["error"]["code"] == "path-not-allowed"


RECORD_ROWS = 5000


@pytest.fixture(scope="module")
def record_sources(data_dir: Path) -> dict[str, Path]:
    records = make_table(RECORD_ROWS).select(["id", "name", "amount"]).to_pylist()
    schema = {
        "type": "record",
        "name": "Row",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": "string"},
            {"name": "amount", "type": "double"},
        ],
    }
    out = {"avro": data_dir / "rows.avro", "json": data_dir / "rows.json"}
    with open(out["avro"], "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(schema), records, codec="deflate", sync_interval=8000)
    out["json"].write_text(json.dumps(records))
    return out


@pytest.mark.parametrize("source", ["avro", "json"])
async def test_a_record_format_streams_over_a_websocket_and_resumes_mid_file(
    server: StreamServer, record_sources: dict[str, Path], source: str
) -> None:
    with anyio.fail_after(60):
        stream = await open_stream(server, source=str(record_sources[source]), format="arrow", batch_rows=700)
        assert stream["rows_total"] == (RECORD_ROWS if source == "avro" else None)
        assert stream["columns"] == ["id", "name", "amount"]
        async with ws_connect(stream, start_row=1500) as ws:
            received = await read_all(ws, "arrow")
        assert received.schema["columns"][0] == {"name": "id", "type": "int64", "nullable": source == "json"}
        assert_rows_in_order(received, 1500, RECORD_ROWS, 700)
