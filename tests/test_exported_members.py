"""The public surface is deliberate (httpx's test_exported_members pattern)."""

import dataproduct_mcp


def test_the_package_exports_only_its_version() -> None:
    assert dataproduct_mcp.__all__ == ["__version__"]
    assert isinstance(dataproduct_mcp.__version__, str)
