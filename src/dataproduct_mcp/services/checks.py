"""Start-up checks in dependency order: configuration → data dir writable → database and migrations."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import anyio

from dataproduct_mcp.config import Settings
from dataproduct_mcp.persistence import open_store

__all__ = ["CheckResult", "StartupFailed", "data_dir_check", "run_startup_checks"]

CHECK_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


class StartupFailed(Exception):
    """A required start-up check failed; ``results`` says which (the CLI prints them and exits 1)."""

    def __init__(self, results: list[CheckResult]) -> None:
        super().__init__("; ".join(f"{r.name}: {r.detail}" for r in results if not r.ok))
        self.results = results


def data_dir_check(settings: Settings) -> CheckResult:
    return _data_dir_writable(settings)


def _data_dir_writable(settings: Settings) -> CheckResult:
    target = settings.sqlite_path.parent if settings.backend == "sqlite" else settings.data_dir.expanduser()
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target, prefix=".dpmcp-check-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return CheckResult("data-dir", False, f"{target} is not writable: {exc.strerror or exc}")
    return CheckResult("data-dir", True, f"{target} is writable")


async def run_startup_checks(settings: Settings) -> list[CheckResult]:
    """Each check runs only if the ones it depends on passed."""
    results = [CheckResult("config", True, f"valid (backend={settings.backend}, namespace={settings.ord_namespace})")]
    results.append(_data_dir_writable(settings))
    if not results[-1].ok:
        results.append(CheckResult("database", False, "skipped: the data dir is not writable"))
        return results
    store = open_store(settings)
    try:
        with anyio.fail_after(CHECK_TIMEOUT_S):
            await store.open()
            version = await store.schema_version()
            await store.ping()
        results.append(CheckResult("database", True, f"{store.backend} reachable, schema version {version}"))
    except Exception as exc:  # a check reports; it does not raise
        results.append(CheckResult("database", False, f"{type(exc).__name__}: {exc}"))
    finally:
        await store.close()
    return results
