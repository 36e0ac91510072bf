"""dataproduct-mcp: an MCP tool server that manages data products.

Register, validate, describe (Dublin Core) and publish (ORD) data products through MCP tools.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
