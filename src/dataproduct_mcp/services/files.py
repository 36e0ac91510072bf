"""Path policy: file tools read only what lies inside the allowed roots.

A local path is resolved (``~`` expanded, ``file://`` URIs accepted, relative paths taken from the
first allowed root, symlinks and ``..`` resolved by ``realpath``) and must then lie inside one of
the resolved roots; an ``s3://`` URI is normalised (:mod:`dataproduct_mcp.sources.uri`: bucket
case, percent-escapes, ``..``) and must lie at or below one of the allowed URI prefixes of
``DPMCP_ALLOWED_ROOTS``. Otherwise ``path-not-allowed`` — decided before anything is read or
fetched. Only after that does existence matter (``file-not-found``), so the answer never reveals
what exists outside the roots.

:meth:`PathPolicy.identify` is the single-local-file case (what the cache keys on);
:meth:`PathPolicy.listing` resolves any source — a file, directory, glob, object, prefix or Delta
table — into a :class:`~dataproduct_mcp.sources.Listing` (blocking: run it in a thread).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dataproduct_mcp.errors import FileNotFound, PathNotAllowed
from dataproduct_mcp.sources.listing import NotADeltaTable, list_source
from dataproduct_mcp.sources.storage import S3Config, Storage
from dataproduct_mcp.sources.uri import SourceSpec, UriPrefix, is_uri, parse_source

if TYPE_CHECKING:
    from dataproduct_mcp.config import Settings
    from dataproduct_mcp.readers.source import SourceInfo
    from dataproduct_mcp.sources.listing import Listing

__all__ = ["FileIdentity", "PathPolicy", "storage_from"]

MAX_PATH_CHARS = 4096


@dataclass(frozen=True)
class FileIdentity:
    """What the cache keys on: the real path and the file's size and modification time."""

    real_path: Path
    size: int
    mtime_ns: int


def storage_from(settings: Settings) -> Storage:
    """The object-storage client settings (``DPMCP_S3_*``)."""
    secret = settings.s3_secret_access_key
    token = settings.s3_session_token
    config = S3Config(
        endpoint_url=settings.s3_endpoint_url.rstrip("/") if settings.s3_endpoint_url else None,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
        session_token=token.get_secret_value() if token is not None else None,
        anonymous=settings.s3_anonymous,
        connect_timeout_s=settings.s3_connect_timeout_seconds,
        request_timeout_s=settings.s3_request_timeout_seconds,
        max_attempts=settings.s3_max_attempts,
        force_virtual_addressing=settings.s3_force_virtual_addressing,
    )
    return Storage(config, block_bytes=settings.s3_read_block_bytes)


