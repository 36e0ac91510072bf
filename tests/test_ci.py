"""CI runs exactly README command 2, locally (.ci/run) and in the reusable GitHub workflow."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_workflow_and_ci_run_call_the_same_test_command() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.12"]
    runs = [step["run"].strip() for step in job["steps"] if "run" in step]
    assert runs == ["./scripts/test"]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "exec ./scripts/test" in ci_lines
    assert "./scripts/test" in (ROOT / "README.md").read_text()


def test_the_test_script_installs_everything_it_needs_from_the_project_files() -> None:
    script = (ROOT / "scripts" / "test").read_text()
    assert "pip install --quiet -e '.[dev]'" in script
    assert "pytest" in script
