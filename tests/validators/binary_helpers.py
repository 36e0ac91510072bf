"""Shared helpers of the container-format validator tests: run one validator directly on a file
(no registry) and show its errors as compact (row, line, column, code) tuples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from dataproduct_mcp.validators.base import (
    FindingCollector,
    FormatResult,
    FormatValidator,
    Source,
    ValidationContext,
    ValidationOptions,
)

__all__ = ["mutated_bytes", "run_validator", "table"]


def run_validator(
    validator: FormatValidator, path: Path, **options: Any
) -> tuple[FormatResult, ValidationContext, Source]:
    size = path.stat().st_size
    extra = {k: options.pop(k) for k in ("progress", "is_cancelled") if k in options}
    opts = ValidationOptions(**options)
    findings = FindingCollector(opts.max_errors, opts.max_warnings)
    ctx = ValidationContext(options=opts, findings=findings, total_bytes=size, **extra)
    source = Source(path, size)
    return validator.validate(source, ctx), ctx, source


def table(ctx: ValidationContext) -> list[tuple[int | None, int | None, int | None, str]]:
    return [(f.row, f.line, f.column, f.code.value) for f in ctx.findings.errors]


def mutated_bytes(samples: list[bytes]) -> st.SearchStrategy[bytes]:
    """Valid sample files with up to 8 random bytes overwritten, maybe truncated (fuzz input)."""

    @st.composite
    def strategy(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(samples)))
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
        return bytes(data)

    return strategy()
