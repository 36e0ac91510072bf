"""Opaque, tamper-evident page cursors bound to the filter they were issued for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from dataproduct_mcp.errors import InvalidArgument

__all__ = ["CursorCodec"]


class CursorCodec:
    """Encodes a keyset position plus a digest of the filter; a cursor reused with other filters,
    or edited by hand, is ``invalid-argument`` (field ``cursor``)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _digest(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()[:16]

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
