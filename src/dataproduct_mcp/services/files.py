"""Path policy: file tools read only regular files inside the allowed roots.

A path is resolved (``~`` expanded, ``file://`` URIs accepted, relative paths taken from the
first allowed root, symlinks and ``..`` resolved by ``realpath``) and must then lie inside one
of the resolved roots; otherwise ``path-not-allowed``. Only after that does existence matter
(``file-not-found``), so the answer never reveals what exists outside the roots.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from dataproduct_mcp.errors import FileNotFound, PathNotAllowed

__all__ = ["FileIdentity", "PathPolicy"]

MAX_PATH_CHARS = 4096


@dataclass(frozen=True)
class FileIdentity:
    """What the cache keys on: the real path and the file's size and modification time."""

    real_path: Path
    size: int
    mtime_ns: int


class PathPolicy:
    def __init__(self, roots: list[Path]) -> None:
        self.roots = [Path(os.path.realpath(r)) for r in roots]

    def resolve(self, raw: str) -> Path:
        """The real path of ``raw`` if it lies inside an allowed root (it may not exist)."""
        if not raw or len(raw) > MAX_PATH_CHARS:
            raise PathNotAllowed("the path is empty or longer than 4096 characters", path=None)
        if "\x00" in raw:
            raise PathNotAllowed("the path contains a NUL byte", path=None)
        text = raw
        if text.startswith("file:"):
            parsed = urlparse(text)
            if parsed.netloc not in ("", "localhost"):
                raise PathNotAllowed("only local file:// URIs are accepted", path=None)
            text = unquote(parsed.path)
            if "\x00" in text:
                raise PathNotAllowed("the path contains a NUL byte", path=None)
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = self.roots[0] / candidate
        real = Path(os.path.realpath(candidate))
        for root in self.roots:
            if real == root or real.is_relative_to(root):
                return real
        raise PathNotAllowed(
            "the path is outside the allowed roots",
            path=None,
            suggestion=f"Use a file inside one of: {', '.join(str(r) for r in self.roots)} (DPMCP_ALLOWED_ROOTS).",
        )

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
