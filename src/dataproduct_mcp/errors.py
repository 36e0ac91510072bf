"""One error hierarchy for the whole server.

Every failure a caller can see is a :class:`DpError` with a stable kebab-case ``code``
(contract §4), a ``message`` saying what went wrong, a ``suggestion`` saying what to do,
and structured ``context``.  Errors are mapped to MCP tool errors exactly once, at the
boundary (``server/errors.py``).

    class                      code                  HTTP  retryable
    DpError
    ├── InvalidArgument        invalid-argument      400             (field names the offending argument)
    ├── NotFound               not-found             404
    ├── AlreadyExists          already-exists        409
    ├── Conflict               conflict              409             (optimistic concurrency)
    ├── PathNotAllowed         path-not-allowed      403
    ├── FileNotFound           file-not-found        404
    ├── UnsupportedFormat      unsupported-format    415
    ├── TooLarge               too-large             413
    ├── RegistryUnavailable    registry-unavailable  503   yes       (work stays queued)
    ├── RegistryRejected       registry-rejected     502
    ├── Unauthorized           unauthorized          401
    ├── Forbidden              forbidden             403
    ├── RateLimited            rate-limited          429   yes       (retry_after seconds)
    ├── ShuttingDown           shutting-down         503   yes
    ├── StorageUnavailable     storage-unavailable   503   yes       (object storage unreachable or too slow)
    └── Internal               internal              500             (details only in the logs)
        └── DatabaseUnavailable  internal            503   yes       (down, unreachable, locked, too slow)

Each class carries its ``http_status`` (the HTTP side answers with it) and ``retryable`` (a task
failing with it is retried with back-off; :func:`is_retryable` is the one rule). Third-party
exceptions are wrapped with ``raise X(...) from exc`` at the layer that knows them (the database
dialects wrap their driver's errors); anything unexpected becomes ``Internal`` at the boundary.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ERROR_CODES",
    "AlreadyExists",
    "Conflict",
    "DatabaseUnavailable",
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
    "StorageUnavailable",
    "TooLarge",
    "Unauthorized",
    "UnsupportedFormat",
    "is_retryable",
]


class DpError(Exception):
    """Base of every error a caller can see."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False
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
    http_status = 400
    default_suggestion = "Correct the named field and call again."

    def __init__(self, message: str, *, field: str | None = None, **kw: Any) -> None:
        super().__init__(message, field=field, **kw)
        self.field = field


class NotFound(DpError):
    code = "not-found"
    http_status = 404
    default_suggestion = "Check the id; list_data_products shows what exists."


class AlreadyExists(DpError):
    code = "already-exists"
    http_status = 409
    default_suggestion = "Use get_data_product to read the existing one, or update_data_product to change it."


class Conflict(DpError):
    code = "conflict"
    http_status = 409
    default_suggestion = "Read the current revision with get_data_product, reapply your change, and retry."


class PathNotAllowed(DpError):
    code = "path-not-allowed"
    http_status = 403
    default_suggestion = "Use a path inside one of the allowed roots (DPMCP_ALLOWED_ROOTS)."


class FileNotFound(DpError):
    code = "file-not-found"
    http_status = 404
    default_suggestion = "Check the path; it must name an existing regular file."


class UnsupportedFormat(DpError):
    code = "unsupported-format"
    http_status = 415
    default_suggestion = "Call list_file_formats for the supported formats, or pass `format` explicitly."


class TooLarge(DpError):
    code = "too-large"
    http_status = 413
    default_suggestion = "Send less at once: page through results or split the input."


class RegistryUnavailable(DpError):
    code = "registry-unavailable"
    http_status = 503
    retryable = True
    default_suggestion = "The publication is queued and will be delivered when the registry recovers."


class RegistryRejected(DpError):
    code = "registry-rejected"
    http_status = 502
    default_suggestion = "Fix what the registry objected to (see message), then publish again."


class Unauthorized(DpError):
    code = "unauthorized"
    http_status = 401
    default_suggestion = "Send a valid bearer token in the Authorization header."


class Forbidden(DpError):
    code = "forbidden"
    http_status = 403
    default_suggestion = "Use a token whose tenant may perform this action."


class RateLimited(DpError):
    code = "rate-limited"
    http_status = 429
    retryable = True
    default_suggestion = "Wait retry_after seconds, then retry."

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, retry_after=round(retry_after, 3), **kw)
        self.retry_after = retry_after


class ShuttingDown(DpError):
    code = "shutting-down"
    http_status = 503
    retryable = True
    default_suggestion = "The server is stopping; retry against a running instance."


class StorageUnavailable(DpError):
    """Object storage (an S3-compatible endpoint) did not answer: refused connection, DNS failure,
    timeout, or a 5xx / slow-down answer after the retries. Nothing was changed; retry later."""

    code = "storage-unavailable"
    http_status = 503
    retryable = True
    default_suggestion = (
        "Check that the object storage endpoint (DPMCP_S3_ENDPOINT_URL) is reachable, then retry; "
        "DPMCP_S3_CONNECT_TIMEOUT_SECONDS and DPMCP_S3_REQUEST_TIMEOUT_SECONDS bound each wait."
    )


class Internal(DpError):
    code = "internal"
    default_suggestion = "Retry later; if it persists, give the trace id to the operator (it finds the log)."


class DatabaseUnavailable(Internal):
    """The database did not answer (down, unreachable, out of connections, locked past the busy
    timeout, too slow). Callers see ``internal`` with a trace id; a task meeting it is retried."""

    http_status = 503
    retryable = True
    default_suggestion = "The database is unavailable; retry in a moment. Nothing was lost."


def is_retryable(exc: BaseException) -> bool:
    """Whether work that failed with ``exc`` may succeed if tried again later (tasks retry it with
    back-off): a retryable :class:`DpError`, or a timeout."""
    if isinstance(exc, DpError):
        return exc.retryable
    return isinstance(exc, TimeoutError)


def _all_subclasses(cls: type[DpError]) -> list[type[DpError]]:
    out: list[type[DpError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


ERROR_CODES: tuple[str, ...] = tuple(sorted({c.code for c in _all_subclasses(DpError)}))
