"""The original tutorial's data (Andrejevic & Chen, MRS 2021; DFPT phonons of Petretto et al., Sci. Data 5, 180065,
2018): download its ``data/data.csv`` once (resumable, pinned by its git blob SHA-1, sha256 recorded), parse it
without ``eval`` (:mod:`utils.data.literal`), check every structure and DoS with :mod:`utils.data.schema`, split it
element-balanced, and cache the parsed arrays next to the CSV.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from .._env import progress_disabled
from .._io import atomic_write_bytes, atomic_write_json
from .dataset import PhononDataset
from .errors import ChecksumError, DatasetUnavailable, DownloadInterrupted, InvalidMaterial, ParseError
from .files import CACHE_DIR, FORMAT_VERSION, now_iso, npz_bytes, sha256_file
from .literal import parse_literal
from .schema import SYMPREC, check_spectrum, check_structure, material_arrays, to_target_grid
from .split import SPLIT_NAMES, element_balanced_split
from ..spectra import FREQ_CM1

__all__ = ["ORIGINAL_URL", "ORIGINAL_GIT_BLOB_SHA1", "ORIGINAL_COLUMNS", "git_blob_sha1", "download_original",
           "parse_original_csv", "load_original"]

ORIGINAL_URL = "https://raw.githubusercontent.com/ninarina12/phononDoS_tutorial/main/data/data.csv"
# The published data/data.csv of that repository, as its git tree lists it: git's blob SHA-1, i.e.
# sha1(b"blob <size in bytes>\0" + content) (`git hash-object data/data.csv`). Any other file is refused.
ORIGINAL_GIT_BLOB_SHA1 = "a20428522cf81f93207db1dcdb1de22e5b1b4cd6"
ORIGINAL_COLUMNS = ("mp_id", "structure", "phfreq", "phdos", "pdos")


def git_blob_sha1(path: Path | str) -> str:
    """git's object id of a file's content: SHA-1 of ``b"blob <size>\\0" + content`` (``git hash-object``).

    Example:
        >>> import tempfile, os; f = os.path.join(tempfile.mkdtemp(), "x"); _ = open(f, "wb").write(b"hello\\n")
        >>> git_blob_sha1(f)
        'ce013625030ba8dba906f756967f9e9ca394464a'
    """
    path = Path(path)
    h = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_git_blob(path: Path, expected: str | None, what: str) -> None:
    if expected is None:
        return
    got = git_blob_sha1(path)
    if got != expected:
        raise ChecksumError(
            f"{what}: git blob SHA-1 {got} differs from {expected}, the published data/data.csv of the original "
            f"tutorial (pinned in utils.data.ORIGINAL_GIT_BLOB_SHA1): this is not the original file ({path.stat().st_size} "
            "bytes). Delete it to download it again; use load_dataset() for the embedded data.")



def _unavailable_hint() -> str:
    return ("The embedded dataset needs no network: use load_dataset() (source='embedded') instead.")


def _check_cached(path: Path, sidecar: Path, url: str, expected: str | None, git_blob: str | None = None) -> str:
    sha = sha256_file(path)
    if sidecar.exists():
        try:
            recorded = json.loads(sidecar.read_text())["sha256"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ChecksumError(f"{sidecar} is unreadable: delete it and {path} to download again") from None
        if recorded != sha:
            raise ChecksumError(
                f"{path}: sha256 {sha} differs from {recorded} recorded in {sidecar.name} at the first download; "
                f"the cached file is corrupt or was modified: delete {path} (and {sidecar.name} if the upstream "
                "file really changed) to download it again")
    if expected and expected != sha:
        raise ChecksumError(f"{path}: sha256 {sha} differs from the expected {expected}: delete it to download again")
    _check_git_blob(path, git_blob, f"the cached {path}")          # before a first sidecar records it
    if not sidecar.exists():
        atomic_write_json(path=sidecar, obj=dict(file=path.name, url=url, sha256=sha, bytes=path.stat().st_size,
                                         recorded=now_iso()))
    return sha


def _fetch(url: str, part: Path, timeout: float, _retry: bool = True) -> None:
    """Download url into part, resuming from part's size with an HTTP Range request where possible."""
    import http.client
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "phonon-dos-tutorial (utils.data)"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have and _retry:          # the partial file is unusable: start over
            part.unlink()
            return _fetch(url, part, timeout, _retry=False)
        raise DatasetUnavailable(f"could not download {url}: HTTP {exc.code} {exc.reason}. "
                                 + _unavailable_hint()) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DatasetUnavailable(f"could not download {url} ({reason}); are you offline? "
                                 + _unavailable_hint()) from None
    with resp:
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        resumed = False
        if have and resp.status == 206:
            m = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
            resumed = bool(m) and int(m.group(1)) == have
            if not resumed and _retry:        # a range we did not ask for: start over without Range
                part.unlink()
                return _fetch(url, part, timeout, _retry=False)
        if resp.status == 206 and not resumed:
            raise DatasetUnavailable(f"could not download {url}: the server sent an unexpected partial response. "
                                     + _unavailable_hint())
        if not resumed:
            have = 0
        total = (have + length) if length is not None else None
        got = 0
        bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=f"downloading {part.name[:-5]}", disable=progress_disabled(), leave=False)
        try:
            with open(part, "ab" if resumed else "wb") as fh:
                while True:
                    chunk = resp.read(1 << 16)
                    if not chunk:
                        break
                    fh.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadInterrupted(
                f"download of {url} interrupted after {have + got} bytes ({type(exc).__name__}: {exc}); "
                f"the partial file {part} is kept and the next call resumes it. " + _unavailable_hint()) from None
        finally:
            bar.close()
    if total is not None and have + got < total:
        raise DownloadInterrupted(
            f"download of {url} interrupted: received {have + got} of {total} bytes; the partial file {part} is "
            "kept and the next call resumes it. " + _unavailable_hint())


