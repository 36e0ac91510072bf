"""Checks on Arrow record batches, shared by the typed container formats (Parquet, Arrow IPC, Avro).

Typed formats carry their own column types, so there is nothing to infer: what is left is the
structure of each batch (``RecordBatch.validate(full=True)``: offsets, UTF-8 of string columns)
and the declared schema (contract §6), checked with vectorised Arrow compute kernels so that a
declared schema costs little next to decoding. Row numbers are 1-based data records
(``row_offset + index + 1``); binary formats have no physical lines, so ``line`` stays unset.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dataproduct_mcp.domain.schema import ColumnSpec, ColumnType, TableSchema
from dataproduct_mcp.domain.validation import ColumnInfo, FindingCode
from dataproduct_mcp.validators.base import FindingCollector, ValidationContext

__all__ = ["BatchChecker", "column_infos", "contract_type", "more_errors"]

# Distinct values remembered per `unique` column; past this the check stops with a warning
# (bounded memory wins over an unbounded hash set).
MAX_UNIQUE_VALUES = 2_000_000


def contract_type(t: pa.DataType) -> str:
    """The contract's type name for an Arrow type where one fits, else Arrow's own name."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "datetime"
    return str(t)


def column_infos(schema: pa.Schema) -> list[ColumnInfo]:
    return [ColumnInfo(name=f.name, type=contract_type(f.type), nullable=f.nullable) for f in schema]


def more_errors(findings: FindingCollector, n: int) -> None:
    """Count ``n`` more errors whose details are not kept (the collector is already full)."""
    findings.error_count += n


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _compatible(declared: ColumnType, t: pa.DataType) -> bool:
    if declared is ColumnType.string:
        return _is_string(t)
    if declared is ColumnType.integer:
        return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if declared is ColumnType.number:
        return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if declared is ColumnType.boolean:
        return pa.types.is_boolean(t)
    if declared is ColumnType.date:
        return pa.types.is_date(t)
    if declared is ColumnType.datetime:
        return pa.types.is_timestamp(t)
    return False  # pragma: no cover - ColumnType is closed


def _bound_scalar(bound: float | str, t: pa.DataType) -> pa.Scalar | None:
    """The declared minimum/maximum as a scalar comparable with a column of type ``t``."""
    try:
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            return pa.scalar(float(bound), pa.float64())
        if pa.types.is_date(t):
            value = dt.date.fromisoformat(str(bound)[:10]) if isinstance(bound, str) else None
            return None if value is None else pa.scalar(value, t)
        if pa.types.is_timestamp(t) and isinstance(bound, str):
            when = dt.datetime.fromisoformat(bound)
            if t.tz is not None and when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            elif t.tz is None and when.tzinfo is not None:
                when = when.astimezone(dt.UTC).replace(tzinfo=None)
            return pa.scalar(when, t)
    except (ValueError, TypeError, pa.ArrowException):
        return None
    return None


