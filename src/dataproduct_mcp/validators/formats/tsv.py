"""TSV (tab-separated values): the CSV validator with a tab delimiter."""

from __future__ import annotations

from dataproduct_mcp.validators.formats import SPECS
from dataproduct_mcp.validators.formats.csv import CsvValidator

__all__ = ["VALIDATOR"]

VALIDATOR = CsvValidator(SPECS["tsv"], "\t")
