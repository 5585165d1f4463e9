"""The dataset object: :class:`PhononDataset` of :class:`Material`, one schema for every source (the packed set,
the original tutorial's CSV, your own JSON); arrays are read-only views.

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
    packed with rules v2 also: origin, source, names, bond_class (n,) str; energy_per_atom_eV, e_above_hull_eV (n,)
                     float64; ground_state (n,) bool
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np

from ..elements import symbol
from .split import SPLIT_NAMES

__all__ = ["Material", "PhononDataset"]


@dataclasses.dataclass(eq=False)
class Material:
    """One material of a :class:`PhononDataset` (arrays are read-only views into the dataset)."""

    index: int
    id: str
    formula: str
    prototype: str
    structure_type: str
    split: str                                   # 'train' | 'valid' | 'test' | 'benchmark' (v2 on)
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
    # packed with rules v2 (None before): a 'known' crystal (at its experimental lattice, from `source`) or a
    # 'substituted' candidate (hypothetical until shown otherwise); its common name; the potential's energy above
    # the convex hull of the labelled pool (eV/atom); whether it is the lowest-energy polymorph of its composition
    origin: str | None = None
    source: str | None = None
    name: str | None = None
    bond_class: str | None = None
    e_above_hull_eV: float | None = None
    ground_state: bool | None = None

    @property
    def known(self) -> bool | None:
        """True for a known crystal, False for a substituted (hypothetical) one, None where the version does not
        say (v0, v1)."""
        return None if self.origin is None else self.origin == "known"

    @property
    def species(self) -> list[str]:
        """Element symbols present, sorted by Z."""
        return [symbol(z) for z in sorted(set(int(z) for z in self.numbers))]

    @property
    def symbols(self) -> list[str]:
        """Element symbol of every atom."""
        return [symbol(z) for z in self.numbers]

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
            pdos = {symbol(z): a["pdos_values"][j] for j, z in zip(range(p0, p1), a["pdos_Z"][p0:p1])}
        return Material(
            index=i, id=str(self.ids[i]), formula=str(a["formulas"][i]), prototype=str(a["prototypes"][i]),
            structure_type=str(a["structure_types"][i]), split=SPLIT_NAMES[int(self.split_codes[i])],
            n_atoms=int(a["n_atoms"][i]), cell=a["cell"][i], numbers=a["numbers"][lo:hi],
            frac_coords=a["frac_coords"][lo:hi], dos=self.dos[i],
            fine_dos=None if self.fine_dos is None else self.fine_dos[i], pdos=pdos,
            max_freq_cm1=float(a["max_freq_cm1"][i]), imaginary_weight=float(a["imaginary_weight"][i]),
            spacegroup=int(a["spacegroup"][i]),
            x=float(a["x"][i]) if "x" in a else None, series=str(a["series"][i]) if "series" in a else None,
            **self._v2_fields(i))

    def _v2_fields(self, i: int) -> dict:
        a, out = self._a, {}
        for key, field in (("origin", "origin"), ("source", "source"), ("names", "name"), ("bond_class", "bond_class")):
            if key in a:
                out[field] = str(a[key][i]) or None
        if "e_above_hull_eV" in a:
            out["e_above_hull_eV"] = float(a["e_above_hull_eV"][i])
        if "ground_state" in a:
            out["ground_state"] = bool(a["ground_state"][i])
        return out

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
        return [symbol(z) for z in zs]

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
