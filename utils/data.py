"""Phonon DoS datasets: the embedded (packed) set, element-balanced splits, the original tutorial's data.

This is the lowest layer of ``utils``: importing it loads only the standard library and numpy (pandas,
pymatgen, spglib and tqdm are imported inside the functions that need them), prints nothing and downloads
nothing. It does not need torch or ``utils.graphs``.

Two sources, one schema (:class:`PhononDataset` of :class:`Material`):

* ``load_dataset()`` (``source='embedded'``, the default): the set shipped with this repository,
  ``data/phonon_dos_<version>.npz``, labelled with a universal interatomic potential + phonopy
  (``utils.datagen``). Each material has the 51-point target DoS *and* the fine DoS / per-element DoS
  (0–2000 cm⁻¹, 3N-normalized). Loads offline in well under a second; its sha256 is checked against
  ``data/versions.json``.
* ``load_dataset(source='original')`` / :func:`load_original`: the DFPT data of the MRS 2021 tutorial
  (Andrejevic & Chen, github.com/ninarina12/phononDoS_tutorial, ``data/data.csv``), downloaded once into
  ``data/cache/``. It has only the 51-point max-normalized DoS: notebooks 02–04 (structure → DoS) can switch
  to it with ``source='original'``; notebooks 05–06 need the fine DoS (``fine_dos``/``pdos`` are ``None``
  there) and therefore the embedded set.

Grids: ``freq_cm1`` = ``np.linspace(0, 1000, 51)`` cm⁻¹ (max-normalized target, the original tutorial's);
``fine_freq_cm1`` = 0, 2, …, 2000 cm⁻¹ (1001 points, the DoS integrates to 3N modes per cell).

Packed file format (``np.savez_compressed``, no pickles; n materials, A atoms in all, m element rows)::

    ids, formulas, prototypes, structure_types  (n,) str      spacegroup (n,) int16
    split            (n,)   int8    0 train / 1 valid / 2 test (alloys: all 2, never trained on)
    cell             (n,3,3) float64  Å, lattice vectors as rows
    n_atoms          (n,)   int32;  atom_offsets (n+1,) int64: atoms of material i are [off[i], off[i+1])
    numbers          (A,)   int16   Z;   frac_coords (A,3) float64
    dos              (n,51) float32 max-normalized on freq_cm1
    fine_dos         (n,1001) float32 on fine_freq_cm1, ∫ = 3N
    pdos_values      (m,1001) float32; pdos_material (m,) int32 (ascending); pdos_Z (m,) int16
    imaginary_weight, max_freq_cm1, min_freq_cm1, weight_above_1000_cm1 (n,) float64
    seconds_relax, seconds_forces, seconds_dos, seconds_total, wall_s (n,) float32   labelling cost
    label_device (n,) str                     where the potential ran ('cpu' or 'cuda'; the timings depend on it)
    freq_cm1 (51,), fine_freq_cm1 (1001,) float64;  meta_json () str (JSON: provenance, counts, ...)
    alloys only: x (n,) float64, series (n,) str

Example:
    >>> from utils.data import load_dataset
    >>> ds = load_dataset()                       # doctest: +SKIP
    >>> m = ds[0]; m.formula, m.dos.shape, m.split  # doctest: +SKIP
    ('NaBr', (51,), 'train')
    >>> train = ds.split("train")                 # doctest: +SKIP

Command line::

    python -m utils.data --summary               # one JSON line about the latest packed version
    python -m utils.data pack --version v1       # pack data/labels into data/phonon_dos_v1.npz
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import io
import json
import os
import re
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ._env import progress_disabled
from ._io import atomic_write_bytes, atomic_write_json
from .spectra import FINE_FREQ_CM1, FREQ_CM1

__all__ = [
    "load_dataset", "load_alloys", "load_original", "download_original", "parse_original_csv", "pack",
    "PhononDataset", "Material", "element_balanced_split", "split_balance_violations", "parse_literal",
    "classify_structure", "validate_record", "iter_label_records", "available_versions", "latest_version",
    "DataError", "DatasetUnavailable", "DownloadInterrupted", "ChecksumError", "ParseError", "UnsafeExpression",
    "SplitError", "ORIGINAL_URL", "ORIGINAL_GIT_BLOB_SHA1", "git_blob_sha1", "FREQ_CM1", "FINE_FREQ_CM1", "SPLIT_NAMES", "SPLIT_FRACTIONS",
]

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
LABELS_DIR = DATA_DIR / "labels"
CACHE_DIR = DATA_DIR / "cache"
VERSIONS_FILE = "versions.json"
MAIN_PREFIX, ALLOYS_PREFIX = "phonon_dos", "alloys"
ORIGINAL_URL = "https://raw.githubusercontent.com/ninarina12/phononDoS_tutorial/main/data/data.csv"
# The published data/data.csv of that repository, as its git tree lists it: git's blob SHA-1, i.e.
# sha1(b"blob <size in bytes>\0" + content) (`git hash-object data/data.csv`). Any other file is refused.
ORIGINAL_GIT_BLOB_SHA1 = "a20428522cf81f93207db1dcdb1de22e5b1b4cd6"
ORIGINAL_COLUMNS = ("mp_id", "structure", "phfreq", "phdos", "pdos")

# FREQ_CM1 (coarse target grid, 51 points 0–1000 cm⁻¹) and FINE_FREQ_CM1 (1001 points 0–2000 cm⁻¹): utils.spectra
SPLIT_NAMES = ("train", "valid", "test", "benchmark")   # benchmark: known crystals, from v2 on (code 3)
SPLIT_FRACTIONS = (0.78, 0.09, 0.13)              # the original tutorial's 1192/137/192 of 1521
MIN_MATERIALS_PER_ELEMENT = 5   # every element of a packed version occurs in at least this many materials
LIGHT_MODE_LIMIT = 0.05      # exclude materials with > 5 % of their modes above 1000 cm⁻¹ (outside the target)
GRAPH_R_MAX = 4.0            # Å: the series' graph cutoff; a material with an atom that has no neighbour within it
                             # (e.g. bcc Cs, nearest neighbour 5.0 Å) cannot be a graph at r_max = 4 Å: excluded
FINE_INTEGRAL_RTOL = 0.02    # the fine DoS must integrate to 3N within 2 %
BALANCE_MIN_COUNT, BALANCE_TOL = 10, 0.10
FORMAT_VERSION = 1
SYMPREC = 1e-3

_SYMBOLS = ("X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br "
            "Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er "
            "Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No "
            "Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og").split()
_Z = {s: z for z, s in enumerate(_SYMBOLS) if z}


# ----------------------------------------------------------------------------------------------- errors
class DataError(ValueError):
    """A dataset problem; the message names the file/row/material and what to do."""


class DatasetUnavailable(DataError):
    """The original data could not be downloaded (offline, server error); use ``load_dataset()`` instead."""


class DownloadInterrupted(DatasetUnavailable):
    """The download stopped early; the partial ``.part`` file is kept and the next call resumes it."""


class ChecksumError(DataError):
    """A file's sha256 differs from the recorded one (corrupt, edited or changed upstream)."""


class ParseError(DataError):
    """A cell of the original CSV is malformed; the message names the row and the column."""


class UnsafeExpression(ParseError):
    """A cell holds code rather than a literal (only literals and ``array(...)`` calls are accepted)."""


class SplitError(DataError):
    """No split satisfying the element-balance rule was found."""


# ------------------------------------------------------------------------------------------- utilities
def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def _now_iso() -> str:
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _version_key(version: str) -> tuple:
    m = re.fullmatch(r"v(\d+(?:\.\d+)*)", version)
    if not m:
        raise DataError(f"bad dataset version {version!r}: use 'v' and a number, e.g. 'v0', 'v1', 'v1.1'")
    return tuple(int(p) for p in m.group(1).split("."))


def symbol(z: int) -> str:
    """Element symbol of atomic number z (1..118)."""
    return _SYMBOLS[int(z)]


