"""RemoteObject on a real S3-compatible server: the zero-copy reads pyarrow's file wrapper uses."""

from __future__ import annotations

import hashlib
import io
import os

import pyarrow as pa
import pyarrow.parquet as pq

from dataproduct_mcp.sources.remote import RemoteObject
from tests.s3 import S3Server

BLOCK = 64 * 1024


def test_reads_inside_one_block_are_views_and_every_read_returns_the_objects_bytes(s3: S3Server) -> None:
    bucket = s3.bucket()
    data = os.urandom(5 * BLOCK + 123)
    s3.put(f"{bucket}/blob.bin", data)
    with RemoteObject(s3.fs(), f"{bucket}/blob.bin", len(data), f"s3://{bucket}/blob.bin", block_bytes=BLOCK) as obj:
        handle = obj.open()
        view = handle.read_buffer(1000)
        assert isinstance(view, memoryview) and view.readonly  # no copy of the block
        assert bytes(view) == data[:1000] and handle.tell() == 1000
        handle.seek(BLOCK - 10)
        across = handle.read_buffer(20)  # spans two blocks: joined
        assert bytes(across) == data[BLOCK - 10 : BLOCK + 10]
        handle.seek(BLOCK + 10)
        plain = handle.read(BLOCK)
        assert isinstance(plain, bytes) and plain == data[BLOCK + 10 : 2 * BLOCK + 10]
        buffer = bytearray(300)
        handle.seek(3 * BLOCK)
        assert handle.readinto(buffer) == 300 and bytes(buffer) == data[3 * BLOCK : 3 * BLOCK + 300]
        handle.seek(-50, io.SEEK_END)
        tail = handle.read_buffer(-1)  # the kept tail, outside the window
        assert bytes(tail) == data[-50:] and handle.read_buffer(10) == b""
        assert obj.sha256() == hashlib.sha256(data).hexdigest()


def test_pyarrow_decodes_a_parquet_object_from_the_views(s3: S3Server) -> None:
    bucket = s3.bucket()
    table = pa.table({"id": pa.array(range(50_000), pa.int64()), "name": [f"näme-{i}" for i in range(50_000)]})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=10_000, write_page_checksum=True)
    data = buf.getvalue()
    s3.put(f"{bucket}/t.parquet", data)
    with RemoteObject(s3.fs(), f"{bucket}/t.parquet", len(data), f"s3://{bucket}/t.parquet", block_bytes=BLOCK) as obj:
        pf = pq.ParquetFile(obj.open(), pre_buffer=True, page_checksum_verification=True)
        batches = list(pf.iter_batches(batch_size=4096))
        assert pa.Table.from_batches(batches).equals(table)
        pf.close()
        assert obj.sha256() == hashlib.sha256(data).hexdigest()


def test_an_object_of_at_most_two_blocks_is_fetched_in_one_request(s3: S3Server) -> None:
    bucket = s3.bucket()
    for size, reads in ((2 * BLOCK, 1), (2 * BLOCK + 1, 3)):
        data = os.urandom(size)
        s3.put(f"{bucket}/o{size}", data)
        with RemoteObject(s3.fs(), f"{bucket}/o{size}", size, f"s3://{bucket}/o{size}", block_bytes=BLOCK) as obj:
            assert obj.blocks == reads
            handle = obj.open()
            assert bytes(handle.read_buffer(-1)) == data
            assert obj.sha256() == hashlib.sha256(data).hexdigest()
            assert obj.requests == 1 + reads  # the open, then one ranged read per block