def download_original(url: str = ORIGINAL_URL, cache_dir: Path | str = CACHE_DIR, expected_sha256: str | None = None,
                      timeout: float = 30, expected_git_blob: str | None = ORIGINAL_GIT_BLOB_SHA1) -> Path:
    """Download the original tutorial's data.csv into cache_dir once; return its path.

    The download goes to ``<name>.part`` (resumed by a later call if interrupted) and is moved into place
    with ``os.replace``, so the final path never holds a partial file. The sha256 of the first complete
    download is recorded in ``<name>.sha256.json``; a later mismatch (corrupt or edited cache, changed
    upstream) raises :class:`ChecksumError` naming the file and both hashes. A progress bar is shown
    unless ``TQDM_DISABLE=1``.

    The file itself is pinned: its git blob SHA-1 (:func:`git_blob_sha1`) must equal ``expected_git_blob``,
    by default ``ORIGINAL_GIT_BLOB_SHA1``, the id of ``data/data.csv`` in the original repository's tree —
    both for a fresh download (discarded otherwise) and for the cached copy. ``expected_git_blob=None``
    skips this check (a file of your own).

    Raises:
        DatasetUnavailable: offline / server error (the message points to ``load_dataset()``);
            DownloadInterrupted if the transfer stopped early.
        ChecksumError: as above, the download differs from ``expected_sha256``, or it is not the pinned file.
    """
    return _download_original(url, cache_dir, expected_sha256, timeout, expected_git_blob)[0]


def _download_original(url, cache_dir, expected_sha256, timeout,
                       expected_git_blob: str | None = ORIGINAL_GIT_BLOB_SHA1) -> tuple[Path, str]:
    from urllib.parse import urlparse

    cache_dir = Path(cache_dir)
    name = os.path.basename(urlparse(url).path) or "data.csv"
    path = cache_dir / name
    part = cache_dir / f"{name}.part"
    sidecar = cache_dir / f"{name}.sha256.json"
    if path.exists():
        return path, _check_cached(path, sidecar, url, expected_sha256, expected_git_blob)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _fetch(url, part, timeout)
    try:
        _check_git_blob(part, expected_git_blob, f"downloaded {url} (discarded)")
    except ChecksumError:
        part.unlink()
        raise
    sha = sha256_file(part)
    recorded = None
    if sidecar.exists():
        try:
            recorded = json.loads(sidecar.read_text()).get("sha256")
        except (json.JSONDecodeError, AttributeError):
            recorded = None
    if expected_sha256 and expected_sha256 != sha:
        part.unlink()
        raise ChecksumError(f"downloaded {url} for {path}: sha256 {sha} differs from the expected "
                            f"{expected_sha256}; the download was discarded")
    if recorded and recorded != sha:
        part.unlink()
        raise ChecksumError(f"downloaded {url} for {path}: sha256 {sha} differs from {recorded} recorded in "
                            f"{sidecar} at the first download; the download was discarded (delete "
                            f"{sidecar.name} if the upstream file really changed)")
    os.replace(part, path)
    if not recorded:
        atomic_write_json(path=sidecar, obj=dict(file=name, url=url, sha256=sha, bytes=path.stat().st_size,
                                         recorded=now_iso()))
    return path, sha


