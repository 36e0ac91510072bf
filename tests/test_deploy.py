"""Deployment files parse, and their probe paths and metric names exist in the server."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import yaml
from starlette.routing import Route

from dataproduct_mcp.app import Application
from dataproduct_mcp.config import Settings
from dataproduct_mcp.metrics import METRIC_NAMES
from dataproduct_mcp.server.http import http_routes

ROOT = Path(__file__).resolve().parents[1]
PROBES = {"/alive", "/ready", "/startup"}


def served_paths(settings: Settings) -> set[str]:
    app = Application.build(settings)  # routes only; nothing is started
    return {r.path for r in http_routes(app) if isinstance(r, Route)}


def test_kubernetes_probes_point_at_served_probe_paths(settings: Settings) -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text()))
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "PersistentVolumeClaim"} <= kinds
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    probes = {container[k]["httpGet"]["path"] for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == PROBES
    assert probes <= served_paths(settings)
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    for env in container["env"]:
        assert env["name"].removeprefix("DPMCP_").lower() in Settings.model_fields, env["name"]


def test_dockerfile_runs_as_non_root_with_a_healthcheck_on_a_probe(settings: Settings) -> None:
    text = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and not users[-1].startswith(("root", "0"))
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (.+)$", text, flags=re.M | re.S)
    assert healthcheck and "/ready" in healthcheck.group(1)
    assert "/ready" in served_paths(settings)
    for name in re.findall(r"(DPMCP_[A-Z_]+)=", text):
        assert name.removeprefix("DPMCP_").lower() in Settings.model_fields, name


def test_systemd_unit_parses_and_uses_real_commands() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "systemd" / "dataproduct-mcp.service")
    service = unit["Service"]
    assert "serve --transport http" in service["ExecStart"]
    assert service["ExecStartPre"].endswith("dataproduct-mcp check")
    assert service["User"] != "root"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_grafana_dashboard_uses_only_exposed_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dataproduct-mcp.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set()
    for expr in exprs:
        used |= set(re.findall(r"\b((?:dpmcp|process)_[a-z_]+)", expr))
    known = set(METRIC_NAMES)
    for name in used:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert base in known, name
    assert {"dpmcp_tool_calls_total", "dpmcp_breaker_state", "dpmcp_cache_bytes"} <= used
