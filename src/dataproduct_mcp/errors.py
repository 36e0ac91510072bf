"""One error hierarchy for the whole server.

Every failure a caller can see is a :class:`DpError` with a stable kebab-case ``code``
(contract §4), a ``message`` saying what went wrong, a ``suggestion`` saying what to do,
and structured ``context``.  Errors are mapped to MCP tool errors exactly once, at the
boundary (``server/errors.py``).

    DpError
    ├── InvalidArgument        invalid-argument      (field names the offending argument)
    ├── NotFound               not-found
    ├── AlreadyExists          already-exists
    ├── Conflict               conflict              (optimistic concurrency)
    ├── PathNotAllowed         path-not-allowed
    ├── FileNotFound           file-not-found
    ├── UnsupportedFormat      unsupported-format
    ├── TooLarge               too-large
    ├── RegistryUnavailable    registry-unavailable  (work stays queued)
    ├── RegistryRejected       registry-rejected
    ├── Unauthorized           unauthorized
    ├── Forbidden              forbidden
    ├── RateLimited            rate-limited          (retry_after seconds)
    ├── ShuttingDown           shutting-down
    └── Internal               internal              (details only in the logs)

Third-party exceptions are wrapped with ``raise X(...) from exc`` where they occur;
anything unexpected becomes ``Internal`` at the boundary.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ERROR_CODES",
    "AlreadyExists",
    "Conflict",
    "DpError",
    "FileNotFound",
    "Forbidden",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PathNotAllowed",
    "RateLimited",
    "RegistryRejected",
    "RegistryUnavailable",
    "ShuttingDown",
    "TooLarge",
    "Unauthorized",
    "UnsupportedFormat",
]


class DpError(Exception):
    """Base of every error a caller can see."""

    code: ClassVar[str] = "internal"
    default_suggestion: ClassVar[str] = "Retry later; if it persists, report the trace id."

    def __init__(self, message: str, *, suggestion: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion or self.default_suggestion
        self.context = context

    def to_dict(self, trace_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "suggestion": self.suggestion,
            "trace_id": trace_id,
        }
        for key, value in self.context.items():
            if value is not None:
                body[key] = value
        return {"error": body}


class InvalidArgument(DpError):
    code = "invalid-argument"
    default_suggestion = "Correct the named field and call again."

    def __init__(self, message: str, *, field: str | None = None, **kw: Any) -> None:
        super().__init__(message, field=field, **kw)
        self.field = field


class NotFound(DpError):
    code = "not-found"
    default_suggestion = "Check the id; list_data_products shows what exists."


class AlreadyExists(DpError):
    code = "already-exists"
    default_suggestion = "Use get_data_product to read the existing one, or update_data_product to change it."


class Conflict(DpError):
    code = "conflict"
    default_suggestion = "Read the current revision with get_data_product, reapply your change, and retry."


class PathNotAllowed(DpError):
    code = "path-not-allowed"
    default_suggestion = "Use a path inside one of the allowed roots (DPMCP_ALLOWED_ROOTS)."


class FileNotFound(DpError):
    code = "file-not-found"
    default_suggestion = "Check the path; it must name an existing regular file."


class UnsupportedFormat(DpError):
    code = "unsupported-format"
    default_suggestion = "Call list_file_formats for the supported formats, or pass `format` explicitly."


class TooLarge(DpError):
    code = "too-large"
    default_suggestion = "Send less at once: page through results or split the input."


class RegistryUnavailable(DpError):
    code = "registry-unavailable"
    default_suggestion = "The publication is queued and will be delivered when the registry recovers."


class RegistryRejected(DpError):
    code = "registry-rejected"
    default_suggestion = "Fix what the registry objected to (see message), then publish again."


class Unauthorized(DpError):
    code = "unauthorized"
    default_suggestion = "Send a valid bearer token in the Authorization header."


class Forbidden(DpError):
    code = "forbidden"
    default_suggestion = "Use a token whose tenant may perform this action."


class RateLimited(DpError):
    code = "rate-limited"
    default_suggestion = "Wait retry_after seconds, then retry."

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, retry_after=round(retry_after, 3), **kw)
        self.retry_after = retry_after


class ShuttingDown(DpError):
    code = "shutting-down"
    default_suggestion = "The server is stopping; retry against a running instance."


class Internal(DpError):
    code = "internal"
    default_suggestion = "Retry later; if it persists, give the trace id to the operator (it finds the log)."


def _all_subclasses(cls: type[DpError]) -> list[type[DpError]]:
    out: list[type[DpError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


ERROR_CODES: tuple[str, ...] = tuple(sorted({c.code for c in _all_subclasses(DpError)}))