# ------------------------------------------------------------------------------ safe literal parser
_NAMED_CONSTANTS = {"nan": float("nan"), "inf": float("inf"), "True": True, "False": False, "None": None}
_ARRAY_FUNCS = {"array", "Cell"}          # numpy array repr; ase Cell repr of old ase versions
_SCALARS = {**{t: (int, float) for t in ("float16", "float32", "float64", "longdouble")},
            **{t: (int,) for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")},
            "bool": (bool,), "str_": (str,)}
_DTYPES = {"bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "float_", "int_", "float", "int", "complex64", "complex128"}


def parse_literal(text: str, where: str = "value"):
    """Evaluate a Python/numpy repr *without* ``eval``: only literals and ``array(...)`` calls.

    Accepted: numbers, strings, ``True/False/None``, ``nan``/``inf``, unary ``+``/``-``, lists, tuples,
    dicts, ``array(x)`` / ``array(x, dtype=int32)`` (also ``np.array``/``numpy.array``/``Cell``), which
    become numpy arrays, and numpy 2 scalar reprs such as ``np.float64(1.5)`` / ``np.str_('Ba')``.
    Anything else — names, attributes, other calls, operators, comprehensions, lambdas — raises :class:`UnsafeExpression` naming ``where`` (e.g. "data.csv row 3, column 'structure'").
    """
    if not isinstance(text, str):
        raise ParseError(f"{where}: expected text, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        msg = getattr(exc, "msg", None) or type(exc).__name__
        raise ParseError(f"{where}: not a literal ({msg}): {text[:60]!r}") from None
    try:
        return _literal(tree.body, where)
    except RecursionError:
        raise ParseError(f"{where}: nested too deeply") from None


def _is_np(node) -> bool:
    return isinstance(node, ast.Name) and node.id in ("np", "numpy")


def _literal(node, where: str):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, int, float, bool)) or node.value is None:
            return node.value
        raise UnsafeExpression(f"{where}: constant of type {type(node.value).__name__} is not allowed")
    if isinstance(node, (ast.List, ast.Tuple)):
        vals = [_literal(e, where) for e in node.elts]
        return vals if isinstance(node, ast.List) else tuple(vals)
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                raise UnsafeExpression(f"{where}: '**' in a dict is not allowed")
            key = _literal(k, where)
            if not isinstance(key, (str, int, float)):
                raise ParseError(f"{where}: dict key {key!r} is not a string or number")
            out[key] = _literal(v, where)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        val = _literal(node.operand, where)
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise UnsafeExpression(f"{where}: unary {type(node.op).__name__} only applies to numbers")
        return -val if isinstance(node.op, ast.USub) else +val
    if isinstance(node, ast.Name):
        if node.id in _NAMED_CONSTANTS:
            return _NAMED_CONSTANTS[node.id]
        raise UnsafeExpression(f"{where}: name {node.id!r} is not allowed (only literals and array(...))")
    if isinstance(node, ast.Call):
        f = node.func
        scalar = f.attr if isinstance(f, ast.Attribute) and _is_np(f.value) else None
        if scalar in _SCALARS and len(node.args) == 1 and not node.keywords:   # numpy 2 scalar repr
            val = _literal(node.args[0], where)
            if not isinstance(val, _SCALARS[scalar]) or isinstance(val, bool) and scalar != "bool":
                raise UnsafeExpression(f"{where}: np.{scalar}() of {type(val).__name__} is not allowed")
            return val
        ok = (isinstance(f, ast.Name) and f.id in _ARRAY_FUNCS) or (
            isinstance(f, ast.Attribute) and f.attr == "array" and _is_np(f.value))
        if not ok:
            raise UnsafeExpression(f"{where}: call of {ast.unparse(f)[:40]!r} is not allowed "
                                   "(only array(...) is)")
        if len(node.args) != 1 or any(kw.arg != "dtype" for kw in node.keywords):
            raise UnsafeExpression(f"{where}: array(...) takes one value and optionally dtype=")
        dtype = None
        for kw in node.keywords:
            v = kw.value
            name = (v.id if isinstance(v, ast.Name) else v.attr if isinstance(v, ast.Attribute) and _is_np(v.value)
                    else v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else None)
            if name not in _DTYPES:
                raise UnsafeExpression(f"{where}: dtype {ast.unparse(v)[:30]!r} is not allowed")
            dtype = {"float_": "float64", "int_": "int64", "bool_": "bool"}.get(name, name)
        value = _literal(node.args[0], where)
        try:
            return np.asarray(value, dtype=dtype)
        except (ValueError, TypeError) as exc:
            raise ParseError(f"{where}: bad array ({exc})") from None
    raise UnsafeExpression(f"{where}: {type(node).__name__} is not allowed (only literals and array(...))")


# ----------------------------------------------------------------------------------- structure types
def classify_structure(cell, frac_coords, numbers, symprec: float = SYMPREC) -> tuple[int, str]:
    """Species-agnostic structure type: (space group number, ``'<number>:<sorted Wyckoff letters>'``).

    One letter per crystallographic orbit, e.g. rocksalt ``'225:ab'``, fluorite and antifluorite ``'225:ac'``,
    perovskite ``'221:abc'``. Returns ``(0, 'unknown')`` if spglib finds no symmetry.
    """
    import spglib

    cell_t = (np.asarray(cell, float), np.asarray(frac_coords, float), np.asarray(numbers, int))
    ds = spglib.get_symmetry_dataset(cell_t, symprec=symprec)
    if ds is None:
        return 0, "unknown"
    get = (lambda k: ds[k]) if isinstance(ds, dict) else (lambda k: getattr(ds, k))
    number, wyckoffs, eq = int(get("number")), list(get("wyckoffs")), np.asarray(get("equivalent_atoms"))
    letters = "".join(sorted(wyckoffs[i] for i in np.unique(eq)))
    return number, f"{number}:{letters}"


# ------------------------------------------------------------------------------------- splitting
def _element_index(element_sets: Sequence[Iterable]) -> tuple[list[list[int]], list]:
    keys: dict = {}
    rows = []
    for els in element_sets:
        rows.append(sorted({keys.setdefault(e, len(keys)) for e in els}))
    return rows, list(keys)


def element_balanced_split(element_sets: Sequence[Iterable], fractions: Sequence[float] = SPLIT_FRACTIONS,
                           seed: int = 0, min_count: int = BALANCE_MIN_COUNT, tol: float = BALANCE_TOL) -> np.ndarray:
    """Assign each material to train (0), valid (1) or test (2) so that every element is spread like the whole.

    Greedy proportional apportionment: materials are visited from the rarest element up (ties in a seeded
    random order); material m goes to the split s with the largest deficit
    ``Σ_{e∈m} [f_s (a_e + 1) − c_{e,s}] + [f_s (t + 1) − n_s]``, where a_e is the number of materials with
    element e assigned so far, c_{e,s} those in s, t and n_s the same for all materials, f the target
    fractions. Every element (and the whole set) then tracks f to within about one material at every step.
    Remaining violations of the balance rule (:func:`split_balance_violations`: an element with ≥ min_count
    materials more than tol away from the overall share of a split) are then repaired by swapping pairs of
    materials between splits, which keeps the split sizes. Deterministic for a given input order and seed.

    Args:
        element_sets: per material, an iterable of its elements (symbols or Z).
        fractions: target (train, valid, test) fractions (normalized).
        seed: seed of the visiting order among materials of equal rarity.
    Returns:
        int8 array of split codes, one per material.
    """
    f = np.asarray(fractions, float)
    f = f / f.sum()
    rows, keys = _element_index(element_sets)
    n, k = len(rows), len(f)
    out = np.zeros(n, np.int8)
    if n == 0:
        return out
    n_e = np.zeros(len(keys))
    for r in rows:
        n_e[r] += 1
    rng = np.random.default_rng(seed)
    rarity = np.array([n_e[r].min() if r else np.inf for r in rows])
    order = np.lexsort((rng.random(n), rarity))
    c = np.zeros((len(keys), k))                 # c[e, s]: materials with element e in split s
    n_s = np.zeros(k)
    noise = rng.random((n, k)) * 1e-9            # seeded tie-break
    for i in order:
        r = rows[i]
        score = f * (n_s.sum() + 1) - n_s + noise[i]
        if r:
            ce = c[r]
            score = score + (f[None, :] * (ce.sum(axis=1, keepdims=True) + 1) - ce).sum(axis=0)
        s = int(np.argmax(score))
        out[i] = s
        c[r, s] += 1
        n_s[s] += 1
    _repair_split(rows, out, n_e, c, n_s, rng, min_count, tol)
    return out


def _repair_split(rows, split, n_e, c, n_s, rng, min_count, tol, max_swaps: int = 2000) -> None:
    """Swap pairs of materials between splits (sizes unchanged) until no element violates the balance rule.

    Penalty: Σ over elements with ≥ min_count materials of Σ_s max(0, |c_es/N_e − n_s/n| − tol)²; each
    step takes the best of up to 40×40 candidate swaps around the worst violation, if it lowers the penalty.
    """
    n = len(split)
    overall = n_s / n
    elig = n_e >= min_count
    if not elig.any():
        return
    members = {}
    for i, r in enumerate(rows):
        for e in r:
            members.setdefault(e, []).append(i)

    def pen(idx, cc):
        dev = np.abs(cc / n_e[idx][:, None] - overall[None, :]) - tol
        return float((np.maximum(dev, 0.0) ** 2 * elig[idx][:, None]).sum())

    for _ in range(max_swaps):
        dev = c / np.maximum(n_e, 1)[:, None] - overall[None, :]
        viol = (np.abs(dev) > tol + 1e-12) & elig[:, None]
        if not viol.any():
            return
        e, s_over = np.unravel_index(np.argmax(np.where(viol, np.abs(dev), -1)), dev.shape)
        if dev[e, s_over] < 0:          # under-represented in s_over: move one in from the most over-represented split
            s_from, s_to = int(np.argmax(dev[e])), int(s_over)
        else:
            s_from, s_to = int(s_over), int(np.argmin(dev[e]))
        a_pool = [i for i in members[e] if split[i] == s_from]
        b_pool = np.flatnonzero(split == s_to)
        b_pool = [int(i) for i in b_pool if e not in rows[i]]
        if not a_pool or not b_pool:
            return
        a_pool = rng.permutation(a_pool)[:40]
        b_pool = rng.permutation(b_pool)[:40]
        best, best_pair = 0.0, None
        for a in a_pool:
            for b in b_pool:
                idx = sorted(set(rows[a]) | set(rows[b]))
                before = pen(idx, c[idx])
                cc = c[idx].copy()
                pos = {el: j for j, el in enumerate(idx)}
                for el in rows[a]:
                    cc[pos[el], s_from] -= 1
                    cc[pos[el], s_to] += 1
                for el in rows[b]:
                    cc[pos[el], s_to] -= 1
                    cc[pos[el], s_from] += 1
                delta = pen(idx, cc) - before
                if delta < best - 1e-15:
                    best, best_pair = delta, (int(a), int(b))
        if best_pair is None:
            return
        a, b = best_pair
        c[rows[a], s_from] -= 1
        c[rows[a], s_to] += 1
        c[rows[b], s_to] -= 1
        c[rows[b], s_from] += 1
        split[a], split[b] = s_to, s_from


def split_balance_violations(element_sets: Sequence[Iterable], split, min_count: int = BALANCE_MIN_COUNT,
                             tol: float = BALANCE_TOL) -> list[str]:
    """Elements (with ≥ min_count materials) whose share in some split differs from the overall share by > tol.

    Returns human-readable violations, empty if the rule holds. The overall share of split s is
    n_s / n; the element's share is (materials with e in s) / (materials with e).
    """
    split = np.asarray(split)
    n = len(split)
    if n == 0:
        return []
    overall = np.array([(split == s).mean() for s in range(len(SPLIT_NAMES))])
    by_el: dict = {}
    for i, els in enumerate(element_sets):
        for e in set(els):
            by_el.setdefault(e, []).append(i)
    bad = []
    for e, idx in sorted(by_el.items(), key=lambda kv: str(kv[0])):
        if len(idx) < min_count:
            continue
        share = np.array([(split[idx] == s).mean() for s in range(len(SPLIT_NAMES))])
        for s, name in enumerate(SPLIT_NAMES):
            if abs(share[s] - overall[s]) > tol + 1e-12:
                bad.append(f"{e}: {share[s]:.0%} of its {len(idx)} materials in {name} vs {overall[s]:.0%} overall")
    return bad


def _balanced_split_checked(element_sets, seed: int, fractions=SPLIT_FRACTIONS) -> tuple[np.ndarray, int]:
    """Split and verify; try a few derived seeds if the rule fails. Returns (split, seed used)."""
    last = []
    for attempt in range(10):
        s = seed + attempt
        split = element_balanced_split(element_sets, fractions, seed=s)
        last = split_balance_violations(element_sets, split)
        if not last:
            return split, s
    raise SplitError("no element-balanced split found (tried seeds "
                     f"{seed}..{seed + 9}): " + "; ".join(last[:5]))


# ---------------------------------------------------------------------------------------- the dataset
@dataclasses.dataclass(eq=False)
class Material:
    """One material of a :class:`PhononDataset` (arrays are read-only views into the dataset)."""

    index: int
    id: str
    formula: str
    prototype: str
    structure_type: str
    split: str                                   # 'train' | 'valid' | 'test'
    n_atoms: int
    cell: np.ndarray = dataclasses.field(repr=False)          # (3, 3) Å, rows are lattice vectors
    numbers: np.ndarray = dataclasses.field(repr=False)       # (n_atoms,) Z
    frac_coords: np.ndarray = dataclasses.field(repr=False)   # (n_atoms, 3)
    dos: np.ndarray = dataclasses.field(repr=False)           # (51,) max-normalized on freq_cm1
    fine_dos: np.ndarray | None = dataclasses.field(default=None, repr=False)   # (1001,) ∫ = 3N, or None
    pdos: dict | None = dataclasses.field(default=None, repr=False)  # {symbol: (1001,)} or None
    max_freq_cm1: float = float("nan")
    imaginary_weight: float = float("nan")
    spacegroup: int = 0
    x: float | None = None                      # alloys only: composition parameter
    series: str | None = None                   # alloys only: e.g. 'Si1-xGex'

    @property
    def species(self) -> list[str]:
        """Element symbols present, sorted by Z."""
        return [_SYMBOLS[z] for z in sorted(set(int(z) for z in self.numbers))]

    @property
    def symbols(self) -> list[str]:
        """Element symbol of every atom."""
        return [_SYMBOLS[int(z)] for z in self.numbers]

    @cached_property
    def structure(self):
        """pymatgen ``Structure`` (built on first access)."""
        from pymatgen.core import Lattice, Structure
        return Structure(Lattice(self.cell), self.symbols, self.frac_coords)

    def to_ase(self):
        """ase ``Atoms`` with periodic boundary conditions."""
        from ase import Atoms
        return Atoms(numbers=self.numbers, cell=self.cell, scaled_positions=self.frac_coords, pbc=True)


class PhononDataset:
    """A packed set of materials with phonon DoS (see the module docstring for the arrays).

    Attributes:
        version: e.g. 'v0' (or 'original'); sha256: of the file it was loaded from;
        freq_cm1 (51,), fine_freq_cm1 (1001,): grids; meta: dict (provenance, counts, decisions);
        dos (n, 51) float32, fine_dos (n, 1001) float32 or None: all spectra at once (for training);
        ids, split_codes: arrays; source: 'embedded' | 'original'; path: the file.
    """

    def __init__(self, arrays: dict, version: str, sha256: str, path: Path | None = None,
                 source: str = "embedded"):
        self._a = arrays
        self.version, self.sha256, self.path, self.source = version, sha256, path, source
        self.meta = json.loads(str(arrays["meta_json"]))
        self.freq_cm1 = np.asarray(arrays["freq_cm1"], float)
        self.fine_freq_cm1 = np.asarray(arrays["fine_freq_cm1"], float) if "fine_freq_cm1" in arrays else None
        self.ids = arrays["ids"]
        self.split_codes = arrays["split"]
        self.dos = arrays["dos"]
        self.fine_dos = arrays.get("fine_dos")
        self._id_index = {str(s): i for i, s in enumerate(self.ids)}
        self._off = arrays["atom_offsets"]
        if "pdos_material" in arrays:
            self._pdos_off = np.searchsorted(arrays["pdos_material"], np.arange(len(self.ids) + 1))
        else:
            self._pdos_off = None
        for a in arrays.values():
            if isinstance(a, np.ndarray):
                a.flags.writeable = False

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k} {v}" for k, v in self.split_sizes().items())
        return f"PhononDataset({self.source} {self.version}: {len(self)} materials; {sizes})"

    def __iter__(self) -> Iterator[Material]:
        return (self[i] for i in range(len(self)))

    def index(self, material_id: str) -> int:
        """Position of a material id."""
        try:
            return self._id_index[material_id]
        except KeyError:
            raise KeyError(f"no material {material_id!r} in {self}") from None

    def __getitem__(self, key) -> Material:
        if isinstance(key, str):
            i = self.index(key)
        elif isinstance(key, (int, np.integer)):
            i = int(key)
            if i < 0:
                i += len(self)
            if not 0 <= i < len(self):
                raise IndexError(f"index {key} out of range for {len(self)} materials")
        else:
            raise TypeError("index with an int or a material id (use .split(name) for subsets)")
        a = self._a
        lo, hi = int(self._off[i]), int(self._off[i + 1])
        pdos = None
        if self._pdos_off is not None:
            p0, p1 = int(self._pdos_off[i]), int(self._pdos_off[i + 1])
            pdos = {_SYMBOLS[int(z)]: a["pdos_values"][j] for j, z in zip(range(p0, p1), a["pdos_Z"][p0:p1])}
        return Material(
            index=i, id=str(self.ids[i]), formula=str(a["formulas"][i]), prototype=str(a["prototypes"][i]),
            structure_type=str(a["structure_types"][i]), split=SPLIT_NAMES[int(self.split_codes[i])],
            n_atoms=int(a["n_atoms"][i]), cell=a["cell"][i], numbers=a["numbers"][lo:hi],
            frac_coords=a["frac_coords"][lo:hi], dos=self.dos[i],
            fine_dos=None if self.fine_dos is None else self.fine_dos[i], pdos=pdos,
            max_freq_cm1=float(a["max_freq_cm1"][i]), imaginary_weight=float(a["imaginary_weight"][i]),
            spacegroup=int(a["spacegroup"][i]),
            x=float(a["x"][i]) if "x" in a else None, series=str(a["series"][i]) if "series" in a else None)

    def split(self, name: str, materials: bool = False):
        """Indices (int array) of split 'train' | 'valid' | 'test'; ``materials=True`` → list of Material."""
        if name not in SPLIT_NAMES:
            raise ValueError(f"unknown split {name!r}: use one of {SPLIT_NAMES}")
        idx = np.flatnonzero(self.split_codes == SPLIT_NAMES.index(name))
        return [self[int(i)] for i in idx] if materials else idx

    def split_sizes(self) -> dict:
        """Materials per split; 'benchmark' only where the version has one (v2 on)."""
        sizes = {name: int((self.split_codes == s).sum()) for s, name in enumerate(SPLIT_NAMES)}
        if not sizes["benchmark"]:
            del sizes["benchmark"]
        return sizes

    def species(self, i: int) -> list[str]:
        """Element symbols of material i (sorted by Z), without building a Material."""
        zs = np.unique(self._a["numbers"][self._off[i]:self._off[i + 1]])
        return [_SYMBOLS[int(z)] for z in zs]

    def elements(self) -> Counter:
        """Counter: element symbol → number of materials containing it."""
        return Counter(e for i in range(len(self)) for e in self.species(i))

    @property
    def structure_types(self) -> np.ndarray:
        return self._a["structure_types"]

    @property
    def arrays(self) -> dict:
        """The raw (read-only) arrays of the file."""
        return self._a

    def to_dataframe(self, structures: bool = False):
        """pandas DataFrame, one row per material (``structures=True`` adds pymatgen Structures; slower)."""
        import pandas as pd

        a = self._a
        cols = dict(
            id=[str(s) for s in self.ids], formula=a["formulas"].astype(str), prototype=a["prototypes"].astype(str),
            structure_type=a["structure_types"].astype(str), spacegroup=a["spacegroup"],
            split=[SPLIT_NAMES[int(s)] for s in self.split_codes], n_atoms=a["n_atoms"],
            species=[self.species(i) for i in range(len(self))],
            max_freq_cm1=a["max_freq_cm1"], imaginary_weight=a["imaginary_weight"],
            dos=list(self.dos))
        if self.fine_dos is not None:
            cols["fine_dos"] = list(self.fine_dos)
        if "x" in a:
            cols["x"], cols["series"] = a["x"], a["series"].astype(str)
        if structures:
            cols["structure"] = [m.structure for m in self]
        return pd.DataFrame(cols)

    def summary(self) -> dict:
        """The numbers printed by ``python -m utils.data --summary``."""
        counts = self.elements()
        n_atoms = self._a["n_atoms"]
        iw = self._a["imaginary_weight"]
        return dict(
            version=self.version, source=self.source, n_materials=len(self), n_elements=len(counts),
            n_structure_types=len(set(self.structure_types.tolist())), split=self.split_sizes(),
            max_imaginary_weight=None if not np.isfinite(iw).any() else round(float(np.nanmax(iw)), 6),
            grid=dict(n=len(self.freq_cm1), min_cm1=float(self.freq_cm1[0]), max_cm1=float(self.freq_cm1[-1])),
            elements_with_ge5=sum(c >= 5 for c in counts.values()),
            **({"origin": dict(Counter(self._a["origin"].tolist()))} if "origin" in self._a else {}),
            atoms_per_cell=dict(min=int(n_atoms.min()), max=int(n_atoms.max())) if len(self) else None,
            sha256=self.sha256)


