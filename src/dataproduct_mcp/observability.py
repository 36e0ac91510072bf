"""Optional error reporting (Sentry) and tracing export (OpenTelemetry), both off by default.

- Sentry: only when ``DPMCP_SENTRY_DSN`` is set; needs the ``sentry`` extra
  (``pip install 'dataproduct-mcp[sentry]'``). Errors logged at ERROR (e.g. the traceback of an
  ``internal`` tool error, with its trace id) become Sentry events; no request bodies or PII are sent.
- OpenTelemetry: the MCP SDK already wraps every request in a span through the global tracer
  provider (a no-op without an SDK). With ``DPMCP_OTEL_ENDPOINT`` set and the ``otel`` extra
  installed, spans are exported over OTLP/HTTP to that endpoint.
"""

from __future__ import annotations

from dataproduct_mcp import __version__
from dataproduct_mcp.config import ConfigError, Settings
from dataproduct_mcp.logs import get_logger

__all__ = ["init_observability"]

log = get_logger(__name__)


def init_observability(settings: Settings) -> None:
    """Initialise what the settings ask for; a missing optional package is a :class:`ConfigError`."""
    problems: list[str] = []
    if settings.sentry_dsn:
        try:
            import sentry_sdk
        except ImportError:
            problems.append(
                "DPMCP_SENTRY_DSN is set but sentry-sdk is not installed: pip install 'dataproduct-mcp[sentry]'"
            )
        else:
            sentry_sdk.init(
                dsn=settings.sentry_dsn,
                release=f"dataproduct-mcp@{__version__}",
                send_default_pii=False,
                traces_sample_rate=0.0,
            )
            log.info("Sentry error reporting is on")
    if settings.otel_endpoint:
        try:
            from opentelemetry import trace
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            problems.append(
                "DPMCP_OTEL_ENDPOINT is set but the OpenTelemetry SDK is not installed: "
                "pip install 'dataproduct-mcp[otel]'"
            )
        else:
            provider = TracerProvider(resource=Resource.create({"service.name": "dataproduct-mcp"}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint)))
            trace.set_tracer_provider(provider)
            log.info("OpenTelemetry spans are exported to %s", settings.otel_endpoint)
    if problems:
        raise ConfigError(problems)
