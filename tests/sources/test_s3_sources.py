"""Sources on a real S3-compatible server (moto, 127.0.0.1, authentication enforced): objects,
prefixes, globs, Hive partitions, Delta tables, and every way reaching storage can fail."""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
from collections.abc import Callable
from pathlib import Path

import anyio
import deltalake
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from dataproduct_mcp.errors import DpError
from dataproduct_mcp.services.files import PathPolicy
from dataproduct_mcp.sources.storage import S3Config, Storage
from dataproduct_mcp.validators.base import ValidationOptions
from dataproduct_mcp.validators.dataset import validate_file_of, validate_listing
from tests.s3 import S3Server


def frame(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "name": [f"name-{i}-Zürich" for i in range(start, start + n)],
            "amount": pa.array([i / 4 for i in range(n)], pa.float64()),
        }
    )


def parquet_bytes(t: pa.Table, **kw: object) -> bytes:
    buf = io.BytesIO()
    pq.write_table(t, buf, **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def csv_bytes(t: pa.Table) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(t, buf)
    return buf.getvalue()


def policy_for(s3: S3Server, tmp_path: Path, prefix: str, storage: Storage | None = None) -> PathPolicy:
    return PathPolicy([tmp_path], prefixes=[prefix], storage=storage or s3.storage(block_bytes=64 * 1024))


def code_of(call: Callable[[], object]) -> str:
    try:
        call()
    except DpError as exc:
        return exc.code
    raise AssertionError("no error")


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("kind", ["csv", "parquet", "csv.gz"])
def test_a_single_object_is_validated_once_through_ranged_reads(s3: S3Server, tmp_path: Path, kind: str) -> None:
    bucket = s3.bucket()
    t = frame(30_000)
    data = {"csv": csv_bytes(t), "parquet": parquet_bytes(t, row_group_size=7_000)}.get(kind)
    if data is None:
        data = gzip.compress(csv_bytes(t), mtime=0)
    s3.put(f"{bucket}/in/orders.{kind}", data)
    policy = policy_for(s3, tmp_path, f"s3://{bucket}")
    listing = policy.listing(f"s3://{bucket}/in/orders.{kind}")
    assert listing.single and listing.files[0].size == len(data)
    report = validate_file_of(listing, listing.files[0], policy.storage, ValidationOptions())
    assert report.valid, report.errors
    assert report.rows == 30_000 and report.bytes == len(data)
    assert report.format == ("parquet" if kind == "parquet" else "csv")
    assert report.sha256 == hashlib.sha256(data).hexdigest()  # hashed on the one pass, in order
    assert report.path == f"s3://{bucket}/in/orders.{kind}"


def test_a_hive_partitioned_prefix_is_one_report_and_a_glob_selects_part_of_it(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    blobs = {}
    for region in ("eu", "us"):
        for day in (1, 2):
            key = f"{bucket}/sales/region={region}/day={day}/part-0.parquet"
            blobs[key] = parquet_bytes(frame(1_000, day * 1000))
            s3.put(key, blobs[key])
    s3.put(f"{bucket}/sales/_SUCCESS", b"")
    policy = policy_for(s3, tmp_path, f"s3://{bucket}/sales")
    listing = policy.listing(f"s3://{bucket}/sales/")
    assert listing.kind == "directory" and len(listing.files) == 4
    report = validate_listing(listing, policy.storage, ValidationOptions(), parallel=3)
    assert report.valid and report.rows == 4_000 and report.bytes == sum(len(b) for b in blobs.values())
    assert [(c.name, c.type) for c in report.columns][-2:] == [("region", "string"), ("day", "integer")]
    assert report.extra["partitions"] == ["region", "day"] and report.extra["source"]["storage"] == "s3"
    assert {s["sha256"] for s in report.extra["files"]} == {hashlib.sha256(b).hexdigest() for b in blobs.values()}
    glob = policy.listing(f"s3://{bucket}/sales/region=eu/**/*.parquet")
    assert glob.kind == "glob" and [f.relative for f in glob.files] == ["day=1/part-0.parquet", "day=2/part-0.parquet"]


def test_schema_drift_between_objects_is_a_schema_mismatch_naming_the_object(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    s3.put(f"{bucket}/ds/a.parquet", parquet_bytes(frame(10)))
    s3.put(f"{bucket}/ds/b.parquet", parquet_bytes(frame(10).set_column(0, "id", pa.array(["x"] * 10))))
    policy = policy_for(s3, tmp_path, f"s3://{bucket}")
    report = validate_listing(policy.listing(f"s3://{bucket}/ds"), policy.storage, ValidationOptions())
    assert [(e.code, e.file) for e in report.errors] == [("schema-mismatch", f"s3://{bucket}/ds/b.parquet")]


def test_a_delta_table_on_s3_is_read_from_its_log_at_a_version(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    uri = f"s3://{bucket}/lake/orders"
    events = frame(8).append_column("region", pa.array(["eu", "us"] * 4))
    deltalake.write_deltalake(uri, events, partition_by=["region"], storage_options=s3.delta_options())
    deltalake.write_deltalake(uri, events, partition_by=["region"], mode="append", storage_options=s3.delta_options())
    policy = policy_for(s3, tmp_path, f"s3://{bucket}/lake")
    listing = policy.listing(uri)
    assert listing.kind == "delta" and listing.delta is not None and listing.delta.version == 1
    report = validate_listing(listing, policy.storage, ValidationOptions())
    assert report.valid and report.rows == 16 and report.extra["delta"]["version"] == 1
    assert [c.name for c in report.columns] == ["id", "name", "amount", "region"]
    first = validate_listing(policy.listing(f"{uri}@v0"), policy.storage, ValidationOptions())
    assert first.rows == 8 and first.extra["delta"]["version"] == 0


def test_a_uri_outside_every_allowed_prefix_is_refused_before_anything_is_fetched(tmp_path: Path) -> None:
    # The storage points at a port where nothing listens: any request would be storage-unavailable.
    storage = Storage(
        S3Config(endpoint_url=f"http://127.0.0.1:{dead_port()}", access_key_id="a", secret_access_key="b")
    )
    policy = PathPolicy([tmp_path], prefixes=["s3://lake/data"], storage=storage)
    for raw in (
        "s3://lake/database/x.csv",
        "s3://lake/data/../secret/x.csv",
        "s3://lake/data/%2E%2E/secret/",
        "s3://other/data/x.csv",
        "s3://lake/**/*.csv",
    ):
        assert code_of(lambda raw=raw: policy.listing(raw)) == "path-not-allowed", raw  # type: ignore[misc]
    assert code_of(lambda: policy.listing("s3://LAKE/data/x.csv")) == "storage-unavailable"  # allowed: fetched


@pytest.mark.anyio
async def test_an_unreachable_endpoint_is_storage_unavailable_within_the_timeouts(tmp_path: Path) -> None:
    config = S3Config(
        endpoint_url=f"http://127.0.0.1:{dead_port()}",
        access_key_id="a",
        secret_access_key="b",
        connect_timeout_s=1,
        request_timeout_s=2,
        max_attempts=2,
    )
    policy = PathPolicy([tmp_path], prefixes=["s3://lake"], storage=Storage(config))
    with anyio.fail_after(30):  # a hang guard, not a timing assertion
        for raw in ("s3://lake/x.csv", "s3://lake/prefix/", f"s3://lake/t@v{1}"):
            code = await anyio.to_thread.run_sync(lambda raw=raw: code_of(lambda: policy.listing(raw)))
            assert code == "storage-unavailable", raw


def test_wrong_credentials_are_refused_by_the_server_as_forbidden(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    s3.put(f"{bucket}/x.csv", b"a\n1\n")
    s3.put(f"{bucket}/p/y.csv", b"a\n1\n")
    for overrides in ({"secret_access_key": "not-the-secret"}, {"access_key_id": "AKIANOSUCHKEY0000000"}):
        policy = policy_for(s3, tmp_path, f"s3://{bucket}", s3.storage(**overrides))
        for raw in (f"s3://{bucket}/x.csv", f"s3://{bucket}/p/"):
            try:
                policy.listing(raw)
            except DpError as exc:
                assert exc.code == "forbidden", (overrides, raw)
                assert "DPMCP_S3_SECRET_ACCESS_KEY" in exc.suggestion
                assert "not-the-secret" not in exc.message + exc.suggestion
            else:
                raise AssertionError("listed with wrong credentials")


def test_missing_buckets_keys_and_prefixes_are_file_not_found(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    s3.put(f"{bucket}/only/x.csv", b"a\n1\n")
    policy = PathPolicy([tmp_path], prefixes=[f"s3://{bucket}", "s3://no-such-bucket-here"], storage=s3.storage())
    assert code_of(lambda: policy.listing("s3://no-such-bucket-here/x.csv")) == "file-not-found"
    assert code_of(lambda: policy.listing("s3://no-such-bucket-here/")) == "file-not-found"
    assert code_of(lambda: policy.listing(f"s3://{bucket}/only/nope.csv")) == "file-not-found"
    assert code_of(lambda: policy.listing(f"s3://{bucket}/empty/")) == "file-not-found"
    assert code_of(lambda: policy.listing(f"s3://{bucket}/only/*.parquet")) == "file-not-found"


def test_an_object_that_shrinks_under_the_reader_is_an_error_not_a_finding(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    data = csv_bytes(frame(50_000))
    s3.put(f"{bucket}/x.csv", data)
    policy = policy_for(s3, tmp_path, f"s3://{bucket}")
    listing = policy.listing(f"s3://{bucket}/x.csv")
    s3.put(f"{bucket}/x.csv", data[: len(data) // 3])  # rewritten between listing and reading
    assert code_of(lambda: validate_file_of(listing, listing.files[0], policy.storage, ValidationOptions())) == (
        "file-not-found"
    )
