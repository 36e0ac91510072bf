"""Local directories, globs, Hive partitions and Delta tables: listed by the path policy and
validated into one report per dataset."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import deltalake
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataproduct_mcp.domain.schema import TableSchema
from dataproduct_mcp.errors import DpError
from dataproduct_mcp.services.files import PathPolicy
from dataproduct_mcp.validators.base import Cancelled, ValidationOptions
from dataproduct_mcp.validators.dataset import dataset_sha256, validate_listing


def table(n: int, start: int = 0) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()), "name": [f"n{i}" for i in range(n)]})


def write_partitioned(root: Path) -> None:
    for region in ("eu", "us"):
        for year in (2024, 2025):
            d = root / f"region={region}" / f"year={year}"
            d.mkdir(parents=True)
            pq.write_table(table(10, year), d / "part-0.parquet")
    (root / "_SUCCESS").write_text("")
    (root / ".hidden.parquet").write_bytes(b"junk")


def code_of(call: object) -> str:
    try:
        call()  # type: ignore[operator]
    except DpError as exc:
        return exc.code
    raise AssertionError("no error")


def test_a_hive_partitioned_directory_is_one_report_with_partition_columns(tmp_path: Path) -> None:
    root = tmp_path / "sales"
    write_partitioned(root)
    policy = PathPolicy([tmp_path])
    listing = policy.listing("sales")
    assert listing.kind == "directory" and listing.format == "parquet"
    assert [f.relative for f in listing.files] == [
        "region=eu/year=2024/part-0.parquet",
        "region=eu/year=2025/part-0.parquet",
        "region=us/year=2024/part-0.parquet",
        "region=us/year=2025/part-0.parquet",
    ]
    report = validate_listing(listing, policy.storage, ValidationOptions(), parallel=2)
    assert report.valid and report.rows == 40 and report.bytes == listing.total_bytes
    assert [(c.name, c.type) for c in report.columns] == [
        ("id", "integer"),
        ("name", "string"),
        ("region", "string"),
        ("year", "integer"),
    ]
    assert report.extra["source"]["files"] == 4 and report.extra["partitions"] == ["region", "year"]
    digests = [(f.relative, f.size, hashlib.sha256(Path(f.path).read_bytes()).hexdigest()) for f in listing.files]
    assert report.sha256 == dataset_sha256(digests)
    assert [s["sha256"] for s in report.extra["files"]] == [d[2] for d in digests]


def test_a_declared_schema_checks_partition_values_instead_of_asking_the_files_for_them(tmp_path: Path) -> None:
    root = tmp_path / "sales"
    write_partitioned(root)
    (root / "region=eu" / "year=later").mkdir()
    pq.write_table(table(3), root / "region=eu" / "year=later" / "part-0.parquet")
    policy = PathPolicy([tmp_path])
    schema = TableSchema.model_validate(
        {"columns": [{"name": "id", "type": "integer"}, {"name": "name"}, {"name": "year", "type": "integer"}]}
    )
    report = validate_listing(policy.listing("sales"), policy.storage, ValidationOptions(schema=schema))
    found = [(e.code, e.column_name, e.value, e.file) for e in report.errors]
    later = str(root / "region=eu" / "year=later" / "part-0.parquet")
    assert found == [("type-error", "year", "later", later)]


def test_a_file_whose_schema_drifts_is_a_schema_mismatch_naming_the_file(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    pq.write_table(table(5), root / "a.parquet")
    pq.write_table(pa.table({"id": ["x"], "name": ["y"]}), root / "b.parquet")
    pq.write_table(pa.table({"id": pa.array([1], pa.int64())}), root / "c.parquet")
    policy = PathPolicy([tmp_path])
    report = validate_listing(policy.listing(str(root)), policy.storage, ValidationOptions())
    assert not report.valid and report.rows == 7
    assert [(e.code, Path(e.file or "").name) for e in report.errors] == [
        ("schema-mismatch", "b.parquet"),
        ("schema-mismatch", "c.parquet"),
    ]


def test_a_glob_selects_files_and_findings_name_their_file(tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "a.csv").write_text("id,name\n1,a\n2,b\n")
    (tmp_path / "in" / "sub" / "b.csv").write_text("id,name\n3,c\n4\n")
    (tmp_path / "in" / "notes.txt").write_text("not data")
    policy = PathPolicy([tmp_path])
    listing = policy.listing("in/**/*.csv")
    assert listing.kind == "glob" and [f.relative for f in listing.files] == ["a.csv", "sub/b.csv"]
    report = validate_listing(listing, policy.storage, ValidationOptions())
    assert report.rows == 4 and report.format == "csv"
    assert [(e.code, e.row, Path(e.file or "").name) for e in report.errors] == [("missing-cell", 2, "b.csv")]
    assert policy.listing("in/*.csv").files[0].relative == "a.csv" and len(policy.listing("in/*.csv").files) == 1


def test_listing_rules_mixed_formats_empty_matches_caps_and_escaping_symlinks(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.csv").write_text("a\n1\n")
    pq.write_table(table(1), mixed / "b.parquet")
    policy = PathPolicy([tmp_path], max_files=1)
    assert code_of(lambda: PathPolicy([tmp_path]).listing(str(mixed))) == "unsupported-format"
    assert code_of(lambda: policy.listing(str(mixed))) == "too-large"
    assert code_of(lambda: policy.listing(str(mixed / "*.json"))) == "file-not-found"
    assert code_of(lambda: policy.listing(str(tmp_path / "nowhere"))) == "file-not-found"
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n")
    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink(outside / "secret.csv", linked / "secret.csv")
    assert code_of(lambda: PathPolicy([tmp_path]).listing(str(linked))) == "path-not-allowed"
    assert code_of(lambda: PathPolicy([tmp_path]).listing(str(outside))) == "path-not-allowed"
    assert code_of(lambda: PathPolicy([tmp_path]).listing(str(outside / "nothing-here" / "*.csv"))) == (
        "path-not-allowed"
    )


def test_a_local_delta_table_validates_its_active_files_at_a_version(tmp_path: Path) -> None:
    uri = str(tmp_path / "orders")
    deltalake.write_deltalake(uri, table(6))
    deltalake.write_deltalake(uri, table(4, 100), mode="append")
    deltalake.write_deltalake(uri, table(3, 200), mode="overwrite")
    policy = PathPolicy([tmp_path])
    latest = policy.listing("orders")
    assert latest.kind == "delta" and latest.delta is not None and latest.delta.version == 2
    report = validate_listing(latest, policy.storage, ValidationOptions())
    assert report.valid and report.rows == 3 and report.extra["delta"]["version"] == 2
    first = validate_listing(policy.listing("orders@v1"), policy.storage, ValidationOptions())
    assert first.rows == 10 and first.extra["delta"]["version"] == 1 and first.extra["source"]["files"] == 2
    assert code_of(lambda: policy.listing("orders@v9")) == "file-not-found"


def test_a_partitioned_delta_table_reports_its_schema_and_partition_values(tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    data = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "day": pa.array([1, 1, 2], pa.int32())})
    deltalake.write_deltalake(uri, data, partition_by=["day"])
    policy = PathPolicy([tmp_path])
    listing = policy.listing("events")
    assert sorted(f.partition for f in listing.files) == [(("day", "1"),), (("day", "2"),)]
    report = validate_listing(listing, policy.storage, ValidationOptions())
    assert report.valid and report.rows == 3
    assert [(c.name, c.type) for c in report.columns] == [("id", "integer"), ("day", "integer")]


def test_a_name_ending_in_a_version_suffix_that_is_no_delta_table_is_taken_literally(tmp_path: Path) -> None:
    (tmp_path / "export@v2").mkdir()
    (tmp_path / "export@v2" / "a.csv").write_text("a\n1\n")
    listing = PathPolicy([tmp_path]).listing("export@v2")
    assert listing.kind == "directory" and [f.relative for f in listing.files] == ["a.csv"]


@pytest.mark.parametrize("name", ["data[1].csv", "what?.csv"])
def test_an_existing_name_with_glob_characters_is_a_file_not_a_pattern(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("a\n1\n")
    policy = PathPolicy([tmp_path])
    assert policy.is_local_file(name)
    assert policy.identify(name).real_path == Path(os.path.realpath(tmp_path / name))


def test_the_time_budget_is_the_datasets_and_cancellation_stops_every_file(tmp_path: Path) -> None:
    root = tmp_path / "sales"
    write_partitioned(root)
    policy = PathPolicy([tmp_path])
    listing = policy.listing("sales")
    spent = validate_listing(listing, policy.storage, ValidationOptions(time_budget_s=1e-9))
    assert not spent.valid and spent.rows == 0
    assert [(e.code, e.file) for e in spent.errors] == [("format-error", None)]  # one finding, not one per file
    with pytest.raises(Cancelled):
        validate_listing(listing, policy.storage, ValidationOptions(), is_cancelled=lambda: True)


def test_a_delta_table_file_that_is_a_symlink_out_of_the_roots_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "inside"
    root.mkdir()
    uri = str(root / "orders")
    deltalake.write_deltalake(uri, table(3))
    (data_file,) = [p for p in Path(uri).glob("*.parquet")]
    outside = tmp_path / "outside.parquet"
    data_file.rename(outside)
    os.symlink(outside, data_file)
    assert code_of(lambda: PathPolicy([root]).listing(uri)) == "path-not-allowed"
    assert PathPolicy([tmp_path]).listing(uri).files[0].size == outside.stat().st_size
