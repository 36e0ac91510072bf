"""Bridge from sync progress callbacks (worker threads) to MCP progress notifications."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio.from_thread
from mcp.server.mcpserver import Context

from dataproduct_mcp.domain.tasks import Task
from dataproduct_mcp.logs import get_logger

__all__ = ["task_progress", "thread_progress"]

log = get_logger(__name__)

MIN_INTERVAL_S = 0.25


def thread_progress(ctx: Context | None, message: str) -> Callable[[int, int], None] | None:
    """A ``(done, total)`` callback, callable from an anyio worker thread, that sends at most four
    progress notifications a second (none when the client gave no progress token)."""
    if ctx is None:
        return None
    last = 0.0

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < MIN_INTERVAL_S and done < total:
            return
        last = now
        try:
            anyio.from_thread.run(ctx.report_progress, float(done), float(total or 1), message)
        except Exception as exc:  # progress is best-effort; never fail the work because of it
            log.debug("progress notification not sent: %r", exc)

    return report


def task_progress(ctx: Context) -> Callable[[Task], Awaitable[None]]:
    """An ``on_change(task)`` callback for a tool that waits on a task: each new state of the task
    becomes an MCP progress notification (best-effort: a failed notification never fails the call)."""

    async def report(task: Task) -> None:
        try:
            await ctx.report_progress(task.progress, 1.0, task.message or task.status.value)
        except Exception as exc:
            log.debug("progress notification not sent: %r", exc)

    return report
