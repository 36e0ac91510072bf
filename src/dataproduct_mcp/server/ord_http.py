"""The ORD Provider API on the HTTP side (contract §8, §11): pull transport for ORD aggregators.

- ``GET /.well-known/open-resource-discovery``: the configuration (valid against both
  Configuration schemas) listing ``/open-resource-discovery/v1/documents/1..n``; access strategy
  ``open`` without auth, the custom bearer strategy when bearer auth is on.
- ``GET /open-resource-discovery/v1/documents/{n}``: the n-th document of the tenant.
- Both: strong ``ETag`` over the served bytes, ``Cache-Control``, ``If-None-Match`` → ``304``,
  and ``?select=<ORD ID>`` (``500`` malformed id, ``404`` nothing matches: the spec's statuses).

Tenant: with auth on, the bearer token's tenant (documents need a token: ``401`` from the gate);
without auth, the local tenant.  With auth on and no token the configuration is still served (the
well-known path is open) but lists only document 1 — send the token to see every document of a
tenant whose description is split.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dataproduct_mcp.app import Application
from dataproduct_mcp.context import request_scope
from dataproduct_mcp.errors import DpError
from dataproduct_mcp.logs import get_logger
from dataproduct_mcp.ord import SELECT_HTTP_STATUS, select_configuration, select_document, serialize_ord_document
from dataproduct_mcp.ord.configuration import DOCUMENTS_PATH
from dataproduct_mcp.services.ord import OrdService, etag_of

__all__ = ["ord_routes"]

log = get_logger(__name__)

WELL_KNOWN = "/.well-known/open-resource-discovery"


def _caller(request: Request, app: Application) -> tuple[str | None, bool]:
    """(tenant or None when auth is on and no valid token came, whether auth is on)."""
    if "user" not in request.scope:  # no authentication middleware: auth is off
        return app.default_tenant(), False
    user = request.scope["user"]
    token = getattr(user, "access_token", None)
    if getattr(user, "is_authenticated", False) and token is not None:
        return str(token.client_id), True
    return None, True


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(part.strip().removeprefix("W/") == etag for part in header.split(","))


def ord_routes(app: Application) -> list[BaseRoute]:
    service: OrdService = app.ord
    max_age = app.settings.ord_cache_max_age_seconds

    def respond(request: Request, body: bytes, *, auth: bool) -> Response:
        etag = etag_of(body)
        scope = "private" if auth else "public"
        headers = {"ETag": etag, "Cache-Control": f"{scope}, max-age={max_age}, must-revalidate"}
        if auth:
            headers["Vary"] = "Authorization"
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    def failure(err: DpError, trace_id: str, status: int) -> Response:
        return JSONResponse(err.to_dict(trace_id), status_code=status)

    def unauthorized() -> Response:
        return JSONResponse(
            {"error": "invalid_token", "error_description": "Authentication required"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    async def configuration(request: Request) -> Response:
        tenant, auth = _caller(request, app)
        with request_scope(tenant=tenant) as trace_id:
            select = request.query_params.get("select")
            if tenant is None:
                if select is not None:
                    return unauthorized()
                anonymous = service.configuration_for_count(1, auth=True)
                return respond(request, serialize_ord_document(anonymous), auth=True)
            docs = await service.documents(tenant)
            config: dict[str, Any] = service.configuration(docs, auth=auth)
            if select is not None:
                try:
                    config = select_configuration(config, docs.documents, select)
                except DpError as err:
                    return failure(err, trace_id, SELECT_HTTP_STATUS.get(err.code, 500))
            return respond(request, serialize_ord_document(config), auth=auth)

    async def document(request: Request) -> Response:
        tenant, auth = _caller(request, app)
        if tenant is None:
            return unauthorized()  # the gate answers first; this guards a misconfigured stack
        with request_scope(tenant=tenant) as trace_id:
            n = request.path_params["n"]
            docs = await service.documents(tenant)
            if not 1 <= n <= len(docs.bodies):
                body = {"error": {"code": "not-found", "message": f"no ORD document {n}", "trace_id": trace_id}}
                return JSONResponse(body, status_code=404)
            select = request.query_params.get("select")
            if select is None:
                return respond(request, docs.bodies[n - 1], auth=auth)
            try:
                chosen = select_document(docs.documents[n - 1], select)
            except DpError as err:
                return failure(err, trace_id, SELECT_HTTP_STATUS.get(err.code, 500))
            return respond(request, json.dumps(chosen, ensure_ascii=False, separators=(",", ":")).encode(), auth=auth)

    return [
        Route(WELL_KNOWN, configuration, methods=["GET"]),
        Route(DOCUMENTS_PATH + "/{n:int}", document, methods=["GET"]),
    ]
