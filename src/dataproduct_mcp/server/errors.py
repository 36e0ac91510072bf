"""The error boundary: every failure becomes the structured tool error of contract §4.

Exceptions are mapped here and nowhere else: our :class:`~dataproduct_mcp.errors.DpError`
keeps its code; the SDK's argument-validation failures become ``invalid-argument`` naming
the field; an unknown tool is ``not-found``; anything else is ``internal``, logged with its
traceback under the trace id that the caller sees (the message leaks nothing).
"""

from __future__ import annotations

import errno
import json
import logging

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from dataproduct_mcp.errors import DpError, Internal, InvalidArgument, NotFound, ShuttingDown, TooLarge
from dataproduct_mcp.services.products import invalid_argument_from

__all__ = ["error_result", "map_exception"]

log = logging.getLogger("dataproduct_mcp.server.errors")


def _root_cause(exc: BaseException) -> BaseException:
    """Unwrap the SDK's ToolError wrappers down to what the tool actually raised."""
    seen = set()
    while isinstance(exc, ToolError) and exc.__cause__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    return exc


def map_exception(exc: BaseException, tool: str) -> DpError:
    """Map any exception raised while calling ``tool`` to a DpError (logging unexpected ones)."""
    cause = _root_cause(exc)
    if isinstance(cause, DpError):
        return cause
    if isinstance(cause, ValidationError):
        return invalid_argument_from(cause)
    if isinstance(exc, ToolError) and not isinstance(exc, UnexpectedToolError):
        text = str(exc)
        if text.startswith("Unknown tool"):
            return NotFound(f"unknown tool {tool!r}", suggestion="List the tools with tools/list.")
        return InvalidArgument(text, field=None)
    if isinstance(cause, MemoryError):
        return TooLarge("the request needs more memory than the server allows")
    if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
        return Internal(
            f"the data directory cannot be written ({cause.strerror})",
            suggestion="Free space in, or make writable, DPMCP_DATA_DIR, then retry.",
        )
    return Internal("an unexpected error occurred")


def error_result(err: DpError, trace_id: str) -> CallToolResult:
    body = err.to_dict(trace_id)
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(body, ensure_ascii=False))],
        structured_content=body,
        is_error=True,
    )


def log_failure(exc: BaseException, err: DpError, tool: str) -> None:
    if isinstance(err, Internal) and not isinstance(_root_cause(exc), DpError):
        log.error("tool %s failed unexpectedly", tool, exc_info=_root_cause(exc))
    elif isinstance(err, Internal | ShuttingDown):
        log.warning("tool %s failed: %s %s", tool, err.code, err.message)
    else:
        log.info("tool %s rejected: %s %s", tool, err.code, err.message)
