"""The dataset-level checks and the merge of per-file reports (see :mod:`.dataset`).

* Columns: a file's columns are compared with the dataset's — the Delta table's schema (without
  its partition columns), else the first file's. Self-describing formats (Parquet, Arrow, Avro,
  xlsx) compare names and types; text formats names only (their types are inferred per file,
  and a declared schema checks them). A difference is one ``schema-mismatch`` error for the file.
* Partitions: every file must have the first file's partition keys, in order; a partition
  column may not also be a column of the files. A declared schema's partition columns are
  checked against the partition values (type, ``required``) instead of being asked of the files.
* A data contract's counts are summed over the files, duplicates counted across the whole dataset
  (:meth:`~dataproduct_mcp.validators.measures.Measured.add`); one file without them (not read to
  its end) leaves the dataset without them.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from typing import Any

from dataproduct_mcp.domain.schema import ColumnSpec, ColumnType, TableSchema
from dataproduct_mcp.domain.validation import ColumnInfo, Finding, FindingCode, Report
from dataproduct_mcp.sources.listing import ListedFile, Listing
from dataproduct_mcp.validators import registry
from dataproduct_mcp.validators.base import ValidationOptions

__all__ = ["DatasetChecks"]

FILE_SUMMARY_LIMIT = 50
_SHOWN = 8


def _parses(value: str, kind: ColumnType) -> bool:
    try:
        if kind is ColumnType.integer:
            int(value)
        elif kind is ColumnType.number:
            float(value)
        elif kind is ColumnType.boolean:
            return value.lower() in ("true", "false")
        elif kind is ColumnType.date:
            dt.date.fromisoformat(value)
        elif kind is ColumnType.datetime:
            dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


class DatasetChecks:
    def __init__(self, listing: Listing, options: ValidationOptions) -> None:
        self.listing = listing
        self.options = options
        self.partition_keys = [c.name for c in listing.partition_columns]
        if listing.delta is not None:
            self.partition_keys = list(listing.delta.partition_columns)
        declared = options.schema.columns if options.schema is not None else []
        self.declared_partitions = {c.name: c for c in declared if c.name in self.partition_keys}
        self.reference: list[ColumnInfo] | None = None
        self.partition_infos = [ColumnInfo(name=c.name, type=c.type, nullable=True) for c in listing.partition_columns]
        if listing.delta is not None:
            from dataproduct_mcp.validators._batches import column_infos

            table = column_infos(listing.delta.schema)
            self.reference = [c for c in table if c.name not in self.partition_keys]
            by_name = {c.name: c for c in table}
            self.partition_infos = [by_name[k] for k in self.partition_keys if k in by_name]
        self.typed = listing.format is not None and registry.get(listing.format).binary
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        self.error_count = 0
        self.warning_count = 0
        self.rows = 0
        self.entries: list[tuple[str, int, str]] = []
        self.summaries: list[dict[str, Any]] = []
        self.checks: list[str] = []
        self.formats: dict[str, str] = {}  # format -> media type, in the order met
        self._values_checked: set[tuple[str, str | None]] = set()
        self.measured: Any = None  # the contract's counts so far (validators.measures.Measured)
        self._unmeasured = False
        for note in listing.notes:
            if note == "deletion-vectors":
                self._warning(
                    None,
                    FindingCode.format_error,
                    "the Delta table uses deletion vectors: rows are counted per file, deleted rows included",
                )

    def file_options(self) -> ValidationOptions:
        """The options each file is validated with: a declared schema without the partition columns."""
        if self.options.schema is None or not self.declared_partitions:
            return self.options
        kept = [c for c in self.options.schema.columns if c.name not in self.declared_partitions]
        return replace(self.options, schema=TableSchema(columns=kept) if kept else None)

    # -- findings ------------------------------------------------------------------------------
    def _error(self, uri: str | None, code: FindingCode, message: str, **where: Any) -> None:
        self.error_count += 1
        if len(self.errors) < self.options.max_errors:
            self.errors.append(Finding(code=code, message=message, file=uri, **where))

    def _warning(self, uri: str | None, code: FindingCode, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < self.options.max_warnings:
            self.warnings.append(Finding(code=code, message=message, file=uri))

    def _merge(self, uri: str, report: Report) -> None:
        room = self.options.max_errors - len(self.errors)
        self.errors.extend(f.model_copy(update={"file": uri}) for f in report.errors[: max(0, room)])
        self.error_count += report.error_count
        room = self.options.max_warnings - len(self.warnings)
        self.warnings.extend(f.model_copy(update={"file": uri}) for f in report.warnings[: max(0, room)])
        self.warning_count += report.warning_count

    # -- per file ------------------------------------------------------------------------------
    def add(self, entry: ListedFile, report: Report) -> None:
        uri = entry.uri
        self._merge(uri, report)
        self._measure(report._measured)
        self.rows += report.rows
        self.entries.append((entry.relative, entry.size, report.sha256))
        for name in report.checks:
            if name not in self.checks:
                self.checks.append(name)
        self.formats.setdefault(report.format, report.media_type)
        if self.listing.format is not None and report.format != self.listing.format:
            self._error(
                uri, FindingCode.format_error, f"the file is {report.format}; the dataset is {self.listing.format}"
            )
        if len(self.summaries) < FILE_SUMMARY_LIMIT:
            self.summaries.append(
                {
                    "path": uri,
                    "bytes": entry.size,
                    "rows": report.rows,
                    "valid": report.valid,
                    "error_count": report.error_count,
                    "sha256": report.sha256,
                }
            )
        self._columns(uri, report)
        self._partitions(entry)

    def _measure(self, measured: Any) -> None:
        if not self.options.measurements or self._unmeasured:
            return
        if measured is None:
            self._unmeasured, self.measured = True, None
        elif self.measured is None:
            self.measured = measured
        else:
            self.measured.add(measured)

    def _columns(self, uri: str, report: Report) -> None:
        if not report.columns:
            return  # the file's own findings say why it has none
        if self.reference is None:
            self.reference = list(report.columns)
            return

        def key(c: ColumnInfo) -> tuple[str, str]:
            return (c.name, c.type if self.typed else "")

        mine, ref = [key(c) for c in report.columns], [key(c) for c in self.reference]
        if mine == ref:
            return
        names, ref_names = [n for n, _ in mine], [n for n, _ in ref]
        missing = [n for n in ref_names if n not in names]
        extra = [n for n in names if n not in ref_names]
        types = dict(ref)
        changed = [f"{n}: {t} (dataset: {types[n]})" for n, t in mine if n in types and types[n] != t]
        parts = []
        if missing:
            parts.append(f"missing {missing[:_SHOWN]}")
        if extra:
            parts.append(f"extra {extra[:_SHOWN]}")
        if changed:
            parts.append(f"types {changed[:_SHOWN]}")
        if not parts:
            parts.append("the columns are in another order")
        where = "the table schema" if self.listing.delta is not None else "the first file's"
        self._error(uri, FindingCode.schema_mismatch, f"columns differ from {where}: {'; '.join(parts)}")

    def _partitions(self, entry: ListedFile) -> None:
        keys = [k for k, _ in entry.partition]
        if keys != self.partition_keys and self.listing.delta is None:
            self._error(
                entry.uri,
                FindingCode.schema_mismatch,
                f"partition keys {keys} differ from the dataset's {self.partition_keys}",
            )
        for name, value in entry.partition:
            spec = self.declared_partitions.get(name)
            if spec is None or (name, value) in self._values_checked:
                continue
            self._values_checked.add((name, value))
            self._check_value(entry.uri, name, value, spec)

    def _check_value(self, uri: str, name: str, value: str | None, spec: ColumnSpec) -> None:
        if value is None:
            if spec.required:
                self._error(uri, FindingCode.constraint_error, f"partition {name} is null", column_name=name)
            return
        if not _parses(value, spec.type):
            self._error(
                uri,
                FindingCode.type_error,
                f"partition value is not a {spec.type.value}",
                column_name=name,
                value=value[:200],
            )

    @property
    def files_done(self) -> int:
        return len(self.entries)

    def budget_spent(self) -> None:
        left = len(self.listing.files) - self.files_done
        self._error(
            None,
            FindingCode.format_error,
            f"time budget of {self.options.time_budget_s:g} s spent: {left} of {len(self.listing.files)} files "
            "were not validated",
        )

    # -- the report ----------------------------------------------------------------------------
    def report(self, started: float) -> Report:
        from dataproduct_mcp.validators.dataset import dataset_sha256

        clash = [c.name for c in self.reference or [] if c.name in self.partition_keys]
        if clash and self.listing.delta is None:
            self._error(None, FindingCode.schema_mismatch, f"partition column(s) {clash} are also columns of the files")
        columns = list(self.reference or []) + [c for c in self.partition_infos if c.name not in clash]
        fmt = self.listing.format or next(iter(self.formats), "parquet")
        media_type = self.formats.get(fmt) or registry.get(fmt).media_type
        checks = [*self.checks, "dataset-schema"] + (["partitions"] if self.partition_keys else [])
        extra: dict[str, Any] = {
            "source": {
                "kind": self.listing.kind,
                "storage": self.listing.storage,
                "root": self.listing.root if self.listing.storage == "local" else f"s3://{self.listing.root}",
                "files": len(self.listing.files),
            },
            "files": self.summaries,
        }
        if len(self.listing.files) > len(self.summaries):
            extra["files_truncated"] = True
        if self.partition_keys:
            extra["partitions"] = self.partition_keys
        if self.listing.delta is not None:
            extra["delta"] = {"version": self.listing.delta.version, "features": list(self.listing.delta.features)}
        report = Report(
            valid=self.error_count == 0,
            path=self.listing.source,
            format=fmt,
            media_type=media_type,
            bytes=self.listing.total_bytes,
            sha256=dataset_sha256(self.entries),
            rows=self.rows,
            columns=columns,
            errors=self.errors,
            warnings=self.warnings,
            error_count=self.error_count,
            warning_count=self.warning_count,
            truncated=self.error_count > len(self.errors),
            checks=checks,
            elapsed_ms=round((time.monotonic() - started) * 1000, 3),
            extra=extra,
        )
        if not self._unmeasured and self.files_done == len(self.listing.files):
            report._measured = self.measured  # every file counted (a spent budget leaves some out)
        return report
