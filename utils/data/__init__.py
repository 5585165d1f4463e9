"""Phonon DoS datasets: the embedded (packed) set, element-balanced splits, the original tutorial's data.

Read-only: importing it loads only the standard library and numpy (pandas, pymatgen, spglib and tqdm are imported
inside the functions that need them), prints nothing and downloads nothing; it needs neither torch nor
``utils.graphs``. What *produces* the shipped files (the packer, the label store) is ``utils.datagen``.

Two sources, one schema (:class:`PhononDataset` of :class:`Material`, arrays in :mod:`utils.data.dataset`):

* ``load_dataset()`` (``source='embedded'``, the default): the set shipped with this repository,
  ``data/phonon_dos_<version>.npz``, labelled with a universal interatomic potential + phonopy (``utils.datagen``),
  with the 51-point target DoS *and* the fine / per-element DoS (0–2000 cm⁻¹, 3N-normalized); its sha256 is checked
  against ``data/versions.json``. Loads offline in well under a second.
* ``load_dataset(source='original')`` / :func:`load_original`: the DFPT data of the MRS 2021 tutorial (Andrejevic &
  Chen, github.com/ninarina12/phononDoS_tutorial), downloaded once into ``data/cache/``; only the 51-point DoS, so
  notebooks 02–04 can switch to it and 05–06 cannot.

Rooms: ``reader`` (load the packed files), ``dataset`` (the objects), ``split`` (element-balanced splits),
``schema`` (the one validator of structures and spectra, shared by every importer), ``original`` + ``literal``
(the original CSV and its safe literal parser), ``user`` (your own JSON), ``files`` (paths, versions.json),
``elements``, ``errors``, ``cli`` (``python -m utils.data``).

Grids: ``FREQ_CM1`` = ``np.linspace(0, 1000, 51)`` cm⁻¹ (max-normalized target, the original tutorial's);
``FINE_FREQ_CM1`` = 0, 2, …, 2000 cm⁻¹ (1001 points, the DoS integrates to 3N modes per cell); both from
``utils.spectra``.

Example:
    >>> from utils.data import load_dataset
    >>> ds = load_dataset()                       # doctest: +SKIP
    >>> m = ds[0]; m.formula, m.dos.shape, m.split  # doctest: +SKIP
    ('NaBr', (51,), 'train')
    >>> train = ds.split("train")                 # doctest: +SKIP

Command line::

    python -m utils.data --summary               # one JSON line about the latest packed version
    python -m utils.data pack --version v1       # pack data/labels into data/phonon_dos_v1.npz (utils.datagen.pack)
"""
from __future__ import annotations

from ..spectra import FINE_FREQ_CM1, FREQ_CM1
from .dataset import Material, PhononDataset
from ..elements import atomic_number, symbol
from .errors import (ChecksumError, DataError, DatasetUnavailable, DownloadInterrupted, InvalidMaterial, ParseError,
                     SplitError, UnsafeExpression)
from .files import (ALLOYS_PREFIX, CACHE_DIR, DATA_DIR, FORMAT_VERSION, LABELS_DIR, MAIN_PREFIX, VERSIONS_FILE,
                    available_versions, latest_version, read_versions, version_key)
from .literal import parse_literal
from .original import (ORIGINAL_GIT_BLOB_SHA1, ORIGINAL_URL, download_original, git_blob_sha1, load_original,
                       parse_original_csv)
from .reader import load_alloys, load_dataset
from .schema import (FINE_INTEGRAL_RTOL, GRAPH_R_MAX, LIGHT_MODE_LIMIT, SYMPREC, check_spectrum, check_structure,
                     classify_structure, material_arrays, validate_record)
from .split import (BALANCE_MIN_COUNT, BALANCE_TOL, MIN_MATERIALS_PER_ELEMENT, SPLIT_FRACTIONS, SPLIT_NAMES,
                    drop_rare_elements, element_balanced_split, split_balance_violations)
from .user import USER_FORMAT_DOC, load_user_dataset

__all__ = [
    "load_dataset", "load_alloys", "load_original", "load_user_dataset", "download_original", "parse_original_csv",
    "PhononDataset", "Material", "element_balanced_split", "split_balance_violations", "drop_rare_elements",
    "parse_literal", "classify_structure", "validate_record", "check_structure", "check_spectrum", "material_arrays",
    "available_versions", "latest_version", "read_versions", "version_key", "symbol", "atomic_number",
    "DataError", "DatasetUnavailable", "DownloadInterrupted", "ChecksumError", "ParseError", "UnsafeExpression",
    "SplitError", "InvalidMaterial", "ORIGINAL_URL", "ORIGINAL_GIT_BLOB_SHA1", "git_blob_sha1", "FREQ_CM1",
    "FINE_FREQ_CM1", "SPLIT_NAMES", "SPLIT_FRACTIONS", "BALANCE_MIN_COUNT", "BALANCE_TOL", "MIN_MATERIALS_PER_ELEMENT",
    "LIGHT_MODE_LIMIT", "GRAPH_R_MAX", "FINE_INTEGRAL_RTOL", "SYMPREC", "USER_FORMAT_DOC", "DATA_DIR", "LABELS_DIR",
    "CACHE_DIR", "VERSIONS_FILE", "MAIN_PREFIX", "ALLOYS_PREFIX", "FORMAT_VERSION",
]