# ------------------------------------------------------------------------------------- versions.json
def _read_versions(data_dir: Path) -> dict:
    path = Path(data_dir) / VERSIONS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc}): re-checkout it (git checkout -- {path.name})") from None


def available_versions(data_dir: Path | str = DATA_DIR) -> list[str]:
    """Packed versions recorded in data/versions.json, oldest first."""
    return sorted(_read_versions(Path(data_dir)), key=_version_key)


def latest_version(data_dir: Path | str = DATA_DIR) -> str:
    """The highest recorded version ('v-latest')."""
    vs = available_versions(data_dir)
    if not vs:
        raise DataError(f"no packed dataset recorded in {Path(data_dir) / VERSIONS_FILE}: re-checkout data/ "
                        "or pack one with `python -m utils.data pack --version v0`")
    return vs[-1]


def _load_packed(prefix: str, version: str | None, data_dir: Path | str, source: str) -> PhononDataset:
    data_dir = Path(data_dir)
    versions = _read_versions(data_dir)
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
    sha = _sha256_bytes(data)
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
        return load_original(**original_kwargs)
    if source != "embedded":
        raise ValueError(f"unknown source {source!r}: use 'embedded' or 'original'")
    if original_kwargs:
        raise TypeError(f"unexpected arguments for the embedded set: {', '.join(original_kwargs)}")
    return _load_packed(MAIN_PREFIX, version, data_dir, "embedded")


