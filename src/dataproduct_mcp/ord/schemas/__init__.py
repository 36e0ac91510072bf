"""Official ORD JSON Schemas (Apache-2.0, see LICENSE and NOTICE here), loaded as package data."""
