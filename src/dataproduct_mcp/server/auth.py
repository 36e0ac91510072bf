"""Bearer-token authentication for the HTTP transport (contract §11).

``DPMCP_AUTH_TOKENS_FILE`` is JSON: ``{"tokens": [{"sha256": "<hex>", "tenant": "acme", "name": "ci"}]}``.
Only hashes are stored; tokens are never logged. A token maps to a tenant; the MCP endpoint acts
as an OAuth 2.1 resource server as far as the MCP spec requires (``401`` with ``WWW-Authenticate``
naming the RFC 9728 protected-resource metadata). Probes (``/alive``, ``/ready``, ``/startup``) and
``/.well-known/*`` stay open; WebSocket streams check their own session tokens.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Receive, Scope, Send

from dataproduct_mcp.logs import get_logger

__all__ = ["AuthError", "BearerGate", "TokenFile", "TokenVerifier", "new_token"]

log = get_logger(__name__)

TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
OPEN_PATHS = ("/alive", "/ready", "/startup")
OPEN_PREFIXES = ("/.well-known/", "/streams/", "/tasks/")  # streams/task events: session tokens


class AuthError(ValueError):
    """The tokens file is unreadable or malformed (a start-up error, one line per problem)."""


@dataclass(frozen=True)
class Principal:
    tenant: str
    name: str


def new_token() -> tuple[str, str]:
    """A fresh random token (256 bits, URL-safe) and its sha256 hex digest."""
    token = "dpmcp_" + secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


class TokenFile:
    """The tokens file, loaded once at start."""

    def __init__(self, by_hash: dict[str, Principal]) -> None:
        self._by_hash = by_hash

    @classmethod
    def load(cls, path: Path) -> TokenFile:
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise AuthError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise AuthError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from exc
        problems: list[str] = []
        entries = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise AuthError(f'{path}: expected {{"tokens": [{{"sha256", "tenant", "name"}}, ...]}}')
        by_hash: dict[str, Principal] = {}
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                problems.append(f"{path}: tokens[{i}] is not an object")
                continue
            digest, tenant, name = entry.get("sha256"), entry.get("tenant"), entry.get("name", f"token-{i}")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                problems.append(f"{path}: tokens[{i}].sha256 must be 64 lowercase hex digits")
            elif not isinstance(tenant, str) or not TENANT_RE.match(tenant):
                problems.append(f"{path}: tokens[{i}].tenant must match {TENANT_RE.pattern}")
            elif digest in by_hash:
                problems.append(f"{path}: tokens[{i}] repeats the hash of another entry")
            else:
                by_hash[digest] = Principal(tenant=tenant, name=str(name)[:100])
        if problems:
            raise AuthError("\n".join(problems))
        if not by_hash:
            raise AuthError(f"{path}: no tokens; create one with `dataproduct-mcp token create --tenant NAME`")
        return cls(by_hash)

    def principal(self, token: str) -> Principal | None:
        if not token or len(token) > 512:
            return None
        return self._by_hash.get(hashlib.sha256(token.encode()).hexdigest())

    @property
    def tenants(self) -> set[str]:
        return {p.tenant for p in self._by_hash.values()}


class TokenVerifier:
    """The MCP SDK's TokenVerifier over a TokenFile: ``client_id`` carries the tenant."""

    def __init__(self, tokens: TokenFile) -> None:
        self.tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        principal = self.tokens.principal(token)
        if principal is None:
            log.warning("authentication failed: unknown bearer token")
            return None
        return AccessToken(token=token, client_id=principal.tenant, scopes=[], claims={"name": principal.name})


class BearerGate:
    """ASGI middleware: every HTTP request except the open paths needs an authenticated user
    (set by the SDK's AuthenticationMiddleware from the bearer token); otherwise ``401``."""

    def __init__(
        self,
        app: ASGIApp,
        resource_metadata_url: str,
        on_failure: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
    ) -> None:
        self.app = app
        self.resource_metadata_url = resource_metadata_url
        self.on_failure = on_failure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            if self.on_failure is not None:
                headers = dict(scope.get("headers") or [])
                client = scope.get("client")
                await self.on_failure(
                    {
                        "path": path[:200],
                        "method": scope.get("method"),
                        "client": client[0] if client else None,
                        "reason": "invalid token" if b"authorization" in headers else "missing token",
                    }
                )
            body = json.dumps({"error": "invalid_token", "error_description": "Authentication required"}).encode()
            challenge = (
                f'Bearer error="invalid_token", error_description="Authentication required", '
                f'resource_metadata="{self.resource_metadata_url}"'
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", challenge.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
