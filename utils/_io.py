"""Atomic file writes shared by every module that stores results (a leaf: standard library only).

A crash or a full disk leaves either the old file or the new one at the final path, never half of one:
the bytes go to a temporary file in the same folder, are flushed to disk, then ``os.replace``d into place.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)          # mkstemp makes 0600; these are repository/cache files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a ``str`` to ``path`` atomically (UTF-8)."""
    if not isinstance(text, str):
        raise TypeError(f"atomic_write_text needs a str, got {type(text).__name__}")
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(obj, path: str | Path, **dumps_kwargs) -> None:
    """``json.dumps(obj, indent=1, **dumps_kwargs)`` plus a final newline, written atomically."""
    atomic_write_text(path, json.dumps(obj, **{"indent": 1, **dumps_kwargs}) + "\n")
