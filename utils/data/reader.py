"""Read the shipped dataset: ``load_dataset()`` (the packed set, or the original tutorial's data with
``source='original'``) and ``load_alloys()``, each file checked against the sha256 in ``data/versions.json``."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .dataset import PhononDataset
from .errors import ChecksumError, DataError
from .files import (ALLOYS_PREFIX, DATA_DIR, MAIN_PREFIX, VERSIONS_FILE, available_versions, latest_version,
                    read_versions, sha256_bytes)

__all__ = ["load_dataset", "load_alloys"]


def _load_packed(prefix: str, version: str | None, data_dir: Path | str, source: str) -> PhononDataset:
    data_dir = Path(data_dir)
    versions = read_versions(data_dir)
    version = latest_version(data_dir) if version in (None, "latest") else version
    if version not in versions:
        raise DataError(f"version {version!r} is not in {data_dir / VERSIONS_FILE} "
                        f"(available: {', '.join(available_versions(data_dir)) or 'none'})")
    fname = f"{prefix}_{version}.npz"
    expected = versions[version].get(fname)
    path = data_dir / fname
    if expected is None:
        raise DataError(f"{data_dir / VERSIONS_FILE} has no {fname} for {version}: this version has no such file")
    if not path.exists():
        raise DataError(f"{path} is missing: re-checkout it (git checkout -- data/{fname}) "
                        f"or re-pack (python -m utils.data pack --version {version} --force)")
    data = path.read_bytes()
    sha = sha256_bytes(data)
    if sha != expected:
        raise ChecksumError(
            f"{path}: sha256 {sha} does not match {expected} recorded in {data_dir / VERSIONS_FILE} for "
            f"{version}; the file is corrupt or was modified: re-checkout it (git checkout -- data/{fname}) "
            f"or re-pack (python -m utils.data pack --version {version} --force)")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return PhononDataset(arrays, version=version, sha256=sha, path=path, source=source)


def load_dataset(version: str | None = None, source: str = "embedded", data_dir: Path | str = DATA_DIR,
                 **original_kwargs) -> PhononDataset:
    """Load the phonon DoS dataset.

    Args:
        version: 'v0', 'v1', … or None / 'latest' for the highest recorded in data/versions.json.
        source: 'embedded' (default; the packed set shipped with the repository, with the fine DoS and
            per-element DoS) or 'original' (the MRS 2021 tutorial's DFPT data, downloaded once; see
            :func:`load_original`, to which ``original_kwargs`` go). Notebooks 02–04 can switch to
            ``source='original'``; notebooks 05–06 need the fine DoS, i.e. the embedded set.
        data_dir: folder with versions.json and the packed files.
    Raises:
        ChecksumError: the file's sha256 differs from data/versions.json (re-checkout or re-pack).
        DataError: no such version / file.
    """
    if source == "original":
        from .original import load_original
        return load_original(**original_kwargs)
    if source != "embedded":
        raise ValueError(f"unknown source {source!r}: use 'embedded' or 'original'")
    if original_kwargs:
        raise TypeError(f"unexpected arguments for the embedded set: {', '.join(original_kwargs)}")
    return _load_packed(MAIN_PREFIX, version, data_dir, "embedded")


def load_alloys(version: str | None = None, data_dir: Path | str = DATA_DIR) -> PhononDataset:
    """Alloy reference supercells (Mg3(Sb1−xBix)2, Si1−xGex) of a packed version; ``Material.x``/``series``."""
    return _load_packed(ALLOYS_PREFIX, version, data_dir, "embedded")
