"""A file's sha256 on a thread of its own, started before the validation that reports it.

Standard library only, so a caller can start it before it imports the validators: the command line
hashes the first file while pydantic and pyarrow load, on the core that start-up leaves idle, and
hands it to :func:`~dataproduct_mcp.validators.registry.validate_path` (``sha256_ahead``), whose
validator then reads the file without hashing it again. The digest is of the file's bytes as read
by this thread, exactly as the validators' own background hash is of the bytes it reads.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

__all__ = ["FileHash"]

CHUNK = 1 << 20


class FileHash:
    """``FileHash(path)`` starts hashing at once; :meth:`result` waits for the digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done: tuple[str, int] | None = None
        self._thread = threading.Thread(target=self._run, name="dpmcp-sha256-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        hasher = hashlib.sha256()
        buffer = memoryview(bytearray(CHUNK))  # one buffer, reused
        total = 0
        try:
            with open(self.path, "rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    hasher.update(buffer[:n])
                    total += n
        except OSError:
            return  # no digest: the validation hashes (and reports) the file itself
        self._done = (hasher.hexdigest(), total)

    def result(self) -> tuple[str, int] | None:
        """``(hex digest, bytes hashed)``, or None if the file could not be read."""
        self._thread.join()
        return self._done
