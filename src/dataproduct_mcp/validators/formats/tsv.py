"""TSV (tab-separated values): the CSV validator with a tab delimiter."""

from __future__ import annotations

from dataproduct_mcp.validators.formats.csv import CsvValidator

__all__ = ["VALIDATOR"]

VALIDATOR = CsvValidator(
    name="tsv",
    title="Tab-separated values",
    delimiter="\t",
    extensions=("tsv", "tab"),
    media_type="text/tab-separated-values",
)
