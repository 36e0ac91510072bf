"""One module per file format (and the helpers only that format uses).

Each format module exposes ``VALIDATOR``, a :class:`~dataproduct_mcp.validators.base.FormatValidator`;
:mod:`dataproduct_mcp.validators.registry` imports them by name, on first use. What each format is
(name, title, extensions, media type, checks) is described here, once: ``list_file_formats`` reads
it without importing any implementation (and so without pyarrow), and each validator takes its
attributes from it.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

__all__ = ["SPECS", "FormatSpec"]


@dataclass(frozen=True)
class FormatSpec:
    name: str
    title: str
    extensions: tuple[str, ...]  # without dots, lower case
    media_type: str  # IANA media type
    checks: tuple[str, ...]
    binary: bool  # False for text formats (gzip wrapping applies to those)

    def fields(self) -> tuple[str, str, tuple[str, ...], str, tuple[str, ...], bool]:
        return astuple(self)  # type: ignore[return-value]


_DELIMITED_CHECKS = (
    "encoding",
    "header",
    "blank-header",
    "duplicate-label",
    "ragged-rows",
    "blank-row",
    "type-inference",
    "schema",
    "constraints",
    "unique",
    "line-length",
)

SPECS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("csv", "Comma-separated values (RFC 4180)", ("csv",), "text/csv", _DELIMITED_CHECKS, False),
        FormatSpec(
            "tsv", "Tab-separated values", ("tsv", "tab"), "text/tab-separated-values", _DELIMITED_CHECKS, False
        ),
        FormatSpec(
            "json",
            "JSON (an array of records, or a single document)",
            ("json",),
            "application/json",
            ("encoding", "json-syntax", "header", "type-inference", "schema", "constraints", "unique"),
            False,
        ),
        FormatSpec(
            "jsonl",
            "JSON Lines / NDJSON (one JSON object per line)",
            ("jsonl", "ndjson"),
            "application/x-ndjson",
            ("encoding", "json-syntax", "blank-row", "header", "type-inference", "schema", "constraints", "unique"),
            False,
        ),
        FormatSpec(
            "parquet",
            "Apache Parquet",
            ("parquet", "parq", "pq"),
            "application/vnd.apache.parquet",
            ("magic", "footer", "row-groups", "page-crc", "values", "row-count", "schema"),
            True,
        ),
        FormatSpec(
            "arrow",
            "Apache Arrow IPC (file, stream) / Feather",
            ("arrow", "arrows", "feather", "ipc"),
            "application/vnd.apache.arrow.file",
            ("magic", "footer", "record-batches", "values", "schema"),
            True,
        ),
        FormatSpec(
            "avro",
            "Apache Avro object container",
            ("avro",),
            "application/avro",
            ("magic", "header", "blocks", "sync-markers", "codec", "records", "schema"),
            True,
        ),
        FormatSpec(
            "xlsx",
            "Excel workbook (xlsx)",
            ("xlsx", "xlsm"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ("zip", "zip-bomb", "crc", "workbook", "header", "cells", "type", "schema"),
            True,
        ),
        FormatSpec(
            "xml", "XML", ("xml",), "application/xml", ("well-formed", "encoding", "entities-refused", "records"), False
        ),
    )
}
