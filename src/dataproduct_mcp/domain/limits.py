"""Limits shared by every entry point (tools, tasks, CLI). Standard library only: the CLI's
argument parser reads them before anything heavy is imported."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_ERRORS", "MAX_ERRORS_LIMIT"]

DEFAULT_MAX_ERRORS = 100
MAX_ERRORS_LIMIT = 1000  # the one bound on listed errors (tools, tasks, CLI); error_count stays the true total
