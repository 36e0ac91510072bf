"""Per-request context carried in contextvars: the trace id and the caller's tenant.

The boundary (an MCP tool call, an HTTP request, a task run) opens a scope with
:func:`request_scope`; logs pick the trace id up, services receive the tenant explicitly.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["current_actor", "current_tenant", "current_trace_id", "new_trace_id", "request_scope"]

_trace_id: ContextVar[str | None] = ContextVar("dpmcp_trace_id", default=None)
_tenant: ContextVar[str | None] = ContextVar("dpmcp_tenant", default=None)
_actor: ContextVar[str | None] = ContextVar("dpmcp_actor", default=None)


def new_trace_id() -> str:
    """A 128-bit random trace id in W3C trace-context form (32 lowercase hex digits)."""
    return secrets.token_hex(16)


def current_trace_id() -> str | None:
    return _trace_id.get()


def current_tenant() -> str | None:
    return _tenant.get()


def current_actor() -> str | None:
    """Who acts: the name of the bearer token (never the token), or None under stdio."""
    return _actor.get()


@contextlib.contextmanager
def request_scope(*, tenant: str | None = None, trace_id: str | None = None, actor: str | None = None) -> Iterator[str]:
    """Set trace id (new unless given), tenant and actor for the enclosed code; yields the trace id."""
    tid = trace_id or new_trace_id()
    t1 = _trace_id.set(tid)
    t2 = _tenant.set(tenant if tenant is not None else _tenant.get())
    t3 = _actor.set(actor if actor is not None else _actor.get())
    try:
        yield tid
    finally:
        _actor.reset(t3)
        _tenant.reset(t2)
        _trace_id.reset(t1)
