"""Checks on Arrow record batches, shared by the typed container formats (Parquet, Arrow IPC, Avro).

Typed formats carry their own column types, so there is nothing to infer: what is left is the
structure of each batch (``RecordBatch.validate(full=True)``: offsets, UTF-8 of string columns),
whether each column's type is the declared one, and the declared constraints, which the shared
:mod:`~dataproduct_mcp.validators.tabular` checker handles for every format. Row numbers are 1-based data records
(``row_offset + index + 1``); binary formats have no physical lines, so ``line`` stays unset.
"""

from __future__ import annotations

import pyarrow as pa

from dataproduct_mcp.domain.schema import ColumnSpec, ColumnType, TableSchema
from dataproduct_mcp.domain.validation import ColumnInfo, FindingCode
from dataproduct_mcp.validators.base import ValidationContext
from dataproduct_mcp.validators.tabular import TableChecker

__all__ = ["BatchChecker", "column_infos", "contract_type", "declared_checker"]


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


def safe_names(schema: pa.Schema) -> list[str]:
    """Field names; a name that is not UTF-8 (a corrupt file) gets a placeholder instead of raising."""
    names = []
    for i, f in enumerate(schema):
        try:
            names.append(f.name)
        except UnicodeDecodeError:
            names.append(f"<column {i + 1}: name is not UTF-8>")
    return names


def _name_is_bad(f: pa.Field) -> bool:
    try:
        return not isinstance(f.name, str)
    except UnicodeDecodeError:
        return True


def _type_name(t: pa.DataType) -> str:
    try:
        return contract_type(t)
    except UnicodeDecodeError:  # nested field names are part of the type's text
        return "<type with a non-UTF-8 field name>"


def column_infos(schema: pa.Schema) -> list[ColumnInfo]:
    return [
        ColumnInfo(name=name, type=_type_name(f.type), nullable=f.nullable)
        for name, f in zip(safe_names(schema), schema, strict=True)
    ]


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _compatible(declared: ColumnType, t: pa.DataType) -> bool:
    """Whether values of Arrow type ``t`` are values of the declared contract type."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if declared is ColumnType.string:
        return _is_string(t)
    if declared is ColumnType.integer:
        return pa.types.is_integer(t) or (pa.types.is_decimal(t) and t.scale == 0)
    if declared is ColumnType.number:
        return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if declared is ColumnType.boolean:
        return pa.types.is_boolean(t)
    if declared is ColumnType.date:
        return pa.types.is_date(t)
    if declared is ColumnType.datetime:
        return pa.types.is_timestamp(t)
    return False  # pragma: no cover - ColumnType is closed


def declared_checker(schema: pa.Schema, ctx: ValidationContext) -> TableChecker | None:
    """The shared :class:`TableChecker` for a typed file, or None without a declared schema.

    Typed formats need one check the text formats do not: the file's own column type must be
    the declared one (a ``schema-mismatch`` per column, not a ``type-error`` per row). Columns
    that fail it keep only their header check, so one wrong type is one finding, not one per row.
    """
    declared = ctx.options.schema
    if declared is None:
        return None
    ctx.check("type")
    names = safe_names(schema)
    types = dict(zip(names, schema.types, strict=True))
    specs = []
    mismatched: set[str] = set()
    for spec in declared.columns:
        t = types.get(spec.name)
        if t is not None and not _compatible(spec.type, t):
            mismatched.add(spec.name)
            ctx.findings.error(
                FindingCode.schema_mismatch,
                f"column {spec.name!r} has type {_type_name(t)}, declared {spec.type.value}",
                column=names.index(spec.name) + 1,
                column_name=spec.name,
                value=_type_name(t),
            )
            spec = ColumnSpec.model_validate({"name": spec.name, "type": spec.type})
        specs.append(spec)
    checker = TableChecker(ctx, names, TableSchema(columns=specs), header_line=None)
    if checker.measures is not None and mismatched:
        checker.measures.drop(mismatched)  # values of another type: the contract's counts are not taken
    return checker


def _full_columns(schema: pa.Schema) -> list[int]:
    """Columns whose values full validation can find fault with (UTF-8, offsets, dictionary
    indices, decimal precision...). Fixed-width numbers, booleans and temporal values have
    nothing to check beyond their buffer sizes, which :meth:`RecordBatch.validate` checks."""
    return [i for i, f in enumerate(schema) if not _fixed_width_plain(f.type)]


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with dictionary columns decoded (the declared-schema checks compare values)."""
    if not any(pa.types.is_dictionary(t) for t in batch.schema.types):
        return batch
    columns = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _fixed_width_plain(t: pa.DataType) -> bool:
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_temporal(t)
        or pa.types.is_null(t)
    )


