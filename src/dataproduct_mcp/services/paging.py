"""Opaque, tamper-evident page cursors bound to the filter they were issued for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Protocol

from dataproduct_mcp.errors import Internal, InvalidArgument

__all__ = ["CURSOR_SECRET_NAME", "CursorCodec", "CursorKey"]

CURSOR_SECRET_NAME = "cursor"


class SecretSource(Protocol):
    async def server_secret(self, name: str) -> bytes: ...


class CursorKey:
    """The secret behind every page cursor: ``DPMCP_CURSOR_SECRET`` when configured, else random bytes
    kept in the database (created on first start, so every replica of one database shares them).
    Nothing about it can be guessed from the deployment. :meth:`load` runs at start, before any call."""

    def __init__(self, configured: bytes | None = None) -> None:
        self._value = configured  # its length is checked where it is configured (config.py)

    async def load(self, store: SecretSource) -> None:
        if self._value is None:
            self._value = await store.server_secret(CURSOR_SECRET_NAME)

    @property
    def value(self) -> bytes:
        if self._value is None:
            raise Internal("the cursor secret is not loaded (the application has not started)")
        return self._value


class CursorCodec:
    """Encodes a keyset position plus a digest of the filter; a cursor reused with other filters,
    or edited by hand, is ``invalid-argument`` (field ``cursor``). ``purpose`` keeps the cursors of
    one listing from being accepted by another."""

    def __init__(self, secret: bytes | CursorKey, purpose: bytes = b"") -> None:
        self._key = secret if isinstance(secret, CursorKey) else CursorKey(secret)
        self._purpose = purpose

    def _digest(self, payload: bytes) -> str:
        return hmac.new(self._key.value + self._purpose, payload, hashlib.sha256).hexdigest()[:16]

    @staticmethod
    def _filter_key(filters: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def encode(self, after: int, filters: dict[str, Any]) -> str:
        body = json.dumps({"a": after, "f": self._filter_key(filters)}, separators=(",", ":")).encode()
        token = body + b"." + self._digest(body).encode()
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, cursor: str, filters: dict[str, Any]) -> int:
        bad = InvalidArgument(
            "cursor is not valid for this query",
            field="cursor",
            suggestion="Pass back next_cursor exactly as received, with the same filters; omit it to start over.",
        )
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            body, _, digest = raw.rpartition(b".")
            if not hmac.compare_digest(digest.decode(), self._digest(body)):
                raise bad
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad from exc
        if (
            not isinstance(data, dict)
            or data.get("f") != self._filter_key(filters)
            or not isinstance(data.get("a"), int)
        ):
            raise bad
        return int(data["a"])
