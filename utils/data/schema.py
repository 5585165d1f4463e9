"""What a material of the dataset is, checked in one place: every importer (the packer of labelled records, the
original tutorial's CSV, your own JSON) validates structures and spectra here and builds its arrays here.

* :func:`check_structure` — cell (3×3, finite, non-singular), atomic numbers (integers in 1..118), coordinates
  ((N, 3), finite); raises :class:`~utils.data.errors.InvalidMaterial` naming the part that failed;
* :func:`check_spectrum` — a DoS on its own grid (increasing, finite, same length; optionally ≥ 0);
* :func:`to_target_grid` — resample onto the 51-point target grid (``FREQ_CM1``) and max-normalize;
* :func:`validate_record` — a labelled record (structure + 51-point, fine and per-element DoS) for the packer;
* :func:`material_arrays` — the arrays every :class:`~utils.data.dataset.PhononDataset` holds, from per-material lists;
* :func:`classify_structure` — the species-agnostic structure type (spglib space group + Wyckoff letters).

The rules a packed version promises (``LIGHT_MODE_LIMIT``, ``GRAPH_R_MAX``, ``FINE_INTEGRAL_RTOL``) are here too;
the packer (``utils.datagen.pack``) applies them.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..spectra import FINE_FREQ_CM1, FREQ_CM1
from ..elements import symbol
from .errors import InvalidMaterial

__all__ = ["SYMPREC", "LIGHT_MODE_LIMIT", "GRAPH_R_MAX", "FINE_INTEGRAL_RTOL", "finite", "check_structure",
           "check_spectrum", "to_target_grid", "validate_record", "material_arrays", "classify_structure",
           "reduced_formula"]

SYMPREC = 1e-3
LIGHT_MODE_LIMIT = 0.05      # exclude materials with > 5 % of their modes above 1000 cm⁻¹ (outside the target)
GRAPH_R_MAX = 4.0            # Å: the series' graph cutoff; a material with an atom that has no neighbour within it
                             # (e.g. bcc Cs, nearest neighbour 5.0 Å) cannot be a graph at r_max = 4 Å: excluded
FINE_INTEGRAL_RTOL = 0.02    # the fine DoS must integrate to 3N within 2 %


def finite(x) -> bool:
    """True when every value of ``x`` is finite."""
    return bool(np.all(np.isfinite(x)))


def check_structure(cell, numbers, coords, coords_name: str = "frac_coords"):
    """(cell (3, 3) float, numbers (N,) int, coords (N, 3) float) after checking them; else InvalidMaterial.

    Fails on: a cell that is not a finite non-singular 3×3 matrix (|det| < 10⁻⁶ Å³); no atoms, or atomic numbers
    that are not integers in 1..118; coordinates whose shape is not (N, 3) or that are not finite. ``coords`` may be
    fractional or Cartesian (``coords_name`` names them in the message).

    >>> check_structure(np.eye(3) * 4, [11, 17], [[0, 0, 0], [.5, .5, .5]])[1].tolist()
    [11, 17]
    >>> check_structure(np.eye(3), [0, 17], [[0, 0, 0], [.5, .5, .5]])
    Traceback (most recent call last):
    ...
    utils.data.errors.InvalidMaterial: atomic numbers outside 1..118: [0, 17]
    """
    try:
        cell = np.asarray(cell, float)
    except (TypeError, ValueError) as exc:
        raise InvalidMaterial("cell", f"cell is not a 3×3 matrix of numbers ({exc})") from None
    if cell.shape != (3, 3) or not finite(cell) or abs(np.linalg.det(cell)) < 1e-6:
        raise InvalidMaterial("cell", "cell is not a finite non-singular 3×3 matrix")
    numbers = np.asarray(numbers)
    try:
        coords = np.asarray(coords, float)
    except (TypeError, ValueError) as exc:
        raise InvalidMaterial("coords", f"{coords_name} are not numbers ({exc})") from None
    n = len(numbers) if numbers.ndim == 1 else 0
    if n == 0 or coords.shape != (n, 3) or not finite(coords):
        raise InvalidMaterial("coords", f"numbers / {coords_name} shapes disagree or are not finite")
    if not np.issubdtype(numbers.dtype, np.integer):
        raise InvalidMaterial("numbers", f"atomic numbers are not integers (1..118): {numbers.tolist()[:10]}")
    if numbers.min() < 1 or numbers.max() > 118:
        raise InvalidMaterial("numbers", f"atomic numbers outside 1..118: {sorted(set(numbers.tolist()))}")
    return cell, numbers, coords


def check_spectrum(freq_cm1, dos, nonnegative: bool = True):
    """(freq (n,), dos (n,)) as float arrays after checking them; else InvalidMaterial ('freq' or 'dos').

    freq: an increasing list of ≥ 2 finite frequencies (cm⁻¹); dos: as many finite values, ≥ 0 unless
    ``nonnegative=False`` (the original tutorial's file is taken as published).
    """
    try:
        freq = np.asarray(freq_cm1, float)
    except (TypeError, ValueError):
        raise InvalidMaterial("freq", "frequencies are not a list of numbers") from None
    if freq.ndim != 1 or len(freq) < 2 or not finite(freq) or np.any(np.diff(freq) <= 0):
        raise InvalidMaterial("freq", f"expected an increasing list of ≥ 2 finite frequencies, got {freq.size} values")
    try:
        dos = np.asarray(dos, float)
    except (TypeError, ValueError):
        raise InvalidMaterial("dos", "the DoS is not a list of numbers") from None
    if dos.shape != freq.shape or not finite(dos) or (nonnegative and dos.min() < 0):
        raise InvalidMaterial("dos", f"{dos.size} values for {freq.size} frequencies, or not finite"
                                     + (" or negative" if nonnegative else ""))
    return freq, dos


def to_target_grid(freq_cm1: np.ndarray, dos: np.ndarray) -> np.ndarray:
    """The DoS on the 51-point 0–1000 cm⁻¹ target grid (linear interpolation, 0 outside its own grid), max = 1.

    Raises InvalidMaterial('dos') if nothing positive is left on 0–1000 cm⁻¹.
    """
    if len(freq_cm1) == len(FREQ_CM1) and np.allclose(freq_cm1, FREQ_CM1, atol=1e-6):
        d = np.asarray(dos, float)
    else:
        d = np.interp(FREQ_CM1, freq_cm1, dos, left=0.0, right=0.0)
    if d.max() <= 0:
        raise InvalidMaterial("dos", "no positive DoS between 0 and 1000 cm^-1")
    return d / d.max()


def validate_record(rec: dict) -> str | None:
    """Why a stable labelled record cannot be packed, or None if it is fine.

    Checks: structure (:func:`check_structure` on its cell, numbers and frac_coords), 51-point DoS finite, ≥ 0 and
    max == 1, 1001-point fine DoS finite with ∫ = 3N within 2 %, per-element DoS for exactly the
    structure's elements summing to the fine DoS, finite imaginary weight and frequencies.
    """
    try:
        st = rec["structure"]
        cell, numbers, frac = st["cell"], st["numbers"], st["frac_coords"]
        numbers = np.asarray(numbers)
        np.asarray(cell, float), np.asarray(frac, float)
    except (KeyError, TypeError, ValueError) as exc:
        return f"structure missing or malformed ({exc})"
    try:
        check_structure(cell, numbers, frac)
    except InvalidMaterial as exc:
        return str(exc)
    n = len(numbers)
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
    if dos.shape != (len(FREQ_CM1),) or not finite(dos):
        return f"dos has shape {dos.shape} (expected 51 finite values)"
    if dos.min() < -1e-9 or abs(dos.max() - 1.0) > 1e-6:
        return f"dos is not max-normalized (min {dos.min():.3g}, max {dos.max():.6g})"
    if fine.shape != (len(FINE_FREQ_CM1),) or not finite(fine):
        return f"fine_dos has shape {fine.shape} (expected 1001 finite values)"
    integral = float(np.trapezoid(fine, FINE_FREQ_CM1))
    if abs(integral / (3 * n) - 1) > FINE_INTEGRAL_RTOL:
        return f"fine_dos integrates to {integral:.3f}, expected 3N = {3 * n} (±2 %)"
    els = {symbol(z) for z in numbers}
    if set(pdos) != els:
        return f"fine_pdos elements {sorted(pdos)} differ from the structure's {sorted(els)}"
    for el, v in pdos.items():
        if v.shape != fine.shape or not finite(v):
            return f"fine_pdos[{el!r}] has shape {v.shape} or is not finite"
    if np.abs(sum(pdos.values()) - fine).max() > 1e-3 * max(fine.max(), 1e-12):
        return "fine_pdos does not sum to fine_dos"
    return None


def reduced_formula(numbers) -> str:
    """pymatgen's reduced formula of a list of atomic numbers ([11, 17, 11, 17] → 'NaCl')."""
    from pymatgen.core import Composition
    return Composition(dict(Counter(symbol(q) for q in numbers))).reduced_formula


def material_arrays(ids, cells, numbers, frac_coords, dos, *, formulas=None, prototypes=None, structure_types=None,
                    spacegroups=None, split=None, **more) -> dict:
    """The arrays of a :class:`~utils.data.dataset.PhononDataset` (module docstring of ``utils.data``), in the
    packed file's order, from per-material lists (of checked structures and 51-point DoS).

    Args:
        ids, cells, numbers, frac_coords, dos: one entry per material (``numbers``/``frac_coords`` per atom).
        formulas: default: :func:`reduced_formula` of each material; prototypes: default ''.
        structure_types, spacegroups: default: :func:`classify_structure` of each material.
        split: split codes (placed after ``spacegroup``), or None to add later.
        more: further arrays, appended in the given order (e.g. ``fine_dos``, ``imaginary_weight``).
    """
    n = len(ids)
    if structure_types is None or spacegroups is None:
        types = [classify_structure(c, f, z) for c, f, z in zip(cells, frac_coords, numbers)]
        spacegroups = [t[0] for t in types] if spacegroups is None else spacegroups
        structure_types = [t[1] for t in types] if structure_types is None else structure_types
    n_atoms = np.array([len(z) for z in numbers], np.int32)
    off = np.zeros(n + 1, np.int64)
    off[1:] = np.cumsum(n_atoms)
    out = dict(
        ids=np.array(ids, dtype=str),
        formulas=np.array([reduced_formula(z) for z in numbers] if formulas is None else formulas, dtype=str),
        prototypes=np.array([""] * n if prototypes is None else prototypes, dtype=str),
        structure_types=np.array(structure_types, dtype=str),
        spacegroup=np.array(spacegroups, np.int16))
    if split is not None:
        out["split"] = np.asarray(split, np.int8)
    out.update(
        cell=np.array(cells, np.float64).reshape(n, 3, 3),
        n_atoms=n_atoms,
        atom_offsets=off,
        numbers=np.concatenate([np.asarray(z, np.int16) for z in numbers]),
        frac_coords=np.concatenate([np.asarray(f, np.float64).reshape(-1, 3) for f in frac_coords]),
        dos=np.array(dos, np.float32).reshape(n, len(FREQ_CM1)))
    out.update(more)
    return out


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