def _parse_original_arrays(path: Path) -> dict:
    """The arrays of the original CSV (everything but split and metadata); see :func:`parse_original_csv`."""
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in ORIGINAL_COLUMNS if c not in df.columns]
    if missing:
        raise ParseError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    if df.empty:
        raise ParseError(f"{path}: no rows")
    column = dict(cell="structure", numbers="structure", coords="structure", freq="phfreq", dos="phdos")
    ids, cells, numbers, fracs, doss = [], [], [], [], []
    for i, row in enumerate(df[list(ORIGINAL_COLUMNS)].itertuples(index=False), 1):
        mp_id = row.mp_id.strip() or f"row{i}"

        def where(col, _i=i, _id=mp_id):
            return f"{path.name} row {_i} (mp_id {_id!r}), column {col!r}"

        st = parse_literal(row.structure, where("structure"))
        if not isinstance(st, dict) or not {"numbers", "positions", "cell"} <= set(st):
            raise ParseError(f"{where('structure')}: expected an ase Atoms.todict() dict with numbers, "
                             f"positions and cell, got {str(row.structure)[:60]!r}")
        freq = parse_literal(row.phfreq, where("phfreq"))
        dos = parse_literal(row.phdos, where("phdos"))
        pdos = parse_literal(row.pdos, where("pdos"))
        try:           # the layout of ase's Atoms.todict(); the checks are the schema's, shared by every importer
            z = np.asarray(st["numbers"]).astype(int).reshape(-1)
            pos = np.asarray(st["positions"], float).reshape(len(z), 3)
            cell = np.asarray(st["cell"], float).reshape(3, 3)
        except (ValueError, TypeError) as exc:
            raise ParseError(f"{where('structure')}: bad numbers/positions/cell ({exc})") from None
        try:
            cell, z, pos = check_structure(cell, z, pos, coords_name="positions")
            freq, dos = check_spectrum(freq, dos, nonnegative=False)   # the published file, as it is
            if not isinstance(pdos, dict):
                raise ParseError(f"{where('pdos')}: expected a dict element → list")
            for el, v in pdos.items():
                if np.asarray(v).shape != freq.shape:
                    raise ParseError(f"{where('pdos')}: element {el!r} has {np.asarray(v).size} values for "
                                     f"{len(freq)} frequencies")
            d = to_target_grid(freq, dos)
        except InvalidMaterial as exc:
            raise ParseError(f"{where(column[exc.field])}: {exc}") from None
        ids.append(mp_id)
        cells.append(cell)
        numbers.append(z)
        fracs.append(np.linalg.solve(cell.T, pos.T).T)
        doss.append(d)
    n = len(ids)
    nan = np.full(n, np.nan)
    return material_arrays(ids, cells, numbers, fracs, doss, imaginary_weight=nan, max_freq_cm1=nan.copy(),
                           freq_cm1=FREQ_CM1.copy())


