"""Parsing and normalising sources, allowed URI prefixes and DPMCP_ALLOWED_ROOTS (no I/O)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dataproduct_mcp.config import ConfigError, load_settings
from dataproduct_mcp.errors import PathNotAllowed
from dataproduct_mcp.sources.uri import UriPrefix, glob_regex, parse_source, split_roots


@pytest.mark.parametrize(
    ("raw", "bucket", "key", "pattern"),
    [
        ("s3://Bucket-One/data/x.csv", "bucket-one", "data/x.csv", None),
        ("S3://bucket-one/data//./x.csv", "bucket-one", "data/x.csv", None),
        ("s3://bucket-one/data/sub/../x.csv", "bucket-one", "data/x.csv", None),
        ("s3://bucket-one/data/%2e%2e/secret", "bucket-one", "secret", None),
        ("s3://bucket-one/a%20b/c", "bucket-one", "a b/c", None),
        ("s3://bucket-one/data/**/*.parquet", "bucket-one", "data", "**/*.parquet"),
        ("s3://bucket-one/data/year=20?4/p.csv", "bucket-one", "data", "year=20?4/p.csv"),
        ("s3://bucket-one", "bucket-one", "", None),
    ],
)
def test_s3_uris_are_normalised_before_anything_compares_them(
    raw: str, bucket: str, key: str, pattern: str | None
) -> None:
    spec = parse_source(raw, "/unused")
    assert (spec.storage, spec.bucket, spec.key, spec.pattern) == ("s3", bucket, key, pattern)


@pytest.mark.parametrize(
    "raw", ["s3://b/../x", "s3://bucket-one/%2e%2e/%2e%2e/x", "s3://no_underscores/x", "s3://ab/x", "gs://bucket/x", ""]
)
def test_malformed_or_escaping_sources_are_path_not_allowed(raw: str) -> None:
    with pytest.raises(PathNotAllowed):
        parse_source(raw, "/unused")


def test_a_prefix_covers_what_lies_at_or_below_it_segment_by_segment() -> None:
    prefix = UriPrefix.parse("s3://Lake/data")
    assert str(prefix) == "s3://lake/data"

    def covers(raw: str) -> bool:
        return prefix.covers(parse_source(raw, "/unused"))

    assert covers("s3://lake/data")
    assert covers("s3://lake/data/x.csv")
    assert covers("s3://LAKE/data/sub/../x.csv")
    assert covers("s3://lake/data/**/*.csv")
    assert not covers("s3://lake/database/x.csv")
    assert not covers("s3://lake/data/../secret/x.csv")
    assert not covers("s3://lake/data/%2e%2e/secret")
    assert not covers("s3://other/data/x.csv")
    assert UriPrefix.parse("s3://lake").covers(parse_source("s3://lake/anything/at/all", "/unused"))


def test_a_delta_version_suffix_is_parsed_and_can_be_kept_as_part_of_the_name() -> None:
    spec = parse_source("s3://lake/orders@v12", "/unused")
    assert (spec.key, spec.version) == ("orders", 12)
    literal = parse_source("s3://lake/orders@v12", "/unused", versions=False)
    assert (literal.key, literal.version) == ("orders@v12", None)


def test_local_paths_relative_globs_and_file_uris(tmp_path: Path) -> None:
    assert parse_source("data/x.csv", str(tmp_path)).path == str(tmp_path / "data" / "x.csv")
    glob = parse_source("data/**/*.csv", str(tmp_path))
    assert (glob.path, glob.pattern) == (str(tmp_path / "data"), "**/*.csv")
    assert parse_source(f"file://{tmp_path}/a%20b.csv", "/x").path == f"{tmp_path}/a b.csv"
    with pytest.raises(PathNotAllowed):
        parse_source("file://elsewhere/etc/passwd", "/x")


def test_globs_keep_star_and_question_mark_within_a_segment_and_double_star_across() -> None:
    assert glob_regex("*.csv").match("a.csv") and not glob_regex("*.csv").match("d/a.csv")
    assert glob_regex("**/*.csv").match("a.csv") and glob_regex("**/*.csv").match("x/y/a.csv")
    assert glob_regex("year=202?/*.parquet").match("year=2024/p.parquet")
    assert not glob_regex("year=202?/*.parquet").match("year=2024/m=1/p.parquet")
    assert glob_regex("part-[0-3].csv").match("part-2.csv") and not glob_regex("part-[!0-3].csv").match("part-2.csv")


def test_allowed_roots_keep_s3_entries_whole_although_the_separator_is_a_colon(tmp_path: Path) -> None:
    assert os.pathsep == ":"  # POSIX, where s3:// would be cut in two
    assert split_roots(f"{tmp_path}:s3://lake/data:/srv") == [str(tmp_path), "s3://lake/data", "/srv"]
    settings = load_settings(data_dir=tmp_path, allowed_roots=f"{tmp_path}:s3://Lake/data")
    assert settings.effective_allowed_roots == [Path(os.path.realpath(tmp_path))]
    assert settings.allowed_uri_prefixes == ["s3://Lake/data"]


def test_allowed_roots_from_the_environment_keep_s3_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPMCP_ALLOWED_ROOTS", os.pathsep.join([str(tmp_path), "s3://lake/data", "s3://other"]))
    settings = load_settings(data_dir=tmp_path)
    assert settings.allowed_uri_prefixes == ["s3://lake/data", "s3://other"]
    assert settings.effective_allowed_roots == [Path(os.path.realpath(tmp_path))]


def test_a_bad_s3_root_or_half_a_key_pair_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad_root:
        load_settings(data_dir=tmp_path, allowed_roots=[str(tmp_path), "s3://x/"])
    assert len(bad_root.value.problems) == 1
    with pytest.raises(ConfigError):
        load_settings(data_dir=tmp_path, s3_access_key_id="AKIA")
    with pytest.raises(ConfigError):
        load_settings(data_dir=tmp_path, s3_endpoint_url="ftp://127.0.0.1:9000")
