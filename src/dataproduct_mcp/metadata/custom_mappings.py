"""Custom mappings: product label key -> DCMI term, read from a JSON file named by a setting.

File format (either form)::

    {"mappings": {"region": "dcterms:spatial", "domain": "dcterms:subject"}}
    {"region": "dcterms:spatial", "domain": "subject"}

Terms may be written ``dcterms:x``, ``dc:x``, ``x`` or as the full DCMI IRI; they are returned as
``dcterms:<localName>``.  Any problem raises one ``ValueError`` that lists every problem found, so a
bad file is a clear start-up error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from dataproduct_mcp.domain.products import LABEL_KEY_PATTERN
from dataproduct_mcp.metadata.terms import normalize_term

__all__ = ["MAX_MAPPINGS", "load_custom_mappings", "parse_custom_mappings"]

MAX_MAPPINGS = 1000
MAX_FILE_BYTES = 1_000_000
_KEY_RE = re.compile(LABEL_KEY_PATTERN)


def parse_custom_mappings(data: object, *, source: str = "custom mappings") -> dict[str, str]:
    """Validate an already-decoded mapping object; returns ``{label_key: "dcterms:<term>"}``."""
    if isinstance(data, Mapping) and set(data) == {"mappings"}:
        data = data["mappings"]
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a JSON object of label key -> DCMI term, got {type(data).__name__}")
    problems: list[str] = []
    result: dict[str, str] = {}
    if len(data) > MAX_MAPPINGS:
        problems.append(f"too many mappings ({len(data)}; at most {MAX_MAPPINGS})")
    for key, term in data.items():
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key) or len(key) > 100:
            problems.append(f"label key {key!r} must match {LABEL_KEY_PATTERN} (max 100 chars)")
            continue
        if not isinstance(term, str):
            problems.append(f"label key {key!r}: term must be a string, got {type(term).__name__}")
            continue
        try:
            result[key] = f"dcterms:{normalize_term(term)}"
        except ValueError as exc:
            problems.append(f"label key {key!r}: {exc}")
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems))
    return result


def load_custom_mappings(path: str | Path) -> dict[str, str]:
    """Read and validate a custom mapping file (see module docstring)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"custom mappings file {str(file)!r} cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"custom mappings file {str(file)!r} is larger than {MAX_FILE_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"custom mappings file {str(file)!r} is not valid UTF-8 JSON: {exc}") from exc
    return parse_custom_mappings(data, source=f"custom mappings file {str(file)!r}")