def load_alloys(version: str | None = None, data_dir: Path | str = DATA_DIR) -> PhononDataset:
    """Alloy reference supercells (Mg3(Sb1−xBix)2, Si1−xGex) of a packed version; ``Material.x``/``series``."""
    return _load_packed(ALLOYS_PREFIX, version, data_dir, "embedded")


# --------------------------------------------------------------------------------------- packing
def iter_label_records(labels_dir: Path | str = LABELS_DIR) -> Iterator[tuple[str, dict]]:
    """Yield (kind, record) for every record: kind 'pending', 'failed', then 'shards' (shards/*.jsonl.gz).

    Same data as ``utils.datagen.runner.iter_records`` plus failed/, without importing it. Reading
    pending/ before listing shards/ is safe against a concurrent ``pack-shard`` (it writes the shard
    before deleting the pending files, so a record never disappears from both); duplicates are possible
    and are removed by the caller.
    """
    import gzip

    labels_dir = Path(labels_dir)
    for sub in ("pending", "failed"):
        for p in sorted((labels_dir / sub).glob("*.json")):
            try:
                text = p.read_text()
            except FileNotFoundError:          # moved into a shard meanwhile
                continue
            try:
                yield sub, json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"{p}: not valid JSON ({exc})") from None
    for shard in sorted((labels_dir / "shards").glob("*.jsonl.gz")):
        n = 0
        try:
            with gzip.open(shard, "rt") as fh:
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            yield "shards", json.loads(line)
                        except json.JSONDecodeError as exc:
                            raise DataError(f"{shard} line {n}: not valid JSON ({exc})") from None
        except (EOFError, OSError, UnicodeDecodeError) as exc:       # truncated or not gzip
            raise DataError(f"{shard}: unreadable after line {n} ({type(exc).__name__}: {exc}); the shard is "
                            "truncated or corrupt: restore it from git") from None


def _finite(x) -> bool:
    return bool(np.all(np.isfinite(x)))


