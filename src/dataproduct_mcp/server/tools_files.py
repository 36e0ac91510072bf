"""File tools (contract §3, §6): validate_file and list_file_formats."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.tasks import Task
from dataproduct_mcp.domain.validation import DEFAULT_MAX_ERRORS, MAX_ERRORS_LIMIT, Report
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations
from dataproduct_mcp.server.progress import thread_progress
from dataproduct_mcp.validators.registry import FormatInfo


class FormatList(BaseModel):
    formats: list[FormatInfo]


class ValidateFileResult(BaseModel):
    report: Report | None = Field(None, description="The validation report (foreground calls).")
    task: Task | None = Field(None, description="The durable task (background calls); poll get_task.")


def register(server: DataProductServer, app: Application) -> None:
    tenant = server.tenant

    @server.tool(annotations=tool_annotations("Validate a file", read_only=True, idempotent=True))
    async def validate_file(
        path: Annotated[
            str,
            Field(
                description="File inside the allowed roots (absolute, or relative to the first root), or a "
                "dataset: a directory, a glob ('data/**/*.parquet'), an s3://bucket/key object or prefix, or a "
                "Delta table (add @v<N> for a version). Example: 'data/orders.csv'.",
                max_length=4096,
            ),
        ],
        ctx: Context,
        format: Annotated[
            str | None, Field(description="Force a format (see list_file_formats); detected if omitted.", max_length=32)
        ] = None,
        schema: Annotated[
            dict[str, Any] | None,
            Field(
                description="Expected columns: {columns: [{name, type: string|integer|number|boolean|date|"
                "datetime, required?, unique?, minimum?, maximum?, pattern?, enum?, min_length?, max_length?}]}."
            ),
        ] = None,
        max_errors: Annotated[
            int,
            Field(ge=1, le=MAX_ERRORS_LIMIT, description="Errors to list (error_count is always the true total)."),
        ] = DEFAULT_MAX_ERRORS,
        background: Annotated[
            bool, Field(description="Return a task at once and put the report in its result (for large files).")
        ] = False,
        encoding: Annotated[
            str,
            Field(
                description="Text encoding of text formats, e.g. 'latin-1' or 'utf-16'. Default strict UTF-8 "
                "(a UTF-8 BOM is allowed); undecodable bytes are encoding-error findings.",
                min_length=1,
                max_length=40,
            ),
        ] = "utf-8",
        contract: Annotated[
            str | None,
            Field(
                description="A data contract to check the file against: Bitol ODCS v3.1 YAML or JSON text, at most "
                "1 MiB. Its schema object is the declared schema (leave out `schema`), and its quality rules "
                "(nullValues, missingValues, invalidValues, duplicateValues, rowCount) are measured in the same "
                "pass: a failed rule is a constraint-error (a warning with severity warning/info), one this server "
                "cannot check (sql, custom) a warning; report.contract sums them up. Example: 'apiVersion: "
                "v3.1.0\nkind: DataContract\nid: orders\nversion: 1.0.0\nstatus: active\nschema:\n- name: "
                "orders\n  properties:\n  - name: id\n    logicalType: integer\n    required: true\n  quality:\n"
                "  - metric: rowCount\n    mustBeGreaterThan: 0'.",
                max_length=1024 * 1024,
            ),
        ] = None,
        contract_table: Annotated[
            str | None,
            Field(
                description="The contract's schema object the file holds (its name or physicalName); needed when "
                "the contract has several. Example: 'orders'.",
                max_length=1000,
            ),
        ] = None,
    ) -> ValidateFileResult:
        """Validate one data file by type — CSV, TSV, JSON, JSON Lines, Parquet, Arrow/Feather, xlsx, Avro,
        XML, and gzip-compressed text — streaming, in bounded memory. Checks structure (encoding, headers,
        ragged rows, syntax with line/column, corrupt containers), infers column types over the whole file
        and applies the optional `schema`. A file that fails is not an error: the report says valid=false
        and lists findings {code, message, row, line, byte_offset, column}. Repeated calls on an unchanged
        file return the cached report (cached=true). A dataset (directory, glob, s3:// prefix, Hive partitions,
        Delta table) gets one report: rows summed, partition columns, findings naming their `file`, and
        `schema-mismatch` for a file whose columns differ. With a data `contract` the file is also checked
        against its quality rules (counted over the whole file or dataset)."""
        if background:
            task = await app.validation.submit(
                tenant(),
                path,
                format=format,
                schema=schema,
                max_errors=max_errors,
                encoding=encoding,
                contract=contract,
                contract_table=contract_table,
            )
            return ValidateFileResult(task=task)
        report = await app.validation.validate(
            tenant(),
            path,
            format=format,
            schema=schema,
            max_errors=max_errors,
            encoding=encoding,
            contract=contract,
            contract_table=contract_table,
            progress=thread_progress(ctx, f"validating {path}"),
        )
        return ValidateFileResult(report=report)

    @server.tool(annotations=tool_annotations("List file formats", read_only=True, idempotent=True))
    async def list_file_formats() -> FormatList:
        """The file formats validate_file understands: name, title, extensions, IANA media types, whether
        binary, and the checks each performs."""
        return FormatList(formats=app.validation.list_formats())
