"""Durable task tools (contract §9): get_task, list_tasks, cancel_task, validate_data_product; the task resource."""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import BaseModel, Field

from dataproduct_mcp.app import Application
from dataproduct_mcp.domain.tasks import Task, TaskStatus, TaskSummary
from dataproduct_mcp.errors import NotFound
from dataproduct_mcp.server.builder import DataProductServer, tool_annotations
from dataproduct_mcp.server.progress import task_progress

TASK_ID = Annotated[
    str, Field(description="Task UUID, e.g. '3f2b8c1e-5d4a-4e7b-9c0f-1a2b3c4d5e6f'.", min_length=1, max_length=64)
]


class TaskResult(BaseModel):
    task: Task = Field(description="The task; poll get_task (or wait) until status is final.")


class TaskList(BaseModel):
    items: list[TaskSummary] = Field(description="Tasks, newest first, without params and result (see get_task).")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    total: int = Field(description="Number of your tasks matching the filters (all pages).")


def register(server: DataProductServer, app: Application) -> None:
    tasks = app.tasks
    tenant = server.tenant

    @server.tool(annotations=tool_annotations("Get a task", read_only=True, idempotent=True))
    async def get_task(task_id: TASK_ID) -> Task:
        """One durable task: status (queued | running | succeeded | failed | cancelled), progress 0..1,
        message, attempts, timestamps, and when finished its `result` (succeeded) or `error`
        {code, message, suggestion} (failed). Another tenant's or an unknown id is 'not-found'."""
        return await tasks.get(tenant(), task_id)

    @server.tool(annotations=tool_annotations("List tasks", read_only=True, idempotent=True))
    async def list_tasks(
        status: Annotated[TaskStatus | None, Field(description="Only tasks in this status.")] = None,
        kind: Annotated[
            str | None, Field(description="Only tasks of this kind, e.g. 'validate-file'.", max_length=64)
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Page size, 1..100.")] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page.", max_length=512)] = None,
    ) -> TaskList:
        """List your durable tasks, newest first, `limit` per page (default 20, max 100); `total` counts
        every match; follow `next_cursor` until it is null. Items omit params and result: call get_task.
        Finished tasks are kept for DPMCP_TASK_RETENTION_DAYS (default 7)."""
        page = await tasks.list(tenant(), status=status, kind=kind, limit=limit, cursor=cursor)
        return TaskList(items=page.items, next_cursor=page.next_cursor, total=page.total)

    @server.tool(annotations=tool_annotations("Cancel a task", read_only=False, destructive=True, idempotent=True))
    async def cancel_task(task_id: TASK_ID) -> TaskResult:
        """Cancel a durable task. A queued task is cancelled at once; a running one gets
        cancel_requested=true and stops at its next checkpoint (typically well under a second), then
        has status 'cancelled'. A finished task is returned unchanged. Its partial work has no effect."""
        return TaskResult(task=await tasks.cancel(tenant(), task_id))

    @server.tool(annotations=tool_annotations("Validate a data product", read_only=False, idempotent=False))
    async def validate_data_product(
        product_id: Annotated[str, Field(description="Product UUID.", min_length=1, max_length=64)],
        ctx: Context,
        wait_seconds: Annotated[
            float,
            Field(
                ge=0,
                le=300,
                description="Wait up to this many seconds (0..300, default 0 = return at once) for the task "
                "to finish, sending MCP progress notifications meanwhile.",
            ),
        ] = 0,
    ) -> TaskResult:
        """Validate every file of a data product against its `schema` — or, with a data contract attached
        (import_contract), against the contract's columns and quality rules — as a durable task (survives
        restarts). Returns {task} at once (or after up to `wait_seconds`); when it succeeds, its result
        is {product_id, contract, files: [{path, valid, error_count, sha256, error?, contract_rules_failed?}],
        valid, status, revision}
        and the product's `last_validation` is set and its `status` becomes 'validated' (all files
        valid) or 'draft' (any invalid or unreadable). Unknown product: 'not-found'."""
        task = await tasks.submit_and_wait(
            tenant(), "validate-product", {"product_id": product_id}, wait_seconds, on_change=task_progress(ctx)
        )
        return TaskResult(task=task)

    @server.resource(
        "dataproduct://tasks/{id}",
        name="task",
        description="A durable task of yours as JSON (status, progress, result or error).",
        mime_type="application/json",
    )
    async def task_resource(id: str) -> str:
        try:
            task = await tasks.get(tenant(), id)
        except NotFound as exc:
            raise ResourceNotFoundError(f"no task with id {id!r}") from exc
        return json.dumps(task.model_dump(mode="json"), ensure_ascii=False)
