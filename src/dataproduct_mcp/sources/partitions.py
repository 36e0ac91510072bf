"""Hive-style partitions: ``key=value`` directory segments between a dataset's root and its files.

Our own parse, used by both validation and streaming so the two agree: every ``key=value``
segment of a file's directory path (relative to the dataset root) is a partition; values are
percent-decoded and ``__HIVE_DEFAULT_PARTITION__`` (or an empty value) is null. A partition
column's type is ``integer`` when every non-null value is a 64-bit integer, else ``string``
(pyarrow's HivePartitioning infers int32/string the same way, but wider). Files whose
partition keys differ from the first file's are reported by the dataset validation as
``schema-mismatch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["NULL_PARTITION", "PartitionColumn", "infer_columns", "parse_partition"]

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_INT64 = (-(2**63), 2**63 - 1)

Partition = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class PartitionColumn:
    name: str
    type: str  # "integer" | "string" (the report's type names)


def parse_partition(relative_dir: str) -> Partition:
    """``(key, value)`` pairs of the ``key=value`` segments of ``relative_dir`` (``/``-separated)."""
    out: list[tuple[str, str | None]] = []
    for segment in relative_dir.split("/"):
        key, eq, value = segment.partition("=")
        if not eq or not key:
            continue
        decoded = unquote(value)
        out.append((unquote(key), None if decoded in ("", NULL_PARTITION) else decoded))
    return tuple(out)


def _is_int(value: str) -> bool:
    text = value[1:] if value[:1] in "+-" else value
    if not text.isdigit() or not text.isascii():
        return False
    return _INT64[0] <= int(value) <= _INT64[1]


def infer_columns(partitions: Iterable[Partition], typed: dict[str, str] | None = None) -> list[PartitionColumn]:
    """The partition columns of a dataset: the first file's keys, typed over every file's values.
    ``typed`` gives known types (a Delta table's schema) that win over inference."""
    keys: list[str] = []
    values: dict[str, list[str]] = {}
    for i, partition in enumerate(partitions):
        if i == 0:
            keys = [k for k, _ in partition]
        for key, value in partition:
            if value is not None:
                values.setdefault(key, []).append(value)
    out = []
    for key in keys:
        if typed and key in typed:
            out.append(PartitionColumn(key, typed[key]))
        else:
            seen = values.get(key, [])
            out.append(PartitionColumn(key, "integer" if seen and all(_is_int(v) for v in seen) else "string"))
    return out


def typed_value(value: str | None, type_name: str) -> int | str | None:
    """A partition value as its column's Python value."""
    if value is None:
        return None
    if type_name == "integer":
        return int(value)
    return value


def same_keys(a: Partition, b: Sequence[str]) -> bool:
    return [k for k, _ in a] == list(b)
