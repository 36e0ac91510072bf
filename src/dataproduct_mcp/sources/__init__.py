"""Where data lives: local files, directories, globs, ``s3://`` objects and prefixes, Hive-style
partitions and Delta Lake tables, resolved into immutable listings (:mod:`.listing`) and read in
bounded memory (:mod:`.remote`). This layer imports only ``domain`` and ``errors``; validators and
services use it. pyarrow.fs and deltalake are imported on first use, never at import.
"""

from __future__ import annotations

from dataproduct_mcp.sources.listing import DeltaInfo, ListedFile, Listing, NotADeltaTable, list_source
from dataproduct_mcp.sources.partitions import PartitionColumn
from dataproduct_mcp.sources.storage import S3Config, Storage, storage_error
from dataproduct_mcp.sources.uri import SourceSpec, UriPrefix, is_uri, parse_source, split_roots

__all__ = [
    "DeltaInfo",
    "ListedFile",
    "Listing",
    "NotADeltaTable",
    "PartitionColumn",
    "S3Config",
    "SourceSpec",
    "Storage",
    "UriPrefix",
    "is_uri",
    "list_source",
    "parse_source",
    "split_roots",
    "storage_error",
]
