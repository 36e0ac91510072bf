"""Transports: the MCP tool layer and the HTTP/WebSocket side. Thin: they translate into service calls."""
