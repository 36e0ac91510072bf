"""What a source string names, parsed and normalised before anything is read (standard library only).

A source is one of:

* a local path (absolute, ``~``-relative or relative to the first allowed root) or a ``file://`` URI:
  a file, a directory (every data file below it), or a glob (``*``, ``?``, ``[...]``, ``**``);
* an ``s3://bucket/key`` URI: one object, a prefix (every object below it) or a glob over keys.

Normalisation (:func:`parse_source`): the scheme and bucket are lower-cased, the key is
percent-decoded, empty and ``.`` segments are dropped and ``..`` segments resolved — one that
climbs above the bucket is ``path-not-allowed``. Allowed URI prefixes (:class:`UriPrefix`) are
normalised the same way and compared segment by segment, so ``s3://b/data`` allows
``s3://b/data/x.csv`` but not ``s3://b/database``. A Delta Lake version is selected with an
``@v<N>`` suffix (``s3://b/table@v3``); it is only taken as a version when the source is a
Delta table (:mod:`.listing` decides).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from dataproduct_mcp.errors import PathNotAllowed

__all__ = [
    "MAX_SOURCE_CHARS",
    "SourceSpec",
    "UriPrefix",
    "glob_regex",
    "has_glob",
    "is_uri",
    "parse_source",
    "split_roots",
]

MAX_SOURCE_CHARS = 4096
GLOB_CHARS = frozenset("*?[")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_VERSION = re.compile(r"@v(\d{1,12})$")
_URI_SCHEMES = ("s3",)


def is_uri(raw: str) -> bool:
    """True for ``scheme://...`` text other than ``file://`` (object storage)."""
    match = _SCHEME.match(raw.strip())
    return match is not None and match.group(1).lower() != "file"


def has_glob(text: str) -> bool:
    return any(c in GLOB_CHARS for c in text)


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source. ``storage`` is ``local`` (``path`` is an absolute local path, not yet
    resolved through symlinks) or ``s3`` (``bucket`` and ``key``). ``pattern`` is the glob part
    (relative to ``path`` / ``key``), ``version`` a requested Delta version."""

    raw: str
    storage: Literal["local", "s3"]
    path: str = ""
    bucket: str = ""
    key: str = ""
    pattern: str | None = None
    version: int | None = None

    @property
    def uri(self) -> str:
        """The canonical text: ``s3://bucket/key[/pattern]`` or the local path[/pattern]."""
        if self.storage == "s3":
            base = f"s3://{self.bucket}/{self.key}".rstrip("/") if self.key else f"s3://{self.bucket}"
        else:
            base = self.path
        return f"{base.rstrip('/')}/{self.pattern}" if self.pattern else base

    @property
    def fs_path(self) -> str:
        """The base as pyarrow.fs names it: ``bucket/key`` or the local path."""
        if self.storage == "s3":
            return f"{self.bucket}/{self.key}".rstrip("/")
        return self.path


def _refuse(message: str) -> PathNotAllowed:
    return PathNotAllowed(
        message,
        path=None,
        suggestion="Name a local path, a file:// URI or an s3://bucket/key URI inside DPMCP_ALLOWED_ROOTS.",
    )


def _segments(text: str) -> list[str]:
    """Percent-decoded key segments with ``.``, ``..`` and empty segments resolved."""
    out: list[str] = []
    for segment in unquote(text).split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not out:
                raise _refuse("the key climbs above its bucket ('..')")
            out.pop()
            continue
        out.append(segment)
    return out


def _check_text(raw: str) -> str:
    if not raw or len(raw) > MAX_SOURCE_CHARS:
        raise PathNotAllowed(f"the path is empty or longer than {MAX_SOURCE_CHARS} characters", path=None)
    if "\x00" in raw:
        raise PathNotAllowed("the path contains a NUL byte", path=None)
    return raw.strip()


def _split_glob(parts: list[str]) -> tuple[list[str], str | None]:
    for i, part in enumerate(parts):
        if has_glob(part):
            return parts[:i], "/".join(parts[i:])
    return parts, None


