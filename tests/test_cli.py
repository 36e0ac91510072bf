"""The command line: --version, check, and configuration errors (exit 2, one line per problem)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dataproduct_mcp import __version__

EXE = str(Path(sys.executable).with_name("dataproduct-mcp"))


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_")}
    base.update({"DPMCP_DATA_DIR": str(tmp_path / "data")}, **env)
    return subprocess.run([EXE, *args], env=base, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    out = run(["--version"], tmp_path)
    assert out.returncode == 0
    assert out.stdout.strip() == f"dataproduct-mcp {__version__}"


def test_check_passes_on_a_fresh_data_dir(tmp_path: Path) -> None:
    out = run(["check"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert [line.split()[1] for line in out.stdout.splitlines()] == ["config:", "data-dir:", "database:"]


def test_check_fails_when_the_data_dir_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = run(["check"], tmp_path, DPMCP_DATA_DIR=str(blocker / "sub"))
    assert out.returncode == 1
    assert "FAIL data-dir" in out.stdout


def test_invalid_settings_exit_2_with_one_line_per_problem(tmp_path: Path) -> None:
    out = run(
        ["serve"],
        tmp_path,
        DPMCP_HTTP_PORT="70000",
        DPMCP_LOG_FORMAT="xml",
        DPMCP_ORD_NAMESPACE="Not Valid",
        DPMCP_CACHE_MAX_BYTES="-1",
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 4
    for name in ("DPMCP_HTTP_PORT", "DPMCP_LOG_FORMAT", "DPMCP_ORD_NAMESPACE", "DPMCP_CACHE_MAX_BYTES"):
        assert sum(name in line for line in lines) == 1
    assert "Traceback" not in out.stderr
    assert out.stdout == ""


def test_an_allowed_root_that_does_not_exist_is_a_configuration_error(tmp_path: Path) -> None:
    out = run(["check"], tmp_path, DPMCP_ALLOWED_ROOTS=str(tmp_path / "missing"))
    assert out.returncode == 2
    assert "DPMCP_ALLOWED_ROOTS" in out.stderr or "configuration" in out.stderr


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    assert run([], tmp_path).returncode == 2
    assert run(["frobnicate"], tmp_path).returncode == 2


def test_json_logs_are_one_json_object_per_line_on_stderr(tmp_path: Path) -> None:
    import json

    out = run(["check"], tmp_path, DPMCP_LOG_FORMAT="json")
    assert out.returncode == 0
    records = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert records and all({"ts", "level", "msg", "trace_id"} <= set(r) for r in records)


def test_validate_exits_0_for_valid_1_for_invalid_2_for_usage(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("a,b\n1,2\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2,3\n")
    assert run(["validate", str(good)], tmp_path).returncode == 0
    out = run(["validate", str(good), str(bad)], tmp_path)
    assert out.returncode == 1
    assert "extra-cell" in out.stdout
    assert run(["validate", "--max-errors", "0", str(good)], tmp_path).returncode == 2
    assert run(["validate", "--format", "docx", str(good)], tmp_path).returncode == 2
    assert run(["validate"], tmp_path).returncode == 2


def test_validate_json_prints_one_report_per_file(tmp_path: Path) -> None:
    import json

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2,3\n")
    out = run(["validate", "--json", str(bad), str(tmp_path / "missing.csv")], tmp_path)
    assert out.returncode == 1
    reports = json.loads(out.stdout)
    assert [r.get("valid") for r in reports] == [False, None]
    assert [(e["code"], e["row"], e["line"]) for e in reports[0]["errors"]] == [("extra-cell", 1, 2)]
    assert reports[1]["error"]["code"] == "file-not-found"


def test_sentry_and_otel_are_off_by_default_and_a_missing_package_is_a_clear_error(tmp_path: Path) -> None:
    import importlib.util

    assert run(["check"], tmp_path).returncode == 0  # neither configured: nothing to initialise
    if importlib.util.find_spec("sentry_sdk") is None:  # the dev install does not include the extra
        out = run(["serve"], tmp_path, DPMCP_SENTRY_DSN="https://key@sentry.invalid/1")
        assert out.returncode == 2
        assert "dataproduct-mcp[sentry]" in out.stderr
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        out = run(["serve"], tmp_path, DPMCP_OTEL_ENDPOINT="http://127.0.0.1:4318/v1/traces")
        assert out.returncode == 2
        assert "dataproduct-mcp[otel]" in out.stderr


def test_validate_max_errors_has_the_same_bound_as_the_tools(tmp_path: Path) -> None:
    from dataproduct_mcp.cli import main
    from dataproduct_mcp.domain.limits import MAX_ERRORS_LIMIT

    data = tmp_path / "a.csv"
    data.write_text("a\n1\n")
    assert main(["validate", "--json", "--max-errors", str(MAX_ERRORS_LIMIT + 1), str(data)]) == 2
    assert main(["validate", "--json", "--max-errors", str(MAX_ERRORS_LIMIT), str(data)]) == 0


def test_serve_over_stdio_exits_1_when_its_http_side_cannot_bind(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        out = run(["serve"], tmp_path, DPMCP_HTTP_HOST="127.0.0.1", DPMCP_HTTP_PORT=port)
    assert out.returncode == 1
    assert "start-up check failed: http:" in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout == ""
