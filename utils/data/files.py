"""Where the shipped dataset lives and how it is recorded: paths, ``data/versions.json``, checksums.

``data/versions.json`` maps each packed version ('v0', 'v1', …) to the sha256 of its files (``phonon_dos_<v>.npz``,
``alloys_<v>.npz``), counts and the packing time; the reader refuses a file whose sha256 differs, the packer
(``utils.datagen.pack``) adds entries.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .errors import DataError

__all__ = ["DATA_DIR", "LABELS_DIR", "CACHE_DIR", "VERSIONS_FILE", "MAIN_PREFIX", "ALLOYS_PREFIX", "FORMAT_VERSION",
           "sha256_bytes", "sha256_file", "npz_bytes", "now_iso", "version_key", "read_versions", "available_versions",
           "latest_version"]

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
LABELS_DIR = DATA_DIR / "labels"
CACHE_DIR = DATA_DIR / "cache"
VERSIONS_FILE = "versions.json"
MAIN_PREFIX, ALLOYS_PREFIX = "phonon_dos", "alloys"
FORMAT_VERSION = 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def npz_bytes(arrays: dict) -> bytes:
    """``np.savez_compressed`` of ``arrays`` into bytes (no pickles), for an atomic write."""
    import io

    import numpy as np
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def now_iso() -> str:
    """The current UTC time to the second, ISO 8601 (the 'created' fields)."""
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def version_key(version: str) -> tuple:
    """Sort key of a dataset version: 'v2' < 'v10', 'v1' < 'v1.1'; DataError for anything else.

    >>> sorted(["v10", "v2", "v1.1"], key=version_key)
    ['v1.1', 'v2', 'v10']
    """
    m = re.fullmatch(r"v(\d+(?:\.\d+)*)", version)
    if not m:
        raise DataError(f"bad dataset version {version!r}: use 'v' and a number, e.g. 'v0', 'v1', 'v1.1'")
    return tuple(int(p) for p in m.group(1).split("."))


def read_versions(data_dir: Path) -> dict:
    """The contents of ``<data_dir>/versions.json`` ({} if absent)."""
    path = Path(data_dir) / VERSIONS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc}): re-checkout it (git checkout -- {path.name})") from None


def available_versions(data_dir: Path | str = DATA_DIR) -> list[str]:
    """Packed versions recorded in data/versions.json, oldest first."""
    return sorted(read_versions(Path(data_dir)), key=version_key)


def latest_version(data_dir: Path | str = DATA_DIR) -> str:
    """The highest recorded version ('v-latest')."""
    vs = available_versions(data_dir)
    if not vs:
        raise DataError(f"no packed dataset recorded in {Path(data_dir) / VERSIONS_FILE}: re-checkout data/ "
                        "or pack one with `python -m utils.data pack --version v0`")
    return vs[-1]