def _parse_s3(text: str) -> tuple[str, list[str]]:
    rest = text.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    bucket = unquote(bucket).lower()
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise _refuse(f"not a valid bucket name: {bucket[:80]!r}")
    parts = _segments(key)
    if "\x00" in "".join(parts):
        raise _refuse("the key contains a NUL byte")
    return bucket, parts


def parse_source(raw: str, base_dir: str, *, versions: bool = True) -> SourceSpec:
    """Parse ``raw`` (see the module docstring); relative local paths are taken from ``base_dir``.
    ``versions=False`` keeps an ``@v<N>`` suffix as part of the name. Nothing is read; malformed
    text is ``path-not-allowed``."""
    text = _check_text(raw)
    version = None
    if versions and (match := _VERSION.search(text)):
        version = int(match.group(1))
        text = text[: match.start()]
    scheme = _SCHEME.match(text)
    if scheme is not None and scheme.group(1).lower() in _URI_SCHEMES:
        bucket, parts = _parse_s3(text)
        base, pattern = _split_glob(parts)
        return SourceSpec(raw, "s3", bucket=bucket, key="/".join(base), pattern=pattern, version=version)
    if scheme is not None and scheme.group(1).lower() != "file":
        raise _refuse(f"unsupported URI scheme {scheme.group(1)!r}: use a local path, file:// or s3://")
    if text.startswith("file:"):
        body = text[5:]
        if body.startswith("//"):
            host, _, body = body[2:].partition("/")
            if host not in ("", "localhost"):
                raise _refuse("only local file:// URIs are accepted")
            body = "/" + body
        text = unquote(body)
        if "\x00" in text:
            raise PathNotAllowed("the path contains a NUL byte", path=None)
    path = os.path.expanduser(text)
    if not os.path.isabs(path):
        path = os.path.join(base_dir, path)
    if has_glob(path):
        parts = path.split(os.sep)
        base, pattern = _split_glob(parts)
        return SourceSpec(raw, "local", path=os.sep.join(base) or os.sep, pattern=pattern, version=version)
    return SourceSpec(raw, "local", path=path, version=version)


@dataclass(frozen=True)
class UriPrefix:
    """An allowed object-storage prefix (``s3://bucket`` or ``s3://bucket/some/prefix``)."""

    storage: Literal["s3"]
    bucket: str
    key: str

    @classmethod
    def parse(cls, raw: str) -> UriPrefix:
        text = _check_text(raw)
        scheme = _SCHEME.match(text)
        if scheme is None or scheme.group(1).lower() not in _URI_SCHEMES:
            raise _refuse(f"not an s3:// prefix: {raw[:80]!r}")
        bucket, parts = _parse_s3(text)
        if has_glob("/".join(parts)):
            raise _refuse("an allowed prefix cannot contain glob characters")
        return cls("s3", bucket, "/".join(parts))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    def covers(self, spec: SourceSpec) -> bool:
        """True if the base of ``spec`` (the part before any glob) lies at or below this prefix."""
        if spec.storage != self.storage or spec.bucket != self.bucket:
            return False
        return not self.key or spec.key == self.key or spec.key.startswith(self.key + "/")


def split_roots(value: str) -> list[str]:
    """``DPMCP_ALLOWED_ROOTS`` split on ``os.pathsep`` — where ``:`` is the separator, an
    ``s3://...`` entry is put back together (``/data:s3://bucket/prefix`` is two roots)."""
    pieces = value.split(os.pathsep)
    out: list[str] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        nxt = pieces[i + 1] if i + 1 < len(pieces) else None
        if os.pathsep == ":" and nxt is not None and nxt.startswith("//") and re.fullmatch(r"[A-Za-z][\w+.-]*", piece):
            out.append(f"{piece}:{nxt}")
            i += 2
            continue
        out.append(piece)
        i += 1
    return [p.strip() for p in out if p.strip()]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a glob over ``/``-separated relative paths: ``*`` and ``?`` stay within one
    segment, ``**`` spans any number of segments (``a/**/b`` matches ``a/b`` too), ``[...]`` is a
    character class (``[!...]`` negated)."""
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    out.append("(?:[^/]*/)*")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern.startswith(("[!", "[^"), i) else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                out.append(f"[{'^' if negate else ''}{re.escape(body).replace(chr(92) + '-', '-')}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)