def _original_dataset(arrays: dict, path: Path, sha256: str, url: str | None, seed: int) -> PhononDataset:
    arrays = dict(arrays)
    off, numbers = arrays["atom_offsets"], arrays["numbers"]
    split = element_balanced_split([set(numbers[off[i]:off[i + 1]].tolist()) for i in range(len(off) - 1)],
                                   seed=seed)
    arrays["split"] = split.astype(np.int8)
    meta = dict(format_version=FORMAT_VERSION, version="original", set="original", source_url=url,
                file=path.name, sha256=sha256,
                reference="Andrejevic & Chen, MRS 2021 tutorial 'Predicting phonon DoS with e3nn' (DFPT data of "
                          "Petretto et al., Sci. Data 5, 180065 (2018))",
                grids=dict(dos=dict(n=len(FREQ_CM1), min_cm1=0.0, max_cm1=1000.0, normalization="max = 1")),
                counts=dict(packed=len(split)),
                structure_types=dict(n=len(set(arrays["structure_types"].tolist()))),
                split=dict(names=list(SPLIT_NAMES), seed=seed,
                           sizes={nm: int((split == s).sum()) for s, nm in enumerate(SPLIT_NAMES)}),
                notes="fine_dos and pdos are None: notebooks 05-06 need the embedded set (load_dataset())")
    arrays["meta_json"] = np.array(json.dumps(meta))
    return PhononDataset(arrays, version="original", sha256=sha256, path=path, source="original")


def parse_original_csv(path: Path | str, seed: int = 0, sha256: str | None = None,
                       url: str | None = None) -> PhononDataset:
    """Parse the original tutorial's data.csv (safely, without eval) into a :class:`PhononDataset`.

    Columns: mp_id, structure (``str`` of ase ``Atoms.todict()``: numbers, positions, cell as
    ``array(...)``), phfreq (cm⁻¹), phdos, pdos (dict element → list on phfreq); extra columns are ignored.
    The DoS is resampled to the 51-point 0–1000 cm⁻¹ grid if its grid differs, then max-normalized;
    ``fine_dos`` and ``pdos`` are None (the original has no fine DoS); the split is element-balanced
    (:func:`element_balanced_split` with ``seed``); prototype is '' (unknown); structure_type from
    :func:`classify_structure`; imaginary_weight and max_freq_cm1 are NaN (not in the file).

    Raises:
        ParseError: a missing column, or a malformed cell / wrong grid length (names row and column).
    """
    path = Path(path)
    return _original_dataset(_parse_original_arrays(path), path, sha256 or sha256_file(path), url, seed)


def load_original(url: str = ORIGINAL_URL, cache_dir: Path | str = CACHE_DIR, expected_sha256: str | None = None,
                  timeout: float = 30, seed: int = 0,
                  expected_git_blob: str | None = ORIGINAL_GIT_BLOB_SHA1) -> PhononDataset:
    """The original tutorial's DFPT phonon DoS (1,521 materials) as a :class:`PhononDataset`.

    Downloads ``data.csv`` once (see :func:`download_original`; cached in ``data/cache``, git-ignored),
    parses it without eval (:func:`parse_original_csv`) and splits it element-balanced. The parsed arrays
    are cached next to it (``data.csv.parsed.npz``, keyed by the csv's sha256 and the format version), so
    later calls skip parsing and symmetry analysis (~10 s → well under 1 s). Only the 51-point DoS exists
    there: notebooks 02–04 can use ``load_dataset(source='original')``; 05–06 need the fine DoS of the
    embedded set. Offline → :class:`DatasetUnavailable` (use ``load_dataset()``). Only the published file is
    accepted (``expected_git_blob``, see :func:`download_original`).
    """
    path, sha = _download_original(url, cache_dir, expected_sha256, timeout, expected_git_blob)
    parsed = path.with_name(f"{path.name}.parsed.npz")
    key = f"{sha}:format{FORMAT_VERSION}:symprec{SYMPREC}"
    arrays = None
    if parsed.exists():
        try:
            with np.load(parsed, allow_pickle=False) as npz:
                if str(npz["cache_key"]) == key:
                    arrays = {k: npz[k] for k in npz.files if k != "cache_key"}
        except (OSError, ValueError, KeyError, EOFError):     # unreadable cache: parse again
            arrays = None
    if arrays is None:
        arrays = _parse_original_arrays(path)
        atomic_write_bytes(parsed, npz_bytes(dict(arrays, cache_key=np.array(key))))
    return _original_dataset(arrays, path, sha, url, seed)