class PathPolicy:
    def __init__(
        self,
        roots: list[Path],
        *,
        prefixes: Sequence[str] = (),
        storage: Storage | None = None,
        max_files: int = 100_000,
    ) -> None:
        self.roots = [Path(os.path.realpath(r)) for r in roots]
        self.prefixes = [UriPrefix.parse(p) for p in prefixes]
        self.storage = storage or Storage()
        self.max_files = max_files

    def _outside(self) -> PathNotAllowed:
        allowed = [str(r) for r in self.roots] + [str(p) for p in self.prefixes]
        return PathNotAllowed(
            "the path is outside the allowed roots",
            path=None,
            suggestion=f"Use a file inside one of: {', '.join(allowed)} (DPMCP_ALLOWED_ROOTS).",
        )

    def _check_local(self, real: Path) -> Path:
        for root in self.roots:
            if real == root or real.is_relative_to(root):
                return real
        raise self._outside()

    def check(self, raw: str, *, versions: bool = True) -> SourceSpec:
        """Parse ``raw`` and refuse it unless its base lies inside an allowed root or prefix
        (nothing is read). A local base is returned resolved through symlinks."""
        if not self.roots and not is_uri(raw.strip()) and not os.path.isabs(os.path.expanduser(raw.strip())):
            raise self._outside()
        spec = parse_source(raw, str(self.roots[0]) if self.roots else os.sep, versions=versions)
        if spec.storage == "s3":
            if not any(p.covers(spec) for p in self.prefixes):
                raise self._outside()
            return spec
        if spec.pattern is not None and os.path.lexists(spec.uri):  # a name with [ ] * ? in it, not a glob
            spec = SourceSpec(spec.raw, "local", path=spec.uri, version=spec.version)
        real = self._check_local(Path(os.path.realpath(spec.path)))
        return SourceSpec(spec.raw, "local", path=str(real), pattern=spec.pattern, version=spec.version)

    def resolve(self, raw: str) -> Path:
        """The real path of a local ``raw`` inside an allowed root (it may not exist); a source
        that is not one local path (a URI, a glob) is refused here: use :meth:`listing`."""
        if len(raw) > MAX_PATH_CHARS:
            raise PathNotAllowed("the path is empty or longer than 4096 characters", path=None)
        spec = self.check(raw, versions=False)
        if spec.storage != "local":
            raise PathNotAllowed("expected a local file path, not a URI", path=None)
        if spec.pattern is not None:  # taken literally here: the real path of the name as written
            return self._check_local(Path(os.path.realpath(spec.uri)))
        return Path(spec.path)

    def identify(self, raw: str) -> FileIdentity:
        """Resolve and stat: the file must be an existing regular file inside the roots."""
        real = self.resolve(raw)
        try:
            st = real.stat()
        except FileNotFoundError as exc:
            raise FileNotFound(f"no such file: {raw}", path=raw) from exc
        except OSError as exc:
            raise FileNotFound(f"cannot read {raw}: {exc.strerror}", path=raw) from exc
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFound(
                f"not a regular file: {raw}", path=raw, suggestion="Name a regular file, not a directory or device."
            )
        if not os.access(real, os.R_OK):
            raise FileNotFound(f"file is not readable: {raw}", path=raw)
        return FileIdentity(real, st.st_size, st.st_mtime_ns)

    def is_local_file(self, raw: str) -> bool:
        """True when ``raw`` is one existing local regular file inside the roots (the classic case)."""
        try:
            spec = self.check(raw, versions=False)
        except PathNotAllowed:
            return False
        return spec.storage == "local" and spec.pattern is None and os.path.isfile(spec.path)

    def state(self, raw: str) -> tuple[int, int]:
        """``(size, mtime_ns)`` of a product file: a local file's own, or a source's total bytes and
        its newest file's mtime (what re-validation compares; blocking)."""
        if self.is_local_file(raw):
            ident = self.identify(raw)
            return ident.size, ident.mtime_ns
        listing = self.listing(raw)
        return listing.total_bytes, listing.latest_mtime_ns

    def open_source(
        self, raw: str, declared: str | None, columns: list[str] | None, encoding: str = "utf-8"
    ) -> SourceInfo:
        """Any source a caller names — one local file, or a directory, glob, ``s3://`` object or
        prefix, Hive partitions, a Delta table — checked by this policy, then opened by the batch
        readers (:mod:`dataproduct_mcp.readers`; blocking, imports pyarrow on first use)."""
        from dataproduct_mcp.readers.dataset import inspect_listing
        from dataproduct_mcp.readers.source import inspect_source

        if self.is_local_file(raw):
            return inspect_source(self.identify(raw).real_path, declared, columns, encoding)
        return inspect_listing(self.listing(raw, format=declared), self.storage, declared, columns, encoding)

    def listing(self, raw: str, *, format: str | None = None) -> Listing:
        """Resolve any source into its listing (blocking: it lists directories or object storage)."""
        from dataproduct_mcp.validators.registry import validators

        formats = {ext: v.name for v in validators() for ext in v.extensions}

        def check_file(path: Path) -> None:
            self._check_local(path)

        spec = self.check(raw)
        kwargs = {"check": check_file, "max_files": self.max_files, "explicit_format": format}
        try:
            return list_source(spec, self.storage, formats, **kwargs)  # type: ignore[arg-type]
        except NotADeltaTable:  # the @v<N> suffix is part of the name after all
            return list_source(self.check(raw, versions=False), self.storage, formats, **kwargs)  # type: ignore[arg-type]
