"""Configuration from ``DPMCP_*`` environment variables (contract §2), validated at start.

Every setting is documented in ``docs/configuration.md`` (a test keeps the two in step).
A wrong value is a :class:`ConfigError` listing one line per problem; the CLI prints those
lines and exits with status 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["ConfigError", "Settings", "load_settings"]

ENV_PREFIX = "DPMCP_"
NAMESPACE_PATTERN = r"^[a-z0-9]+(?:[.][a-z0-9]+)*$"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("dataproduct-mcp", appauthor=False))


class Settings(BaseSettings):
    """All settings; the environment variable is ``DPMCP_`` + the upper-cased field name."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=_default_data_dir, description="Where the SQLite database lives.")
    database_url: str | None = Field(
        None, description="Database URL; unset = SQLite in DATA_DIR. `sqlite:///path` or `postgresql://...`."
    )
    db_pool_min: int = Field(2, ge=0, le=100, description="PostgreSQL: connections the pool keeps open.")
    db_pool_max: int = Field(10, ge=1, le=1000, description="PostgreSQL: most connections of the pool.")
    db_timeout_seconds: float = Field(
        10.0, gt=0, le=600, description="PostgreSQL: bound of a connect, a pool wait and one statement."
    )
    request_state_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated secrets (32+ bytes each; the first seals) for MCP requestState; "
        "the same on every replica. Unset: a per-process key.",
    )
    cursor_secret: SecretStr | None = Field(
        None,
        description="Secret (32+ bytes) that signs page cursors; unset = random bytes kept in the database, "
        "shared by every replica of it.",
    )
    allowed_roots: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="os.pathsep-separated directories (and s3://bucket/prefix URIs) file tools may read; "
        "default: cwd and DATA_DIR.",
    )
    http_host: str = Field("127.0.0.1", description="Host of the HTTP side.")
    http_port: int = Field(0, ge=0, le=65535, description="Port of the HTTP side; 0 = ephemeral.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    cache_max_bytes: int = Field(64 * 1024 * 1024, ge=0, description="Byte bound of the validation cache.")
    validation_time_budget_seconds: float = Field(600.0, gt=0, le=86400, description="Per-file time budget.")
    contract_distinct_cap: int = Field(
        4_000_000, ge=1, le=100_000_000, description="Distinct values held per duplicateValues rule of a contract."
    )
    max_result_bytes: int = Field(64 * 1024, ge=4096, le=16 * 1024 * 1024, description="Cap of one tool result.")
    ord_namespace: str = Field("customer.dpmcp", pattern=NAMESPACE_PATTERN, max_length=64)
    ord_registry_url: str | None = Field(None, pattern=r"^https?://")
    ord_registry_token: str | None = None
    breaker_failure_threshold: int = Field(5, ge=1, le=1000)
    breaker_reset_seconds: float = Field(30.0, gt=0, le=86400)
    ord_registry_trigger_url: str | None = Field(
        None, pattern=r"^https?://", description="Aggregator re-pull trigger, POSTed after each delivery."
    )
    ord_registry_connect_timeout_seconds: float = Field(5.0, gt=0, le=300, description="Registry connect timeout.")
    ord_registry_read_timeout_seconds: float = Field(30.0, gt=0, le=3600, description="Registry read timeout.")
    ord_registry_attempts: int = Field(4, ge=1, le=20, description="Tries per delivery before the task backs off.")
    ord_registry_backoff_seconds: float = Field(0.5, gt=0, le=60, description="First retry wait (exponential).")
    ord_outbox_sweep_seconds: float = Field(30.0, gt=0, le=86400, description="Re-queue orphaned outbox rows.")
    ord_base_url: str | None = Field(
        None, pattern=r"^https?://", description="Public base URL in ORD documents; default: the HTTP side's URL."
    )
    ord_cache_max_age_seconds: int = Field(60, ge=0, le=86400, description="Cache-Control max-age of ORD responses.")
    dc_mappings_file: Path | None = Field(None, description="Custom Dublin Core mappings (label key -> DCMI term).")
    auth_tokens_file: Path | None = None
    sentry_dsn: str | None = None
    otel_endpoint: str | None = Field(None, pattern=r"^https?://", description="OTLP/HTTP traces endpoint.")
    rate_limit: str = Field(
        "1200/minute",
        description="Tool calls allowed per tenant (limits syntax, e.g. '1200/minute' or '50/second;1000/minute');"
        " 'off' disables.",
    )
    max_request_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024, description="Largest HTTP request body (MCP and HTTP side)."
    )
    audit_retention_days: float = Field(365.0, gt=0, le=36500, description="Audit events older than this are pruned.")
    tenant: str = Field("local", pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$", description="Tenant under stdio.")
    stream_ttl_seconds: float = Field(300.0, gt=0, le=86400, description="Absolute lifetime of a stream session.")
    stream_idle_seconds: float = Field(60.0, gt=0, le=3600, description="A stream session without progress ends.")
    stream_max_per_tenant: int = Field(8, ge=1, le=10000, description="Open stream sessions per tenant.")
    stream_max_total: int = Field(64, ge=1, le=100000, description="Open stream sessions in this process.")
    stream_max_message_bytes: int = Field(
        16 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024, description="Largest WebSocket message of a stream."
    )
    task_workers: int = Field(2, ge=1, le=64, description="Tasks run at once by this process.")
    task_lease_seconds: float = Field(30.0, ge=1, le=3600, description="Lease of a claimed task; renewed every third.")
    task_retention_days: float = Field(7.0, gt=0, le=3650, description="Finished tasks are pruned after this.")
    s3_endpoint_url: str | None = Field(
        None, pattern=r"^https?://[^/?#]+/?$", description="S3-compatible endpoint (http(s)://host:port); unset = AWS."
    )
    s3_region: str = Field("us-east-1", min_length=1, max_length=64, description="S3 region (signing).")
    s3_access_key_id: str | None = Field(None, max_length=256, description="S3 access key id; unset = AWS chain.")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")
    s3_session_token: SecretStr | None = Field(None, description="S3 session token (temporary credentials).")
    s3_anonymous: bool = Field(False, description="Read public buckets without signing.")
    s3_connect_timeout_seconds: float = Field(5.0, gt=0, le=300, description="Bound of one S3 connect.")
    s3_request_timeout_seconds: float = Field(30.0, gt=0, le=3600, description="Bound of one S3 request.")
    s3_max_attempts: int = Field(3, ge=1, le=20, description="Tries of one S3 request (standard retry strategy).")
    s3_force_virtual_addressing: bool = Field(False, description="bucket.host URLs instead of path-style ones.")
    s3_read_block_bytes: int = Field(
        8 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024, description="Size of one ranged read of an object."
    )
    source_max_files: int = Field(100_000, ge=1, le=10_000_000, description="Most files a source may list.")
    source_parallel_files: int = Field(4, ge=1, le=64, description="Files of one dataset validated at once.")
    schedule_revalidate_seconds: float = Field(
        3600.0, ge=0, le=30 * 86400, description="Re-validate products whose files changed; 0 = off."
    )
    schedule_republish_seconds: float = Field(
        600.0, ge=0, le=30 * 86400, description="Re-publish products ahead of the ORD registry; 0 = off."
    )
    schedule_prune_seconds: float = Field(
        3600.0, ge=0, le=30 * 86400, description="Prune old tasks, tombstones and audit events; 0 = off."
    )
    schedule_vacuum_seconds: float = Field(
        86400.0, ge=0, le=30 * 86400, description="Optimize, checkpoint and vacuum the database; 0 = off."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        from dataproduct_mcp.sources.uri import split_roots

        if isinstance(value, str):
            return split_roots(value)
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        if value.strip().lower() in ("off", "0", ""):
            return "off"
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError("expected e.g. '1200/minute' or '50/second;1000/minute', or 'off'") from exc
        return value

    @field_validator("request_state_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("request_state_keys")
    @classmethod
    def _long_keys(cls, value: list[str]) -> list[str]:
        if any(len(k.encode()) < 32 for k in value):
            raise ValueError("each key must be at least 32 bytes, e.g. from: openssl rand -hex 32")
        return value

    @field_validator("cursor_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("the secret must be at least 32 bytes, e.g. from: openssl rand -hex 32")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("expected sqlite:///PATH or postgresql://...")
        return value

    @model_validator(mode="after")
    def _pool_bounds(self) -> Settings:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError(f"DPMCP_DB_POOL_MIN ({self.db_pool_min}) exceeds DPMCP_DB_POOL_MAX ({self.db_pool_max})")
        return self

    @model_validator(mode="after")
    def _roots_exist(self) -> Settings:
        from dataproduct_mcp.errors import PathNotAllowed
        from dataproduct_mcp.sources.uri import UriPrefix, is_uri

        for root in self.allowed_roots:
            if is_uri(root):
                try:
                    UriPrefix.parse(root)
                except PathNotAllowed as exc:
                    raise ValueError(f"allowed root {root!r}: {exc.message}") from None
            elif not Path(root).expanduser().is_dir():
                raise ValueError(f"allowed root {root!r} is not an existing directory")
        return self

    @model_validator(mode="after")
    def _s3_key_pair(self) -> Settings:
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError("DPMCP_S3_ACCESS_KEY_ID and DPMCP_S3_SECRET_ACCESS_KEY are set together or not at all")
        return self

    @property
    def effective_allowed_roots(self) -> list[Path]:
        """The local directories of DPMCP_ALLOWED_ROOTS (default: cwd and DATA_DIR), resolved."""
        from dataproduct_mcp.sources.uri import is_uri

        local = [r for r in self.allowed_roots if not is_uri(r)]
        roots = [Path(r) for r in local] if self.allowed_roots else [Path.cwd(), self.data_dir]
        return [Path(os.path.realpath(r.expanduser())) for r in roots]

    @property
    def allowed_uri_prefixes(self) -> list[str]:
        """The ``s3://`` entries of DPMCP_ALLOWED_ROOTS."""
        from dataproduct_mcp.sources.uri import is_uri

        return [r for r in self.allowed_roots if is_uri(r)]

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file: from ``sqlite:///relative`` / ``sqlite:////absolute``, else DATA_DIR."""
        if self.database_url and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///")).expanduser()
        return self.data_dir.expanduser() / "dataproduct.sqlite3"

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        if self.database_url and self.database_url.startswith(("postgresql://", "postgres://")):
            return "postgresql"
        return "sqlite"


class ConfigError(Exception):
    """Invalid configuration; ``problems`` has one human line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (overrides win) or raise :class:`ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ENV_PREFIX + ".".join(str(p) for p in err["loc"]).upper() if err["loc"] else "configuration"
            raw = os.environ.get(name) if err["loc"] else None
            shown = f"={raw!r}" if raw is not None else ""
            problems.append(f"{name}{shown}: {err['msg']}")
        raise ConfigError(problems) from None