class BatchChecker:
    """Checks every record batch of one file: structure, and the declared schema if any.

    Construct it once with the file's Arrow schema (column-level schema findings are reported
    then), and call :meth:`check` on each batch with the number of rows before it. Declared
    constraints are checked by the shared :class:`~dataproduct_mcp.validators.tabular.TableChecker`.
    """

    def __init__(
        self, schema: pa.Schema, ctx: ValidationContext, *, full_validate: bool = True, decoded: bool = False
    ) -> None:
        """``decoded``: batches come from a decoder that builds every array itself (Parquet), so
        fixed-width columns need no full check; batches read from Arrow IPC carry the file's own
        buffers and null counts, which a hostile file can forge, and get the full check everywhere."""
        self.ctx = ctx
        self.full_validate = full_validate
        self.decoded = decoded
        if full_validate:
            ctx.check("values")
        self.names = safe_names(schema)
        bad = [i for i, f in enumerate(schema) if _name_is_bad(f)]
        self.renamed = bool(bad)
        for i in bad:
            ctx.findings.error(FindingCode.encoding_error, "column name is not valid UTF-8", column=i + 1)
        self.table = declared_checker(schema, ctx)

    def values_are_sound(self, batch: pa.RecordBatch) -> bool:
        """Whether ``batch`` passes full validation (reports nothing)."""
        if not self.full_validate:
            return True
        try:
            if not self.decoded:
                batch.validate(full=True)
                return True
            batch.validate()
            for i in _full_columns(batch.schema):
                batch.column(i).validate(full=True)
        except (pa.ArrowException, UnicodeDecodeError):
            return False
        return True

    def check(self, batch: pa.RecordBatch, row_offset: int) -> None:
        if self.renamed:  # pyarrow raises on every column access while a name is not UTF-8
            batch = batch.rename_columns(self.names)
        if not self.values_are_sound(batch):
            self._locate_invalid(batch, row_offset)
            return
        if self.table is not None:
            self.table.check_batch(_plain(batch), row_offset + 1)

    def _locate_invalid(self, batch: pa.RecordBatch, row_offset: int) -> None:
        """A batch failed full validation: point at the bad column, and at rows for bad UTF-8."""
        findings = self.ctx.findings
        located = False
        names = safe_names(batch.schema)
        for position, (field, column) in enumerate(zip(batch.schema, batch.columns, strict=True), start=1):
            name = names[position - 1]
            try:
                column.validate(full=True)
                continue
            except pa.ArrowException as exc:
                column_message = str(exc)
            if pa.types.is_dictionary(field.type) and _is_string(field.type.value_type):
                try:  # bad UTF-8 in the dictionary: locate the rows that use it
                    column = column.dictionary_decode()
                    field = pa.field(field.name, column.type)
                except pa.ArrowException:
                    pass  # indices out of range: a format error below
            if _is_string(field.type) and "utf8" in column_message.lower():
                reported = False
                binary = column.view(
                    pa.large_binary()
                    if pa.types.is_large_string(field.type)
                    else pa.binary_view()
                    if pa.types.is_string_view(field.type)
                    else pa.binary()
                )
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
                            column_name=name,
                        )
                if reported:
                    located = True
                    continue
            located = True
            findings.error(
                FindingCode.format_error,
                f"invalid data in column {name!r}: {column_message}",
                row=row_offset + 1,
                column=position,
                column_name=name,
            )
        if not located:
            try:
                batch.validate(full=True)
                message = "the batch does not match its schema"
            except (pa.ArrowException, UnicodeDecodeError) as exc:
                message = str(exc)
            findings.error(FindingCode.format_error, f"invalid record batch: {message}", row=row_offset + 1)
