"""Object storage: how to reach it (:class:`S3Config`, from the ``DPMCP_S3_*`` settings), the
pyarrow filesystems built from it, and the ONE place where storage failures become our errors.

:func:`storage_error` maps what pyarrow (the AWS SDK underneath: ``AWS Error ACCESS_DENIED
during HeadObject operation ...``, also ``AccessDenied``-style codes and HTTP statuses) and
deltalake (object_store: ``Connection refused``, ``403 Forbidden``...) raise:

* access denied, unknown access key, bad signature, expired token → ``forbidden`` (the suggestion
  names the DPMCP_S3_* settings);
* no such bucket / key → ``file-not-found``;
* refused connections, DNS failures, timeouts, 5xx and slow-down → ``storage-unavailable``
  (retryable), as is anything else storage raised that we cannot classify.

Messages name the source and the storage's error code, never a credential or a traceback.
pyarrow.fs is imported on first use (a filesystem is built when a source first needs one).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from dataproduct_mcp.errors import DpError, FileNotFound, Forbidden, StorageUnavailable

__all__ = ["S3Config", "Storage", "storage_error"]

CREDENTIALS_HINT = (
    "Check DPMCP_S3_ACCESS_KEY_ID, DPMCP_S3_SECRET_ACCESS_KEY (and DPMCP_S3_SESSION_TOKEN for temporary "
    "credentials), DPMCP_S3_REGION, and that the bucket policy lets them read this prefix."
)

_FORBIDDEN = (
    "ACCESS_DENIED",
    "ACCESSDENIED",
    "INVALID_ACCESS_KEY_ID",
    "INVALIDACCESSKEYID",
    "SIGNATURE_DOES_NOT_MATCH",
    "SIGNATUREDOESNOTMATCH",
    "EXPIRED_TOKEN",
    "EXPIREDTOKEN",
    "INVALID_CLIENT_TOKEN_ID",
    "INVALIDTOKEN",
    "UNRECOGNIZED_CLIENT",
    "MISSING_AUTHENTICATION_TOKEN",
    "ALLACCESSDISABLED",
    "ACCOUNTPROBLEM",
    "HTTP STATUS 401",
    "HTTP STATUS 403",
    "403 FORBIDDEN",
    "401 UNAUTHORIZED",
    "STATUS: 403",
    "FORBIDDEN",
)
_NOT_FOUND = (
    "NO_SUCH_BUCKET",
    "NOSUCHBUCKET",
    "NO_SUCH_KEY",
    "NOSUCHKEY",
    "RESOURCE_NOT_FOUND",
    "HTTP STATUS 404",
    "404 NOT FOUND",
    "TABLENOTFOUND",
    "NO FILES IN LOG SEGMENT",
    "NOT A DELTA TABLE",
)
_UNAVAILABLE = (
    "NETWORK_CONNECTION",
    "REQUEST_TIMEOUT",
    "REQUEST_TIME_TOO_SKEWED",
    "SERVICE_UNAVAILABLE",
    "SLOW_DOWN",
    "THROTTLING",
    "INTERNAL_FAILURE",
    "CURLCODE",
    "CONNECTION REFUSED",
    "TCP CONNECT ERROR",
    "ERROR SENDING REQUEST",
    "TIMED OUT",
    "TIMEOUT",
    "DNS ERROR",
    "COULD NOT RESOLVE",
    "HTTP STATUS 5",
)
_AWS_CODE = re.compile(r"AWS Error ([A-Z_]+|UNKNOWN \(HTTP status \d+\))")


@dataclass(frozen=True)
class S3Config:
    """How to reach S3-compatible storage; unset credentials use the AWS SDK's default chain."""

    endpoint_url: str | None = None  # http(s)://host:port of an S3-compatible server; None = AWS
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    anonymous: bool = False
    connect_timeout_s: float = 5.0
    request_timeout_s: float = 30.0
    max_attempts: int = 3
    force_virtual_addressing: bool = False

    @property
    def allow_http(self) -> bool:
        return bool(self.endpoint_url and self.endpoint_url.lower().startswith("http://"))

    def endpoint(self) -> tuple[str | None, str]:
        """(host[:port] without scheme or None, scheme)."""
        if not self.endpoint_url:
            return None, "https"
        scheme, _, rest = self.endpoint_url.partition("://")
        return rest.rstrip("/"), scheme.lower()

    def pyarrow_kwargs(self) -> dict[str, Any]:
        import pyarrow.fs as pafs

        host, scheme = self.endpoint()
        kwargs: dict[str, Any] = {
            "region": self.region,
            "scheme": scheme,
            "connect_timeout": self.connect_timeout_s,
            "request_timeout": self.request_timeout_s,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=self.max_attempts),
            "force_virtual_addressing": self.force_virtual_addressing,
            "anonymous": self.anonymous,
        }
        if host:
            kwargs["endpoint_override"] = host
        if self.access_key_id and self.secret_access_key:
            kwargs["access_key"] = self.access_key_id
            kwargs["secret_key"] = self.secret_access_key
            if self.session_token:
                kwargs["session_token"] = self.session_token
        return kwargs

    def delta_storage_options(self) -> dict[str, str]:
        """The same settings for deltalake (object_store's AWS keys)."""
        opts = {
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true" if self.allow_http else "false",
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true" if self.force_virtual_addressing else "false",
            "timeout": f"{self.request_timeout_s:g}s",
            "connect_timeout": f"{self.connect_timeout_s:g}s",
            "max_retries": str(max(0, self.max_attempts - 1)),
            "retry_timeout": f"{self.request_timeout_s * self.max_attempts:g}s",
        }
        if self.endpoint_url:
            opts["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.access_key_id and self.secret_access_key:
            opts["AWS_ACCESS_KEY_ID"] = self.access_key_id
            opts["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key
            if self.session_token:
                opts["AWS_SESSION_TOKEN"] = self.session_token
        if self.anonymous:
            opts["AWS_SKIP_SIGNATURE"] = "true"
        return opts


class Storage:
    """The filesystems of one configuration, built on first use and shared (they are thread-safe)."""

    def __init__(self, s3: S3Config | None = None, *, block_bytes: int = 8 << 20, read_ahead_blocks: int = 2) -> None:
        self.s3 = s3 or S3Config()
        self.block_bytes = block_bytes
        self.read_ahead_blocks = read_ahead_blocks
        self._lock = threading.Lock()
        self._fs: dict[str, Any] = {}

    def filesystem(self, storage: str) -> Any:
        """The pyarrow filesystem for ``local`` or ``s3``."""
        with self._lock:
            fs = self._fs.get(storage)
            if fs is None:
                import pyarrow.fs as pafs

                if storage == "s3":
                    try:
                        fs = pafs.S3FileSystem(**self.s3.pyarrow_kwargs())
                    except (OSError, ValueError) as exc:
                        raise storage_error(exc, "s3://") from exc
                else:
                    fs = pafs.LocalFileSystem()
                self._fs[storage] = fs
            return fs


def _classify(text: str) -> str:
    upper = text.upper()
    aws = _AWS_CODE.search(text)
    probe = aws.group(1).upper() if aws else upper
    for group, needles in (("forbidden", _FORBIDDEN), ("not-found", _NOT_FOUND), ("unavailable", _UNAVAILABLE)):
        if any(n in probe for n in needles):
            return group
    if aws is not None:  # an AWS code we do not list: look at the whole text once more
        for group, needles in (("forbidden", _FORBIDDEN), ("not-found", _NOT_FOUND)):
            if any(n in upper for n in needles):
                return group
    return "unavailable"


def storage_error(exc: BaseException, source: str) -> DpError:
    """Our error for a failure of object storage while reading ``source`` (see the module docstring)."""
    if isinstance(exc, DpError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return FileNotFound(f"no such object or prefix: {source}", path=source)
    text = str(exc)
    aws = _AWS_CODE.search(text)
    what = aws.group(1) if aws else type(exc).__name__
    kind = _classify(text)
    if kind == "forbidden":
        return Forbidden(
            f"object storage refused access to {source} ({what})", path=source, suggestion=CREDENTIALS_HINT
        )
    if kind == "not-found":
        return FileNotFound(f"no such bucket, object or table: {source} ({what})", path=source)
    return StorageUnavailable(f"object storage did not answer for {source} ({what})", path=source)
