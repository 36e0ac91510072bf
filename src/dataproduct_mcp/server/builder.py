"""``build_server(app) -> MCPServer``: the MCP tool layer over one Application.

Every tool call runs in a request scope (trace id, tenant); every failure leaves through
one boundary (:mod:`dataproduct_mcp.server.errors`) as the structured error of contract §4.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.server.request_state import RequestStateSecurity
from mcp.types import CallToolResult, Icon, ToolAnnotations

from dataproduct_mcp import __version__
from dataproduct_mcp.app import Application
from dataproduct_mcp.context import current_tenant, request_scope
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.server import schema_cache
from dataproduct_mcp.server.errors import error_result, log_failure, map_exception

__all__ = ["DataProductServer", "build_server", "tool_annotations"]

log = get_logger(__name__)

INSTRUCTIONS = """\
dataproduct-mcp manages data products: register one (register_data_product), find them \
(list_data_products, get_data_product), change them (update_data_product with expected_revision), \
follow their lineage through input_ports (get_lineage), \
validate their files (validate_file, validate_data_product), look into their data (preview_data, profile), \
attach and compare ODCS data contracts \
(import_contract, export_contract, diff_contracts; export_odps for ODPS), describe them in Dublin Core \
(map_dublin_core) and publish them to an ORD registry (get_ord_document, publish_to_ord). \
Failures are JSON objects {"error": {"code", "message", "suggestion", "trace_id"}}; codes are stable."""


def tool_annotations(
    title: str, *, read_only: bool, destructive: bool = False, idempotent: bool, open_world: bool = False
) -> ToolAnnotations:
    """The four hints, set explicitly for every tool (one helper, so none is forgotten)."""
    return ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )


class DataProductServer(MCPServer[Any]):
    """MCPServer whose tool calls run in a request scope and fail only with structured errors."""

    def __init__(self, app: Application, *, use_schema_cache: bool = True, **kwargs: Any) -> None:
        with _sdk_logging_setup_skipped():
            super().__init__(**kwargs)
        self.app = app
        self.use_schema_cache = use_schema_cache  # server/schema_cache.py

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        # Tool descriptions are product copy read by an LLM: no source-code indentation in them.
        if description is None and fn.__doc__:
            description = inspect.cleandoc(fn.__doc__)
        if self.use_schema_cache and structured_output is None:
            tool = schema_cache.cached_tool(fn, name or fn.__name__, title, description or "", annotations, icons, meta)
            if tool is not None:  # the shipped schemas are current: no schema generation at start
                self._tool_manager._tools.setdefault(tool.name, tool)
                return
        super().add_tool(fn, name, title, description, annotations, icons, meta, structured_output)

    def tenant_for_request(self) -> str:
        token = get_access_token()
        if token is not None and token.client_id:
            return token.client_id
        return self.app.default_tenant()

    def tenant(self) -> str:
        """The caller's tenant inside a tool call (set by :meth:`call_tool`'s request scope)."""
        return current_tenant() or self.app.default_tenant()

    @staticmethod
    def actor_for_request() -> str | None:
        """The bearer token's name (from the tokens file), for the audit trail; never the token."""
        token = get_access_token()
        if token is not None and token.claims:
            return str(token.claims.get("name") or "") or None
        return None

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        with request_scope(tenant=self.tenant_for_request(), actor=self.actor_for_request()) as trace_id:
            started = time.perf_counter()
            try:
                self.app.rate_limiter.check(self.tenant())
                result = await super().call_tool(name, arguments, context)
            except Exception as exc:  # the one boundary: everything becomes a structured error
                err = map_exception(exc, name)
                log_failure(exc, err, name)
                self._observe(name, "error", started, err.code)
                return error_result(err, trace_id)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if isinstance(result, CallToolResult) and result.is_error:
                log.info("tool %s returned an error in %.1f ms", name, elapsed_ms)
                self._observe(name, "error", started, "unknown")
            else:
                log.debug("tool %s ok in %.1f ms", name, elapsed_ms)
                self._observe(name, "ok", started)
            return result

    def _observe(self, name: str, outcome: str, started: float, code: str | None = None) -> None:
        # Unknown tool names are folded into one label value: labels must stay bounded.
        tool = name if self._tool_manager.get_tool(name) is not None else "unknown"
        self.app.metrics.observe_tool(tool, outcome, time.perf_counter() - started, code)


@contextlib.contextmanager
def _sdk_logging_setup_skipped() -> Iterator[None]:
    """The SDK's ``MCPServer()`` sets up logging with ``logging.basicConfig`` and a rich handler:
    nothing happens when the root logger has a handler already (ours: logs.configure_logging), but
    rich is imported (~15 ms) for the handler that is then dropped. In exactly that case the call
    is left out; otherwise the SDK does what it always does."""
    if not logging.getLogger().handlers:
        yield
        return
    from mcp.server.mcpserver import server as sdk_server

    configure = sdk_server.configure_logging
    sdk_server.configure_logging = lambda *args, **kwargs: None
    try:
        yield
    finally:
        sdk_server.configure_logging = configure


def build_server(
    app: Application, *, token_verifier: Any = None, auth: Any = None, use_schema_cache: bool = True
) -> DataProductServer:
    from dataproduct_mcp.server import (
        tools_audit,
        tools_contracts,
        tools_data,
        tools_files,
        tools_ord,
        tools_products,
        tools_status,
        tools_streams,
        tools_tasks,
    )

    server = DataProductServer(
        app,
        use_schema_cache=use_schema_cache,
        name="dataproduct-mcp",
        title="Data products",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level=app.settings.log_level,
        token_verifier=token_verifier,
        auth=auth,
        # Replicas behind a balancer must unseal each other's requestState: one shared key ring.
        request_state_security=RequestStateSecurity(keys=app.settings.request_state_keys)
        if app.settings.request_state_keys
        else None,
        # The tool, resource and template lists only change with a new version: let clients keep them.
        cache_hints={
            "tools/list": CacheHint(ttl_ms=300_000),
            "resources/templates/list": CacheHint(ttl_ms=300_000),
        },
    )
    tools_products.register(server, app)
    tools_files.register(server, app)
    tools_data.register(server, app)
    tools_status.register(server, app)
    tools_ord.register(server, app)
    tools_audit.register(server, app)
    tools_streams.register(server, app)
    tools_tasks.register(server, app)
    tools_contracts.register(server, app)
    return server
