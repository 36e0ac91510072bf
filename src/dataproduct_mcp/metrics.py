"""Prometheus metrics (``/metrics`` on the HTTP side), one registry per Application.

Counters and histograms are updated where things happen (tool calls at the MCP boundary,
validations in the validation service); gauges for state held elsewhere (cache, streams,
breaker, tasks, products) are read at scrape time by :class:`StateCollector`, so there is a
single source of truth for each figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["METRIC_NAMES", "Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# Every metric family this server exposes (deployment files and dashboards are checked against it).
METRIC_NAMES = (
    "dpmcp_tool_calls_total",
    "dpmcp_tool_call_duration_seconds",
    "dpmcp_errors_total",
    "dpmcp_validations_total",
    "dpmcp_validated_bytes_total",
    "dpmcp_validation_duration_seconds",
    "dpmcp_cache_hits_total",
    "dpmcp_cache_misses_total",
    "dpmcp_cache_evictions_total",
    "dpmcp_cache_bytes",
    "dpmcp_cache_entries",
    "dpmcp_breaker_state",
    "dpmcp_breaker_transitions_total",
    "dpmcp_tasks",
    "dpmcp_task_duration_seconds",
    "dpmcp_stream_sessions_active",
    "dpmcp_stream_sessions_total",
    "dpmcp_stream_bytes_sent_total",
    "dpmcp_stream_rows_sent_total",
    "dpmcp_stream_session_duration_seconds",
    "dpmcp_products",
    "dpmcp_maintenance_runs_total",
    "dpmcp_maintenance_failures_total",
    "process_resident_memory_bytes",
)

BREAKER_STATES = {"closed": 0, "half-open": 1, "half_open": 1, "open": 2}


class StateCollector(Collector):
    """Reads component state at scrape time through ``snapshot()`` (a dict of plain figures)."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        s = self._snapshot()
        cache = s.get("cache") or {}
        yield CounterMetricFamily("dpmcp_cache_hits", "Validation cache hits", value=cache.get("hits", 0))
        yield CounterMetricFamily("dpmcp_cache_misses", "Validation cache misses", value=cache.get("misses", 0))
        yield CounterMetricFamily(
            "dpmcp_cache_evictions", "Validation cache evictions", value=cache.get("evictions", 0)
        )
        yield GaugeMetricFamily("dpmcp_cache_bytes", "Bytes held by the validation cache", value=cache.get("bytes", 0))
        yield GaugeMetricFamily(
            "dpmcp_cache_entries", "Reports held by the validation cache", value=cache.get("entries", 0)
        )

        breaker = s.get("breaker") or {}
        state = GaugeMetricFamily("dpmcp_breaker_state", "Registry circuit breaker: 0 closed, 1 half-open, 2 open")
        state.add_metric([], BREAKER_STATES.get(str(breaker.get("state", "closed")), 0))
        yield state
        transitions = CounterMetricFamily(
            "dpmcp_breaker_transitions", "Breaker transitions by target state", labels=["to"]
        )
        by_target: dict[str, float] = {}
        for key, n in (breaker.get("transitions") or {}).items():  # "closed->open": n
            to = str(key).rsplit("->", 1)[-1]
            by_target[to] = by_target.get(to, 0) + n
        for to, n in by_target.items():
            transitions.add_metric([to], n)
        yield transitions

        tasks = GaugeMetricFamily("dpmcp_tasks", "Durable tasks by kind and status", labels=["kind", "status"])
        for kind, by_status in (s.get("tasks") or {}).items():
            for status, n in by_status.items():
                tasks.add_metric([kind, status], n)
        yield tasks

        streams = s.get("streams") or {}
        yield GaugeMetricFamily(
            "dpmcp_stream_sessions_active", "Open WebSocket stream sessions", value=streams.get("active_sessions", 0)
        )
        yield CounterMetricFamily(
            "dpmcp_stream_sessions", "Stream sessions opened", value=streams.get("sessions_opened_total", 0)
        )
        yield CounterMetricFamily(
            "dpmcp_stream_bytes_sent", "Bytes sent on stream sessions", value=streams.get("bytes_sent_total", 0)
        )
        yield CounterMetricFamily(
            "dpmcp_stream_rows_sent", "Rows sent on stream sessions", value=streams.get("rows_sent_total", 0)
        )
        durations = streams.get("session_duration_seconds")
        if durations:
            yield _histogram("dpmcp_stream_session_duration_seconds", "Stream session lifetime, open to end", durations)
        products = GaugeMetricFamily("dpmcp_products", "Data products by status (all tenants)", labels=["status"])
        for status, n in (s.get("products") or {}).items():
            products.add_metric([status], n)
        yield products

        # Scheduled maintenance, deployment-wide (the job_leases rows as of this process's last tick).
        runs = CounterMetricFamily("dpmcp_maintenance_runs", "Maintenance job runs submitted", labels=["job"])
        failures = CounterMetricFamily("dpmcp_maintenance_failures", "Maintenance job runs failed", labels=["job"])
        for job, figures in (s.get("scheduler") or {}).items():
            runs.add_metric([job], figures.get("runs", 0))
            failures.add_metric([job], figures.get("failures", 0))
        yield runs
        yield failures


def _histogram(name: str, documentation: str, figures: dict[str, Any]) -> HistogramMetricFamily:
    """A histogram kept elsewhere as per-bucket counts ``{"buckets": {"1.0": n, ..., "+Inf": n},
    "sum": s}`` (not cumulative), exposed in Prometheus' cumulative form."""
    buckets, running = [], 0.0
    for bound, n in figures.get("buckets", {}).items():
        running += n
        buckets.append((bound, running))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=figures.get("sum", 0.0))


class Metrics:
    """The registry and its instruments. :meth:`watch` adds the state read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tool_calls = Counter(
            "dpmcp_tool_calls", "MCP tool calls by tool and outcome", ["tool", "outcome"], registry=r
        )
        self.tool_latency = Histogram(
            "dpmcp_tool_call_duration_seconds", "MCP tool call latency", ["tool"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.errors = Counter("dpmcp_errors", "Tool errors by code", ["code"], registry=r)
        self.validations = Counter(
            "dpmcp_validations", "File validations by format and result", ["format", "valid"], registry=r
        )
        self.validated_bytes = Counter("dpmcp_validated_bytes", "Bytes of files validated (not cached)", registry=r)
        self.validation_latency = Histogram(
            "dpmcp_validation_duration_seconds", "Validation time of one file", buckets=LATENCY_BUCKETS, registry=r
        )
        self.task_latency = Histogram(
            "dpmcp_task_duration_seconds",
            "Durable task run time by kind",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        ProcessCollector(registry=r)

    def watch(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Expose the components' state (cache, breaker, streams, tasks, ...) read at scrape time."""
        self.registry.register(StateCollector(snapshot))

    def observe_tool(self, tool: str, outcome: str, seconds: float, code: str | None = None) -> None:
        self.tool_calls.labels(tool=tool, outcome=outcome).inc()
        self.tool_latency.labels(tool=tool).observe(seconds)
        if code is not None:
            self.errors.labels(code=code).inc()

    def observe_report(self, report: Any, seconds: float) -> None:
        """A validation that really ran (not a cache hit)."""
        self.validations.labels(format=report.format, valid=str(report.valid).lower()).inc()
        self.validated_bytes.inc(report.bytes)
        self.validation_latency.observe(seconds)

    def observe_task(self, kind: str, seconds: float) -> None:
        """A durable task run that ended (succeeded, failed, cancelled or retried)."""
        self.task_latency.labels(kind=kind).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