class _ColumnPlan:
    """The checks for one declared column, resolved once against the file's Arrow type."""

    def __init__(self, spec: ColumnSpec, index: int, t: pa.DataType, ctx: ValidationContext) -> None:
        self.spec = spec
        self.index = index  # position in the batch
        self.position = index + 1  # 1-based column number in reports
        self.type = t
        self.checks: list[tuple[str, Callable[[pa.Array], pa.Array], str]] = []
        self.unique_seen: set[Any] | None = set() if spec.unique else None
        self.unique_stopped = False
        self._build(ctx)

    def _not_applicable(self, ctx: ValidationContext, what: str) -> None:
        ctx.findings.warning(
            FindingCode.schema_mismatch,
            f"{what} does not apply to column {self.spec.name!r} of type {self.type}; not checked",
            column=self.position,
            column_name=self.spec.name,
        )

    def _build(self, ctx: ValidationContext) -> None:
        spec, t = self.spec, self.type
        if spec.type is ColumnType.integer and (pa.types.is_floating(t) or pa.types.is_decimal(t)):
            ctx.check("type")
            self.checks.append(
                (
                    "type",
                    lambda a: (
                        pc.not_equal(pc.floor(a), a)
                        if pa.types.is_floating(a.type)
                        else pc.not_equal(pc.cast(pc.cast(a, pa.int64(), safe=False), a.type), a)
                    ),
                    "value is not an integer",
                )
            )
        if spec.required:
            ctx.check("required")
            if _is_string(t):
                self.checks.append(
                    (
                        "required",
                        lambda a: pc.or_kleene(pc.is_null(a), pc.equal(pc.utf8_length(a), 0)),
                        "required value is missing",
                    )
                )
            else:
                self.checks.append(("required", pc.is_null, "required value is missing"))
        for bound, op, word in ((spec.minimum, pc.less, "below minimum"), (spec.maximum, pc.greater, "above maximum")):
            if bound is None:
                continue
            ctx.check("minimum" if op is pc.less else "maximum")
            scalar = _bound_scalar(bound, t)
            if scalar is None:
                self._not_applicable(ctx, "minimum/maximum")
                continue
            self.checks.append(
                ("range", lambda a, s=scalar, o=op: o(a, s), f"value is {word} {bound}")  # type: ignore[misc]
            )
        if spec.min_length is not None or spec.max_length is not None:
            ctx.check("length")
            if _is_string(t):
                length = pc.utf8_length
            elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
                length = pc.binary_length
            elif pa.types.is_list(t) or pa.types.is_large_list(t):
                length = pc.list_value_length
            else:
                length = None
                self._not_applicable(ctx, "min_length/max_length")
            if length is not None:
                if spec.min_length is not None:
                    self.checks.append(
                        (
                            "length",
                            lambda a, n=spec.min_length, f=length: pc.less(f(a), n),
                            f"value is shorter than {spec.min_length}",
                        )
                    )
                if spec.max_length is not None:
                    self.checks.append(
                        (
                            "length",
                            lambda a, n=spec.max_length, f=length: pc.greater(f(a), n),
                            f"value is longer than {spec.max_length}",
                        )
                    )
        if spec.pattern is not None:
            ctx.check("pattern")
            self.checks.append(("pattern", self._pattern_mask(spec.pattern), f"value does not match {spec.pattern}"))
        if spec.enum is not None:
            ctx.check("enum")
            self.checks.append(("enum", self._enum_mask(spec.enum), "value is not one of the allowed values"))
        if spec.unique:
            ctx.check("unique")

    def _pattern_mask(self, pattern: str) -> Callable[[pa.Array], pa.Array]:
        anchored = f"^(?:{pattern})$"
        try:  # RE2 (Arrow's engine) when the pattern is RE2-compatible: vectorised
            pc.match_substring_regex(pa.array([""], pa.string()), anchored)
        except pa.ArrowException:
            regex = re.compile(pattern)

            def python_mask(a: pa.Array) -> pa.Array:
                values = a.cast(pa.string()).to_pylist() if not _is_string(a.type) else a.to_pylist()
                return pa.array([None if v is None else regex.fullmatch(v) is None for v in values], pa.bool_())

            return python_mask

        def re2_mask(a: pa.Array) -> pa.Array:
            text = a if _is_string(a.type) else pc.cast(a, pa.string())
            return pc.invert(pc.match_substring_regex(text, anchored))

        return re2_mask

    def _enum_mask(self, allowed: list[Any]) -> Callable[[pa.Array], pa.Array]:
        try:
            value_set = pa.array(allowed).cast(self.type)
        except (pa.ArrowException, TypeError, ValueError):
            allowed_set = set(map(repr, allowed))

            def python_mask(a: pa.Array) -> pa.Array:
                return pa.array([None if v is None else repr(v) not in allowed_set for v in a.to_pylist()])

            return python_mask
        return lambda a: pc.invert(pc.is_in(a, value_set=value_set))

    def run(self, array: pa.Array, row_offset: int, ctx: ValidationContext) -> None:
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        for _name, mask_of, message in self.checks:
            mask = mask_of(array)
            if mask.null_count:
                mask = pc.fill_null(mask, False)
            if not pc.any(mask).as_py():
                continue
            self._report(
                ctx,
                FindingCode.constraint_error if _name != "type" else FindingCode.type_error,
                message,
                array,
                pc.indices_nonzero(mask),
                row_offset,
            )
        if self.unique_seen is not None and not self.unique_stopped:
            self._unique(array, row_offset, ctx)

    def _unique(self, array: pa.Array, row_offset: int, ctx: ValidationContext) -> None:
        seen = self.unique_seen
        assert seen is not None
        duplicates: list[int] = []
        for i, value in enumerate(array.to_pylist()):
            if value is None:
                continue
            if value in seen:
                duplicates.append(i)
            else:
                seen.add(value)
        if duplicates:
            self._report(ctx, FindingCode.unique_error, "value is not unique", array, duplicates, row_offset)
        if len(seen) > MAX_UNIQUE_VALUES:
            self.unique_stopped = True
            self.unique_seen = None
            ctx.findings.warning(
                FindingCode.unique_error,
                f"uniqueness checked only up to row {row_offset + len(array)}: "
                f"more than {MAX_UNIQUE_VALUES} distinct values",
                column=self.position,
                column_name=self.spec.name,
            )

    def _report(
        self,
        ctx: ValidationContext,
        code: FindingCode,
        message: str,
        array: pa.Array,
        indices: pa.Array | list[int],
        row_offset: int,
    ) -> None:
        findings = ctx.findings
        n = len(indices)
        room = max(0, findings.max_errors - len(findings.errors))
        for k in range(min(n, room)):
            i = int(indices[k].as_py() if isinstance(indices, pa.Array) else indices[k])
            findings.error(
                code,
                message,
                value=array[i].as_py(),
                row=row_offset + i + 1,
                column=self.position,
                column_name=self.spec.name,
            )
        if n > room:
            more_errors(findings, n - room)