def validate_record(rec: dict) -> str | None:
    """Why a stable record cannot be packed, or None if it is fine.

    Checks: structure (3×3 cell, Z in 1..118, (N,3) finite coordinates), 51-point DoS finite, ≥ 0 and
    max == 1, 1001-point fine DoS finite with ∫ = 3N within 2 %, per-element DoS for exactly the
    structure's elements summing to the fine DoS, finite imaginary weight and frequencies.
    """
    try:
        st = rec["structure"]
        cell = np.asarray(st["cell"], float)
        numbers = np.asarray(st["numbers"])
        frac = np.asarray(st["frac_coords"], float)
    except (KeyError, TypeError, ValueError) as exc:
        return f"structure missing or malformed ({exc})"
    if cell.shape != (3, 3) or not _finite(cell) or abs(np.linalg.det(cell)) < 1e-6:
        return "cell is not a finite non-singular 3×3 matrix"
    n = len(numbers)
    if n == 0 or numbers.ndim != 1 or frac.shape != (n, 3) or not _finite(frac):
        return "numbers / frac_coords shapes disagree or are not finite"
    if not np.issubdtype(numbers.dtype, np.integer) or numbers.min() < 1 or numbers.max() > 118:
        return f"atomic numbers outside 1..118: {sorted(set(numbers.tolist()))}"
    for key in ("imaginary_weight", "max_freq_cm1", "weight_above_1000_cm1"):
        v = rec.get(key)
        if not isinstance(v, (int, float)) or not np.isfinite(v):
            return f"{key} missing or not finite"
    try:
        dos = np.asarray(rec["dos"], float)
        fine = np.asarray(rec["fine_dos"], float)
        pdos = {k: np.asarray(v, float) for k, v in rec["fine_pdos"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"DoS missing or malformed ({exc})"
    if dos.shape != (len(FREQ_CM1),) or not _finite(dos):
        return f"dos has shape {dos.shape} (expected 51 finite values)"
    if dos.min() < -1e-9 or abs(dos.max() - 1.0) > 1e-6:
        return f"dos is not max-normalized (min {dos.min():.3g}, max {dos.max():.6g})"
    if fine.shape != (len(FINE_FREQ_CM1),) or not _finite(fine):
        return f"fine_dos has shape {fine.shape} (expected 1001 finite values)"
    integral = float(np.trapezoid(fine, FINE_FREQ_CM1))
    if abs(integral / (3 * n) - 1) > FINE_INTEGRAL_RTOL:
        return f"fine_dos integrates to {integral:.3f}, expected 3N = {3 * n} (±2 %)"
    els = {_SYMBOLS[int(z)] for z in numbers}
    if set(pdos) != els:
        return f"fine_pdos elements {sorted(pdos)} differ from the structure's {sorted(els)}"
    for el, v in pdos.items():
        if v.shape != fine.shape or not _finite(v):
            return f"fine_pdos[{el!r}] has shape {v.shape} or is not finite"
    if np.abs(sum(pdos.values()) - fine).max() > 1e-3 * max(fine.max(), 1e-12):
        return "fine_pdos does not sum to fine_dos"
    return None


def drop_rare_elements(recs: list[dict], min_materials: int = MIN_MATERIALS_PER_ELEMENT) -> tuple[list, list, list]:
    """Drop materials containing an element that occurs in fewer than `min_materials` materials, until none does.

    Removing a material can push another of its elements below the limit, hence the loop. Returns
    (kept records, dropped ids, dropped element symbols). A model cannot learn an element from 1–4 examples
    (and the split could not place it in every part), so the set promises every element in ≥ min_materials.
    """
    keep = [(r, {int(z) for z in r["structure"]["numbers"]}) for r in recs]   # (record, its elements)
    dropped_ids, dropped_els = [], set()
    while True:
        count = Counter(z for _, els in keep for z in els)
        rare = {z for z, c in count.items() if c < min_materials}
        if not rare:
            return ([r for r, _ in keep], sorted(dropped_ids),
                    sorted((_SYMBOLS[z] for z in dropped_els), key=lambda e: _Z[e]))
        dropped_els |= rare
        dropped_ids += [r["id"] for r, els in keep if rare & els]
        keep = [(r, els) for r, els in keep if not rare & els]


def _has_isolated_atom(structure: dict, r_max: float) -> bool:
    """True if some atom of a record's structure has no neighbour (periodic images included) within r_max (Å)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list
    atoms = Atoms(numbers=structure["numbers"], cell=structure["cell"], scaled_positions=structure["frac_coords"],
                  pbc=True)
    return len(set(neighbor_list("i", atoms, r_max).tolist())) < len(atoms)


def _reason_key(reason: str) -> str:
    """Failure reason with the numbers blanked, so that reasons of one kind tally together."""
    return re.sub(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", str(reason))[:200]


def _build_arrays(recs: list[dict], split: np.ndarray, alloys: bool) -> dict:
    n = len(recs)
    n_atoms = np.array([len(r["structure"]["numbers"]) for r in recs], np.int32)
    off = np.zeros(n + 1, np.int64)
    off[1:] = np.cumsum(n_atoms)
    pdos_rows, pdos_mat, pdos_z = [], [], []
    types, sgs = [], []
    for i, r in enumerate(recs):
        st = r["structure"]
        sg, label = classify_structure(st["cell"], st["frac_coords"], st["numbers"])
        sgs.append(sg)
        types.append(label)
        for el, v in sorted(r["fine_pdos"].items(), key=lambda kv: _Z[kv[0]]):
            pdos_rows.append(v)
            pdos_mat.append(i)
            pdos_z.append(_Z[el])
    sec = lambda k: np.array([float((r.get("seconds") or {}).get(k, np.nan)) for r in recs], np.float32)  # noqa: E731
    arr = dict(
        ids=np.array([r["id"] for r in recs], dtype=str),
        formulas=np.array([r.get("formula", "") for r in recs], dtype=str),
        prototypes=np.array([r.get("prototype", "") for r in recs], dtype=str),
        structure_types=np.array(types, dtype=str),
        spacegroup=np.array(sgs, np.int16),
        split=np.asarray(split, np.int8),
        cell=np.array([r["structure"]["cell"] for r in recs], np.float64).reshape(n, 3, 3),
        n_atoms=n_atoms,
        atom_offsets=off,
        numbers=np.concatenate([np.asarray(r["structure"]["numbers"], np.int16) for r in recs]),
        frac_coords=np.concatenate([np.asarray(r["structure"]["frac_coords"], np.float64).reshape(-1, 3)
                                    for r in recs]),
        dos=np.array([r["dos"] for r in recs], np.float32).reshape(n, len(FREQ_CM1)),
        fine_dos=np.array([r["fine_dos"] for r in recs], np.float32).reshape(n, len(FINE_FREQ_CM1)),
        pdos_values=np.array(pdos_rows, np.float32).reshape(-1, len(FINE_FREQ_CM1)),
        pdos_material=np.array(pdos_mat, np.int32),
        pdos_Z=np.array(pdos_z, np.int16),
        imaginary_weight=np.array([r["imaginary_weight"] for r in recs], np.float64),
        max_freq_cm1=np.array([r["max_freq_cm1"] for r in recs], np.float64),
        min_freq_cm1=np.array([r.get("min_freq_cm1", np.nan) for r in recs], np.float64),
        weight_above_1000_cm1=np.array([r["weight_above_1000_cm1"] for r in recs], np.float64),
        seconds_relax=sec("relax"), seconds_forces=sec("forces"), seconds_dos=sec("dos"),
        seconds_total=sec("total"),
        wall_s=np.array([float(r.get("wall_s", np.nan)) for r in recs], np.float32),
        label_device=np.array([str((r.get("provenance") or {}).get("device", "cpu")) for r in recs], dtype=str),
        freq_cm1=FREQ_CM1.copy(), fine_freq_cm1=FINE_FREQ_CM1.copy(),
    )
    if alloys:
        arr["x"] = np.array([float(r.get("x", np.nan)) for r in recs], np.float64)
        arr["series"] = np.array([str(r.get("series", "")) for r in recs], dtype=str)
    return arr


def _provenance_summary(recs: list[dict]) -> dict:
    provs = Counter(json.dumps(r.get("provenance") or {}, sort_keys=True) for r in recs)
    if not provs:
        return dict(labeller=None, versions={}, settings={})
    top = json.loads(provs.most_common(1)[0][0])
    out = dict(labeller=top.get("labeller"), versions=top.get("versions", {}), settings=top.get("settings", {}))
    if len(provs) > 1:
        out["provenance_variants"] = [dict(json.loads(p), n=c) for p, c in provs.most_common()]
    return out


def _set_meta(version: str, set_name: str, all_recs: list[dict], packed: list[dict], arrays: dict,
              invalid: Counter, invalid_ids: list, light_ids: list, n_duplicates: int, split_seed) -> dict:
    labelled = [r for r in all_recs if r.get("ok")]
    failed = [r for r in all_recs if not r.get("ok")]
    iw = np.array([float(r["imaginary_weight"]) for r in labelled
                   if isinstance(r.get("imaginary_weight"), (int, float))], float)
    qs = (0.0, 0.5, 0.9, 0.95, 0.99, 1.0)
    types = Counter(arrays["structure_types"].tolist())
    by_proto: dict = {}
    for p, t in zip(arrays["prototypes"].tolist(), arrays["structure_types"].tolist()):
        by_proto.setdefault(p, Counter())[t] += 1
    elements = Counter(_SYMBOLS[int(z)] for i in range(len(packed))
                       for z in np.unique(arrays["numbers"][arrays["atom_offsets"][i]:arrays["atom_offsets"][i + 1]]))
    split = arrays["split"]
    return dict(
        format_version=FORMAT_VERSION, version=version, set=set_name, created=_now_iso(),
        **_provenance_summary(packed or labelled),
        grids=dict(
            dos=dict(n=len(FREQ_CM1), min_cm1=0.0, max_cm1=1000.0, normalization="max = 1",
                     definition="np.linspace(0, 1000, 51)"),
            fine_dos=dict(n=len(FINE_FREQ_CM1), min_cm1=0.0, max_cm1=2000.0, step_cm1=2.0,
                          normalization="integral = 3N modes per cell (states per cm^-1 per cell)"),
            pdos="per element on the fine grid; the elements' rows sum to fine_dos"),
        counts=dict(records=len(all_recs) + n_duplicates, duplicates=n_duplicates, unique=len(all_recs),
                    labelled=len(labelled), failed=len(failed),
                    stable=sum(bool(r.get("stable")) for r in labelled),
                    unstable=sum(not r.get("stable") for r in labelled),
                    invalid=sum(invalid.values()), excluded_light=len(light_ids), packed=len(packed)),
        excluded=dict(
            light_modes_above_1000_cm1=dict(
                rule=f"weight_above_1000_cm1 > {LIGHT_MODE_LIMIT}: the 0–1000 cm^-1 target would miss more than "
                     f"{LIGHT_MODE_LIMIT:.0%} of the modes", count=len(light_ids), ids=sorted(light_ids)),
            invalid=dict(count=sum(invalid.values()), reasons=dict(invalid.most_common()), ids=sorted(invalid_ids))),
        imaginary_weight=dict(
            population="all labelled records of this set, stable and unstable", n=int(iw.size),
            quantiles={str(q): float(np.quantile(iw, q)) for q in qs} if iw.size else {},
            n_above_1pct=int((iw > 0.01).sum()), stability_rule="imaginary_weight <= 0.01 (modes below -10 cm^-1)"),
        failed=dict(n=len(failed),
                    reasons=dict(Counter(_reason_key(r.get("reason", "?")) for r in failed).most_common())),
        structure_types=dict(n=len(types),
                             classifier=f"spglib space group + sorted Wyckoff letters (symprec {SYMPREC})",
                             counts=dict(types.most_common()),
                             by_prototype={p: dict(c) for p, c in sorted(by_proto.items())},
                             prototypes_with_several_types=sorted(p for p, c in by_proto.items() if len(c) > 1)),
        elements=dict(sorted(elements.items(), key=lambda kv: _Z[kv[0]])),
        split=dict(names=list(SPLIT_NAMES), codes=list(range(len(SPLIT_NAMES))), fractions=list(SPLIT_FRACTIONS), seed=split_seed,
                   method="element_balanced_split (greedy proportional apportionment, rarest element first, "
                          "then balance-repairing swaps)"
                   if set_name == "main" else "alloys are never trained on: all in 'test'",
                   sizes={n: int((split == s).sum()) for s, n in enumerate(SPLIT_NAMES)},
                   balance_rule=f"every element with >= {BALANCE_MIN_COUNT} materials within "
                                f"±{BALANCE_TOL:.0%} of the overall share in each split"),
    )


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _apply_v2_rules(stable: list[dict], recs: list[dict], labels_dir: Path, benchmark_file) -> tuple[list, dict]:
    """Dataset v2's filters on the stable, valid records of set 'main' (see :mod:`utils.datagen.filters`).

    Drops: modes below −30 cm⁻¹; substituted candidates above the hull cut; records without an energy; a second
    copy of one crystal (same formula and structure type: the known one, else the first id, is kept). Fixes the split
    of benchmark members (3) and of every other polymorph of a member's composition (test, 2).
    """
    from .datagen.benchmark import MEMBERSHIP, read_membership
    from .datagen.filters import MAX_E_HULL_EV, dynamically_stable, ground_states, hull_energies
    from .datagen.runner import stored_energies

    ref_path = labels_dir / "references.json"
    if not ref_path.exists():
        raise DataError(f"{ref_path} is missing: dataset v2 needs elemental reference energies for the convex hull; "
                        "run `python -m utils.datagen references` first")
    refs = {el: float(v["energy_per_atom_eV"]) for el, v in json.loads(ref_path.read_text()).items()}
    energies = stored_energies(labels_dir)
    labelled = [r for r in recs if r.get("ok") and r.get("structure")]
    for r in labelled:   # a labelled elemental crystal is a reference too (the lowest energy per element wins)
        zs = set(r["structure"]["numbers"])
        if len(zs) == 1 and r["id"] in energies:
            el = _SYMBOLS[int(zs.pop())]
            refs[el] = min(refs.get(el, np.inf), energies[r["id"]])
    ehull = hull_energies(labelled, energies, refs)
    gs = ground_states(labelled, energies)
    members, member_sha = read_membership(benchmark_file or MEMBERSHIP)
    member_ids = {m["id"] for m in members}
    member_formulas = {m["formula"] for m in members}
    drop = Counter()
    drop_ids: dict[str, list] = {}
    kept = []
    fmin = np.array([float(r.get("min_freq_cm1", np.nan)) for r in stable])
    for r in stable:
        reason = None
        if not dynamically_stable(r):
            reason = "mode_below_-30_cm1"
        elif r["id"] not in ehull:
            reason = "no_energy_or_reference"
        elif r.get("origin", "substituted") != "known" and ehull[r["id"]] > MAX_E_HULL_EV:
            reason = "above_hull"
        if reason:
            drop[reason] += 1
            drop_ids.setdefault(reason, []).append(r["id"])
        else:
            kept.append(r)
    # one copy per crystal: the known one first, then by id
    by_key: dict = {}
    for r in sorted(kept, key=lambda r: (r.get("origin") != "known", r["id"])):
        st = r["structure"]
        key = (r.get("formula") or "", classify_structure(st["cell"], st["frac_coords"], st["numbers"])[1])
        if key in by_key:
            drop["duplicate_crystal"] += 1
            drop_ids.setdefault("duplicate_crystal", []).append(r["id"])
            continue
        by_key[key] = r
    kept = sorted(by_key.values(), key=lambda r: r["id"])
    fixed = {}
    for r in kept:
        if r["id"] in member_ids:
            fixed[r["id"]] = 3
        elif r.get("formula") in member_formulas:
            fixed[r["id"]] = 2
    eh = np.array([ehull[r["id"]] for r in kept])
    meta = dict(
        rules=dict(stability="imaginary_weight <= 0.01 and min_freq_cm1 >= -30 (utils.datagen.filters)",
                   hull=f"substituted candidates with E_hull > {MAX_E_HULL_EV} eV/atom dropped (Sun et al. 2016); "
                        "hull over the labelled pool + elemental references, same potential",
                   duplicates="one record per (formula, structure type); known crystals win"),
        counts={f"excluded_{k}": v for k, v in drop.items()},
        excluded_ids={k: sorted(v) for k, v in drop_ids.items()},
        min_freq_cm1_quantiles_of_stable={str(q): float(np.nanquantile(fmin, q)) for q in (0, 0.01, 0.05, 0.5)}
        if fmin.size else {},
        e_above_hull_quantiles={str(q): float(np.quantile(eh, q)) for q in (0.5, 0.9, 0.99, 1.0)} if eh.size else {},
        benchmark=dict(file=Path(benchmark_file or MEMBERSHIP).name, sha256=member_sha, n_members=len(members),
                       n_packed=sum(v == 3 for v in fixed.values()),
                       missing=sorted(m["name"] for m in members if m["id"] not in {r["id"] for r in kept}),
                       polymorphs_moved_to_test=sum(v == 2 for v in fixed.values())),
        origin={o: sum(r.get("origin", "substituted") == o for r in kept) for o in ("known", "substituted")})
    return kept, dict(fixed_split=fixed, ehull=ehull, energies=energies, ground=gs, meta=meta)


def _add_v2_arrays(arrays: dict, recs: list[dict], v2: dict) -> None:
    arrays["origin"] = np.array([r.get("origin", "substituted") for r in recs], dtype=str)
    arrays["source"] = np.array([r.get("source", "substitution") for r in recs], dtype=str)
    arrays["names"] = np.array([r.get("name", "") for r in recs], dtype=str)
    arrays["bond_class"] = np.array([r.get("bond_class", "") for r in recs], dtype=str)
    arrays["energy_per_atom_eV"] = np.array([v2["energies"].get(r["id"], np.nan) for r in recs], np.float64)
    arrays["e_above_hull_eV"] = np.array([v2["ehull"].get(r["id"], np.nan) for r in recs], np.float64)
    arrays["ground_state"] = np.array([r["id"] in v2["ground"] for r in recs], bool)


def pack(version: str, labels_dir: Path | str = LABELS_DIR, out_dir: Path | str = DATA_DIR, seed: int = 0,
         force: bool = False, min_materials_per_element: int = MIN_MATERIALS_PER_ELEMENT,
         benchmark_file: Path | str | None = None, rules: str = "v1") -> dict:
    """Pack labelled records into ``<out_dir>/phonon_dos_<version>.npz`` (+ ``alloys_<version>.npz``).

    Collects stable records of set 'main' (deduplicated by id; a shard's copy wins over pending/), drops invalid ones
    (:func:`validate_record`, tallied in the metadata) and those with more than 5 % of their modes above
    1000 cm⁻¹ (outside the target grid; counted), assigns an element-balanced split, and writes one
    compressed npz atomically (temp file + ``os.replace``). Alloys (set 'alloys') go to their own file,
    all in split 'test'. The sha256 of each file is recorded in ``<out_dir>/versions.json``.

    Args:
        version: 'v0', 'v1', …; an existing version is only overwritten with ``force=True``.
        labels_dir: the labelling output (pending/, failed/, shards/).
        out_dir: where the npz files and versions.json go.
        seed: split seed.
        min_materials_per_element: drop materials with an element found in fewer materials
            (:func:`drop_rare_elements`; 1 keeps all).
        benchmark_file: the known-crystal benchmark membership (rules 'v2'; default data/benchmark_known.json).
        rules: 'v1' (stable = imaginary weight ≤ 1 %) or 'v2' (:func:`_apply_v2_rules`: modes ≥ −30 cm⁻¹, the hull
            cut for substituted candidates, one copy per crystal, the benchmark split).
    Returns:
        dict with the written files, their sha256, counts and timings.
    """
    import time

    t0 = time.perf_counter()
    _version_key(version)
    out_dir = Path(out_dir)
    versions = _read_versions(out_dir)
    if version in versions and not force:
        raise DataError(f"{version} is already packed (see {out_dir / VERSIONS_FILE}); pick a new version "
                        "or pass force=True (--force) to overwrite it")
    unique: dict[str, tuple[int, dict]] = {}
    n_dup = Counter()
    for origin, rec in iter_label_records(labels_dir):
        rid = rec.get("id")
        if not rid:
            continue
        # a successful record wins over a failed one (a material labelled again with --retry-failed), then the
        # committed shard copy over pending/, then the first shard
        rank = (0 if rec.get("ok") else 2) + (0 if origin == "shards" else 1)
        if rid in unique:
            n_dup[rec.get("set", "main")] += 1
            if rank >= unique[rid][0]:
                continue
        unique[rid] = (rank, rec)
    unique = {k: v[1] for k, v in unique.items()}
    if not unique:
        raise DataError(f"no records under {labels_dir} (pending/, failed/, shards/): run the labelling first")
    out = dict(version=version, files={}, counts={})
    entry = dict()
    for set_name, prefix in (("main", MAIN_PREFIX), ("alloys", ALLOYS_PREFIX)):
        recs = [r for r in unique.values() if r.get("set", "main") == set_name]
        stable = [r for r in recs if r.get("ok") and r.get("stable")]
        invalid, invalid_ids, light_ids, isolated_ids, keep = Counter(), [], [], [], []
        for r in stable:
            why = validate_record(r)
            if why is not None:
                invalid[_reason_key(why)] += 1
                invalid_ids.append(r["id"])
            elif r["weight_above_1000_cm1"] > LIGHT_MODE_LIMIT:
                light_ids.append(r["id"])
            elif _has_isolated_atom(r["structure"], GRAPH_R_MAX):
                isolated_ids.append(r["id"])
            else:
                keep.append(r)
        if not keep:
            if set_name == "main":
                raise DataError(f"no packable stable records of set 'main' under {labels_dir} "
                                f"({len(recs)} records, {len(stable)} stable, {sum(invalid.values())} invalid, "
                                f"{len(light_ids)} light-element exclusions"
                                + (f"; invalid because: {dict(invalid.most_common(3))}" if invalid else "") + ")")
            continue
        keep.sort(key=lambda r: r["id"])
        rare_ids, rare_els = [], []
        v2 = None
        if rules not in ("v1", "v2"):
            raise DataError(f"unknown packing rules {rules!r}: use 'v1' or 'v2'")
        if set_name == "main" and rules == "v2":
            keep, v2 = _apply_v2_rules(keep, recs, Path(labels_dir), benchmark_file)
        if set_name == "main":
            keep, rare_ids, rare_els = drop_rare_elements(keep, min_materials_per_element)
            if not keep:
                raise DataError(f"every stable material under {labels_dir} contains an element found in fewer than "
                                f"{min_materials_per_element} materials ({', '.join(rare_els)}): label more "
                                "materials with these elements, or pack with min_materials_per_element=1 "
                                "(--min-per-element 1) to keep them")
            els = [{int(z) for z in r["structure"]["numbers"]} for r in keep]
            fixed = np.array([v2["fixed_split"].get(r["id"], -1) if v2 else -1 for r in keep], np.int8)
            free = np.flatnonzero(fixed < 0)
            split = fixed.copy()
            sub, split_seed = _balanced_split_checked([els[i] for i in free], seed)
            split[free] = sub
        else:
            split, split_seed = np.full(len(keep), 2, np.int8), None
        arrays = _build_arrays(keep, split, alloys=set_name == "alloys")
        if v2:
            _add_v2_arrays(arrays, keep, v2)
        meta = _set_meta(version, set_name, recs, keep, arrays, invalid, invalid_ids, light_ids,
                         n_dup[set_name], split_seed)
        meta["counts"]["excluded_isolated"] = len(isolated_ids)
        meta["excluded"]["isolated_at_r_max"] = dict(
            rule=f"an atom without any neighbour within r_max = {GRAPH_R_MAX} Å (the series' graph cutoff)",
            count=len(isolated_ids), ids=sorted(isolated_ids))
        if v2:
            meta["v2"] = v2["meta"]
            meta["counts"].update(v2["meta"]["counts"])
        meta["counts"]["excluded_rare"] = len(rare_ids)
        meta["excluded"]["rare_elements"] = dict(
            rule=f"contains an element found in fewer than {min_materials_per_element} materials (repeated until "
                 "none is)", count=len(rare_ids), ids=rare_ids, elements=rare_els)
        arrays["meta_json"] = np.array(json.dumps(meta))
        data = _npz_bytes(arrays)
        fname = f"{prefix}_{version}.npz"
        atomic_write_bytes(out_dir / fname, data)
        sha = _sha256_bytes(data)
        entry[fname] = sha
        out["files"][fname] = dict(sha256=sha, bytes=len(data), n_materials=len(keep))
        out["counts"][set_name] = meta["counts"]
    entry["n_materials"] = out["files"][f"{MAIN_PREFIX}_{version}.npz"]["n_materials"]
    entry["n_alloys"] = out["files"].get(f"{ALLOYS_PREFIX}_{version}.npz", {}).get("n_materials", 0)
    entry["created"] = _now_iso()
    versions = _read_versions(out_dir)
    versions[version] = entry
    atomic_write_json(path=out_dir / VERSIONS_FILE, obj={v: versions[v] for v in sorted(versions, key=_version_key)})
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


# ------------------------------------------------------------------------------ the original data
def _unavailable_hint() -> str:
    return ("The embedded dataset needs no network: use load_dataset() (source='embedded') instead.")


def _check_cached(path: Path, sidecar: Path, url: str, expected: str | None, git_blob: str | None = None) -> str:
    sha = _sha256_file(path)
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
                                         recorded=_now_iso()))
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
    sha = _sha256_file(part)
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
                                         recorded=_now_iso()))
    return path, sha


def _resample(freq: np.ndarray, dos: np.ndarray) -> np.ndarray:
    if len(freq) == len(FREQ_CM1) and np.allclose(freq, FREQ_CM1, atol=1e-6):
        return dos.astype(float)
    return np.interp(FREQ_CM1, freq, dos, left=0.0, right=0.0)


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
    ids, cells, numbers, fracs, doss = [], [], [], [], []
    for i, row in enumerate(df[list(ORIGINAL_COLUMNS)].itertuples(index=False), 1):
        mp_id = row.mp_id.strip() or f"row{i}"

        def where(col, _i=i, _id=mp_id):
            return f"{path.name} row {_i} (mp_id {_id!r}), column {col!r}"

        st = parse_literal(row.structure, where("structure"))
        if not isinstance(st, dict) or not {"numbers", "positions", "cell"} <= set(st):
            raise ParseError(f"{where('structure')}: expected an ase Atoms.todict() dict with numbers, "
                             f"positions and cell, got {str(row.structure)[:60]!r}")
        try:
            z = np.asarray(st["numbers"]).astype(int).reshape(-1)
            pos = np.asarray(st["positions"], float).reshape(len(z), 3)
            cell = np.asarray(st["cell"], float).reshape(3, 3)
        except (ValueError, TypeError) as exc:
            raise ParseError(f"{where('structure')}: bad numbers/positions/cell ({exc})") from None
        if len(z) == 0 or z.min() < 1 or z.max() > 118 or not _finite(pos) or not _finite(cell) \
                or abs(np.linalg.det(cell)) < 1e-6:
            raise ParseError(f"{where('structure')}: atomic numbers outside 1..118, non-finite positions or "
                             "singular cell")
        freq = parse_literal(row.phfreq, where("phfreq"))
        dos = parse_literal(row.phdos, where("phdos"))
        pdos = parse_literal(row.pdos, where("pdos"))
        try:
            freq = np.asarray(freq, float)
            dos = np.asarray(dos, float)
        except (ValueError, TypeError):
            raise ParseError(f"{where('phfreq/phdos')}: not lists of numbers") from None
        if freq.ndim != 1 or len(freq) < 2 or not _finite(freq) or np.any(np.diff(freq) <= 0):
            raise ParseError(f"{where('phfreq')}: expected an increasing list of frequencies, got {len(freq)} values")
        if dos.shape != freq.shape or not _finite(dos):
            raise ParseError(f"{where('phdos')}: {dos.size} values for {len(freq)} frequencies (or not finite)")
        if not isinstance(pdos, dict):
            raise ParseError(f"{where('pdos')}: expected a dict element → list")
        for el, v in pdos.items():
            if np.asarray(v).shape != freq.shape:
                raise ParseError(f"{where('pdos')}: element {el!r} has {np.asarray(v).size} values for "
                                 f"{len(freq)} frequencies")
        d = _resample(freq, dos)
        if d.max() <= 0:
            raise ParseError(f"{where('phdos')}: no positive DoS on 0–1000 cm^-1")
        ids.append(mp_id)
        cells.append(cell)
        numbers.append(z)
        fracs.append(np.linalg.solve(cell.T, pos.T).T)
        doss.append(d / d.max())
    from pymatgen.core import Composition

    n = len(ids)
    n_atoms = np.array([len(z) for z in numbers], np.int32)
    off = np.zeros(n + 1, np.int64)
    off[1:] = np.cumsum(n_atoms)
    types = [classify_structure(c, f, z) for c, f, z in zip(cells, fracs, numbers)]
    nan = np.full(n, np.nan)
    return dict(
        ids=np.array(ids, dtype=str),
        formulas=np.array([Composition(dict(Counter(_SYMBOLS[int(q)] for q in z))).reduced_formula
                           for z in numbers], dtype=str),
        prototypes=np.array([""] * n, dtype=str), structure_types=np.array([t[1] for t in types], dtype=str),
        spacegroup=np.array([t[0] for t in types], np.int16),
        cell=np.array(cells).reshape(n, 3, 3), n_atoms=n_atoms, atom_offsets=off,
        numbers=np.concatenate(numbers).astype(np.int16), frac_coords=np.concatenate(fracs).reshape(-1, 3),
        dos=np.array(doss, np.float32), imaginary_weight=nan, max_freq_cm1=nan.copy(),
        freq_cm1=FREQ_CM1.copy(),
    )


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
    return _original_dataset(_parse_original_arrays(path), path, sha256 or _sha256_file(path), url, seed)


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
        atomic_write_bytes(parsed, _npz_bytes(dict(arrays, cache_key=np.array(key))))
    return _original_dataset(arrays, path, sha, url, seed)


# ----------------------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m utils.data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", action="store_true", help="print one JSON line about a packed version")
    parser.add_argument("--version", dest="summary_version", default=None,
                        help="version for --summary (default: latest)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("pack", help="pack labelled records into data/phonon_dos_<version>.npz")
    p.add_argument("--version", required=True)
    p.add_argument("--labels-dir", type=Path, default=LABELS_DIR)
    p.add_argument("--out-dir", type=Path, default=None, help="default: --data-dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite an existing version")
    p.add_argument("--rules", choices=["v1", "v2"], default="v1",
                   help="v2: stricter stability, hull cut, duplicates, known-crystal benchmark split")
    p.add_argument("--min-per-element", type=int, default=MIN_MATERIALS_PER_ELEMENT,
                   help="drop materials with an element found in fewer materials (default %(default)s; 1 keeps all)")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "pack":
            res = pack(args.version, labels_dir=args.labels_dir, out_dir=args.out_dir or args.data_dir,
                       seed=args.seed, force=args.force, min_materials_per_element=args.min_per_element,
                       rules=args.rules)
            print(json.dumps(res))
            return 0
        if args.summary:
            print(json.dumps(load_dataset(args.summary_version, data_dir=args.data_dir).summary()))
            return 0
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())


# ----------------------------------------------------------------------------------- your own data
USER_FORMAT_DOC = """\
Your own data for `python -m utils.train --data my.json`: one JSON object
    {"materials": [
        {"id": "mp-149",                                   # any unique string
         "structure": {"cell": [[..3..], [..3..], [..3..]],   # Å, rows are lattice vectors
                       "species": ["Si", "Si"],              # or "numbers": [14, 14]
                       "frac_coords": [[0, 0, 0], [0.25, 0.25, 0.25]]},
         #   … or instead of "structure": "cif": "<the text of a CIF file>"
         "freq_cm1": [0, 5, 10, ...],                      # any increasing grid, cm^-1
         "dos": [0.0, 0.01, ...],                          # same length, any normalization
         "split": "train"}                                 # optional: train | valid | test
    ]}
Each DoS is resampled (linear interpolation, 0 outside its grid) onto the model's 51-point 0–1000 cm^-1 grid
and max-normalized. Materials without "split" get an element-balanced one (seed 0)."""


def load_user_dataset(path: Path | str, seed: int = 0) -> PhononDataset:
    """Read your own structures + DoS (format: ``USER_FORMAT_DOC``) into a :class:`PhononDataset`.

    Raises ``ParseError`` naming the file, the material (index and id) and the problem.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{path}: not a readable JSON file ({exc})") from None
    items = doc.get("materials") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise ParseError(f"{path}: expected an object with a non-empty list 'materials' (see utils.data.USER_FORMAT_DOC)")
    ids, cells, numbers, fracs, doss, given = [], [], [], [], [], []
    for k, item in enumerate(items):
        where = f"{path.name} material {k} ({item.get('id', '?')!r})" if isinstance(item, dict) else f"{path.name} material {k}"
        try:
            cell, z, frac = _user_structure(item)
            freq = np.asarray(item["freq_cm1"], float)
            dos = np.asarray(item["dos"], float)
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(f"{where}: {exc.__class__.__name__}: {exc} (see utils.data.USER_FORMAT_DOC)") from None
        if freq.ndim != 1 or len(freq) < 2 or not _finite(freq) or np.any(np.diff(freq) <= 0):
            raise ParseError(f"{where}: freq_cm1 must be an increasing list of ≥ 2 finite numbers")
        if dos.shape != freq.shape or not _finite(dos) or dos.min() < 0:
            raise ParseError(f"{where}: dos has {dos.size} values for {freq.size} frequencies, or is negative/not finite")
        d = _resample(freq, dos)
        if d.max() <= 0:
            raise ParseError(f"{where}: no positive DoS between 0 and 1000 cm^-1")
        ids.append(str(item.get("id", f"material-{k}")))
        cells.append(cell), numbers.append(z), fracs.append(frac), doss.append(d / d.max())
        given.append(item.get("split"))
    if len(set(ids)) != len(ids):
        raise ParseError(f"{path}: material ids are not unique")
    n = len(ids)
    n_atoms = np.array([len(z) for z in numbers], np.int32)
    off = np.zeros(n + 1, np.int64)
    off[1:] = np.cumsum(n_atoms)
    if all(g is None for g in given):
        split = element_balanced_split([set(z.tolist()) for z in numbers], seed=seed) if n >= 10 else \
            np.array([0] * max(n - 2, 1) + [1, 2][: n - max(n - 2, 1)], np.int8)
    else:
        bad = [g for g in given if g not in SPLIT_NAMES]
        if bad:
            raise ParseError(f"{path}: split must be one of {list(SPLIT_NAMES)} for every material (found {bad[0]!r})")
        split = np.array([SPLIT_NAMES.index(g) for g in given], np.int8)
    nan = np.full(n, np.nan)
    arrays = dict(
        ids=np.array(ids, dtype=str), formulas=np.array([_formula(z) for z in numbers], dtype=str),
        prototypes=np.array([""] * n, dtype=str), structure_types=np.array([""] * n, dtype=str),
        spacegroup=np.zeros(n, np.int16), cell=np.array(cells).reshape(n, 3, 3), n_atoms=n_atoms,
        atom_offsets=off, numbers=np.concatenate(numbers).astype(np.int16),
        frac_coords=np.concatenate(fracs).reshape(-1, 3), dos=np.array(doss, np.float32), imaginary_weight=nan,
        max_freq_cm1=nan.copy(), freq_cm1=FREQ_CM1.copy(), split=np.asarray(split, np.int8),
        meta_json=np.array(json.dumps(dict(format_version=FORMAT_VERSION, version="user", set="user",
                                           file=path.name, counts=dict(packed=n)))))
    return PhononDataset(arrays, version="user", sha256=_sha256_file(path), path=path, source="user")


def _formula(z) -> str:
    from pymatgen.core import Composition
    return Composition(dict(Counter(_SYMBOLS[int(q)] for q in z))).reduced_formula


def _user_structure(item: dict):
    """(cell (3,3) Å, numbers (n,), frac (n,3)) from a user item's 'structure' dict or 'cif' text."""
    if "cif" in item:
        from pymatgen.io.cif import CifParser
        s = CifParser.from_str(item["cif"]).parse_structures(primitive=False)[0]
        if not s.is_ordered:
            raise ValueError("partially occupied sites are not supported for training data")
        return s.lattice.matrix, np.array(s.atomic_numbers), s.frac_coords
    st = item["structure"]
    cell = np.asarray(st["cell"], float).reshape(3, 3)
    z = np.array([_Z[s] for s in st["species"]]) if "species" in st else np.asarray(st["numbers"], int)
    frac = np.asarray(st["frac_coords"], float).reshape(len(z), 3)
    if not _finite(cell) or abs(np.linalg.det(cell)) < 1e-6 or not _finite(frac):
        raise ValueError("cell is singular or coordinates are not finite")
    if len(z) == 0 or z.min() < 1 or z.max() > 118:
        raise ValueError("atomic numbers must lie in 1..118")
    return cell, z, frac
