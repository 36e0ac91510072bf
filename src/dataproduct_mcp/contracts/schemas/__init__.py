"""The official Bitol ODPS v1.0.0 JSON Schema (Apache-2.0, see LICENSE and NOTICE here), as package data."""
