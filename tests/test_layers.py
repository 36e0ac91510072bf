"""Imports point inward: server → services → persistence/validators/metadata/ord → domain, never back."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "dataproduct_mcp"

# layer -> layers it must not import
FORBIDDEN = {
    "domain": {
        "server",
        "services",
        "persistence",
        "validators",
        "metadata",
        "ord",
        "contracts",
        "app",
        "cli",
        "sources",
        "readers",
    },
    "persistence": {"server", "services", "app", "cli", "validators", "metadata", "ord", "sources"},
    "validators": {"server", "services", "persistence", "app", "cli", "metadata", "ord"},
    "metadata": {"server", "services", "persistence", "app", "cli", "validators"},
    "ord": {"server", "services", "persistence", "app", "cli", "validators"},
    "contracts": {"server", "services", "persistence", "app", "cli", "validators", "metadata", "ord"},
    "services": {"server", "cli"},
    # batch readers of any source: a library layer beside validators
    "readers": {"server", "services", "persistence", "app", "cli", "metadata", "ord", "contracts", "config"},
    # where data lives: only domain and errors (validators and services use it)
    "sources": {
        "server",
        "services",
        "persistence",
        "app",
        "cli",
        "validators",
        "metadata",
        "ord",
        "contracts",
        "config",
    },
}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dataproduct_mcp."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dataproduct_mcp."):
                    out.add(alias.name.split(".")[1])
    return out


def test_no_layer_imports_an_outer_layer() -> None:
    violations = []
    for layer, forbidden in FORBIDDEN.items():
        for path in (PKG / layer).rglob("*.py"):
            bad = _imports(path) & forbidden
            if bad:
                violations.append(f"{path.relative_to(PKG)} imports {sorted(bad)}")
    assert not violations, violations
    assert len(list((PKG / "domain").glob("*.py"))) >= 3  # the check really looked at files
    assert len(list((PKG / "sources").glob("*.py"))) >= 5


def test_the_sources_layer_imports_only_domain_and_errors() -> None:
    allowed = {"domain", "errors", "sources"}
    found = {p.name: _imports(p) - allowed for p in (PKG / "sources").rglob("*.py")}
    assert not {name: bad for name, bad in found.items() if bad}