class BatchChecker:
    """Checks every record batch of one file: structure, and the declared schema if any.

    Construct it once with the file's Arrow schema (column-level schema findings are reported
    then), and call :meth:`check` on each batch with the number of rows before it.
    """

    def __init__(self, schema: pa.Schema, ctx: ValidationContext, *, full_validate: bool = True) -> None:
        self.ctx = ctx
        self.full_validate = full_validate
        self.plans: list[_ColumnPlan] = []
        if full_validate:
            ctx.check("values")
        if ctx.options.schema is not None:
            self._resolve(ctx.options.schema, schema)

    def _resolve(self, declared: TableSchema, schema: pa.Schema) -> None:
        ctx, findings = self.ctx, self.ctx.findings
        ctx.check("schema")
        names = schema.names
        positions = {name: i for i, name in reversed(list(enumerate(names)))}
        declared_names = {c.name for c in declared.columns}
        for k, spec in enumerate(declared.columns):
            i = positions.get(spec.name)
            if i is None:
                findings.error(
                    FindingCode.schema_mismatch,
                    f"declared column {spec.name!r} is missing from the file",
                    column_name=spec.name,
                )
                continue
            if i != k:
                findings.error(
                    FindingCode.schema_mismatch,
                    f"column {spec.name!r} is at position {i + 1}, declared at {k + 1}",
                    column=i + 1,
                    column_name=spec.name,
                )
            t = schema.field(i).type
            value_type = t.value_type if pa.types.is_dictionary(t) else t
            if not _compatible(spec.type, value_type):
                findings.error(
                    FindingCode.schema_mismatch,
                    f"column {spec.name!r} has type {value_type}, declared {spec.type.value}",
                    column=i + 1,
                    column_name=spec.name,
                    value=str(value_type),
                )
                continue
            self.plans.append(_ColumnPlan(spec, i, value_type, ctx))
        for i, name in enumerate(names):
            if name not in declared_names:
                findings.error(
                    FindingCode.schema_mismatch,
                    f"column {name!r} is not in the declared schema",
                    column=i + 1,
                    column_name=name,
                )

    def check(self, batch: pa.RecordBatch, row_offset: int) -> None:
        if self.full_validate:
            try:
                batch.validate(full=True)
            except pa.ArrowException as exc:
                self._locate_invalid(batch, row_offset, str(exc))
                return
        for plan in self.plans:
            plan.run(batch.column(plan.index), row_offset, self.ctx)

    def declared_positions(self) -> list[int]:
        """Positions (0-based) of the file's columns that have declared checks."""
        return [plan.index for plan in self.plans]

    def check_column(self, position: int, array: pa.Array, row_offset: int) -> None:
        """Declared checks of one column only (for readers that go column by column)."""
        for plan in self.plans:
            if plan.index == position:
                plan.run(array, row_offset, self.ctx)

    def _locate_invalid(self, batch: pa.RecordBatch, row_offset: int, message: str) -> None:
        """A batch failed full validation: point at the bad column, and at rows for bad UTF-8."""
        findings = self.ctx.findings
        located = False
        for position, (field, column) in enumerate(zip(batch.schema, batch.columns, strict=True), start=1):
            try:
                column.validate(full=True)
                continue
            except pa.ArrowException as exc:
                column_message = str(exc)
            if _is_string(field.type) and "utf8" in column_message.lower():
                reported = False
                binary = column.view(pa.large_binary() if pa.types.is_large_string(field.type) else pa.binary())
                for i, raw in enumerate(binary.to_pylist()):
                    if raw is None:
                        continue
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError:
                        reported = True
                        findings.error(
                            FindingCode.encoding_error,
                            "string value is not valid UTF-8",
                            value=raw.decode("utf-8", "replace"),
                            row=row_offset + i + 1,
                            column=position,
                            column_name=field.name,
                        )
                if reported:
                    located = True
                    continue
            located = True
            findings.error(
                FindingCode.format_error,
                f"invalid data in column {field.name!r}: {column_message}",
                row=row_offset + 1,
                column=position,
                column_name=field.name,
            )
        if not located:
            findings.error(FindingCode.format_error, f"invalid record batch: {message}", row=row_offset + 1)
