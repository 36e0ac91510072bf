"""One module per file format (and the helpers only that format uses).

Each format module exposes ``VALIDATOR``, a :class:`~dataproduct_mcp.validators.base.FormatValidator`;
:mod:`dataproduct_mcp.validators.registry` imports them by name, on first use.
"""
