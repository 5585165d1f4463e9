"""Known crystals: the candidates that come first, built at their experimental volume.

Three sources, in this order of precedence (a composition + space group found twice is kept once, from the
first source):

1. ``known_crystals.csv`` beside this file: canonical crystals of the families the dataset uses and the classics
   a learner tries first (alkali halides, alkaline-earth chalcogenides, III–V and II–VI semiconductors in their
   real polymorph, fluorites, rutiles, perovskites, spinels, corundum, elemental metals, …), each with its
   room-temperature experimental lattice parameters (Wyckoff, *Crystal Structures*, 2nd ed., 1963–68) and a class
   (metal, ionic, covalent, layered) used for the benchmark quotas. Internal coordinates are the prototype's;
   relaxation with the potential fixes them.
2. robocrys' mineral database (``robocrys/condense/mineral_db.json.gz``, 180 AFLOW prototypes, each the structure
   of its real reference compound): kept when every element is in the labeller's pool, the cell has ≤ 28 sites
   and the entry is an ambient-pressure phase. Read as a data file (robocrys itself is not imported).
3. ase's elemental reference states (``ase.data.reference_states``) for the elements in fcc, bcc, hcp or diamond
   ground states.

Every candidate carries ``origin = "known"``, its ``source`` and a ``name``. Substituted candidates
(:func:`candidate_list`, from :mod:`utils.datagen.prototypes`) follow them with ``origin = "substituted"``.

Example:
    >>> cands = known_candidates()                         # doctest: +SKIP
    >>> next(c for c in cands if c["name"] == "NaCl (rocksalt)")["source"]   # doctest: +SKIP
    'wyckoff-1963'
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).with_name("known_crystals.csv")
SOURCE_TABLE = "wyckoff-1963"          # R. W. G. Wyckoff, Crystal Structures, 2nd ed. (Interscience, 1963–68)
SOURCE_MINERALS = "robocrys-mineral-db"
SOURCE_ASE = "ase-reference-states"
MAX_SITES = 28
CLASSES = ("metal", "ionic", "covalent", "layered")
# mineral-database entries that are not ambient-pressure phases of a real compound
_NOT_AMBIENT = re.compile(r"pressure|gpa|stable at|theoretical|hypothetical|different elements", re.I)
# molecular solids of gases at ambient conditions (O2, N2, CO, ClCN, SiF4, AlCl3 dimers …): not crystals at 300 K
_MOLECULAR = re.compile(r"oxygen|nitrogen|N2\b|carbon monoxide|cyanogen|tetrafluoride|aluminum trichloride|"
                        r"thiocyanate", re.I)
# ase's reference states list Se and Te as 'hcp' without a basis: their real (trigonal chain) structure is not that
_ASE_SKIP = {"Se", "Te"}


def read_table(path: Path | str = TABLE) -> list[dict]:
    """Rows of the known-crystal table: prototype, mapping (role → element), a_A, c_A, b_A (None if absent), class."""
    rows = []
    with open(path, newline="") as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.startswith("#")]
    for n, row in enumerate(csv.DictReader(lines), 2):
        try:
            mapping = dict(item.split("=") for item in row["roles"].split())
            rows.append(dict(prototype=row["prototype"], mapping=mapping, a_A=float(row["a_A"]),
                             c_A=float(row["c_A"]) if row["c_A"] else None,
                             b_A=float(row["b_A"]) if row["b_A"] else None, cls=row["class"]))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}: row {n} ({row}) is malformed: {exc}") from None
        if rows[-1]["cls"] not in CLASSES:
            raise ValueError(f"{path}: row {n}: class {rows[-1]['cls']!r} is not one of {CLASSES}")
    return rows


def build_known(prototype: str, mapping: dict[str, str], a_A: float, c_A: float | None = None,
                b_A: float | None = None):
    """Primitive pymatgen Structure of `prototype` with elements on its roles and the given conventional lattice (Å)."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from .prototypes import PROTOTYPES
    sg, shape, sites = PROTOTYPES[prototype]
    c = c_A if c_A is not None else a_A * shape.get("c", 1.0)
    if sg in (194, 186, 164, 166, 167, 191, 187):
        lattice = Lattice.hexagonal(a_A, c)
    elif sg in (136, 122, 139):
        lattice = Lattice.tetragonal(a_A, c)
    elif sg == 62:
        lattice = Lattice.orthorhombic(a_A, b_A if b_A is not None else a_A * shape["b"], c)
    else:
        lattice = Lattice.cubic(a_A)
    conv = Structure.from_spacegroup(sg, lattice, [mapping[role] for role, _ in sites], [xyz for _, xyz in sites])
    conv.merge_sites(tol=1e-3, mode="delete")
    return SpacegroupAnalyzer(conv, symprec=1e-3).find_primitive()


def _bond_class(structure) -> str:
    """metal / ionic / covalent from the elements (for sources without a class column)."""
    els = [e for e in structure.composition.elements]
    if all(e.is_metal for e in els):
        return "metal"
    chis = [e.X for e in els if e.X == e.X]
    return "ionic" if chis and max(chis) - min(chis) >= 1.7 else "covalent"


def _known_id(formula: str, prototype: str, key: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", prototype).strip("_")[:24]
    return f"known-{formula}-{slug}-" + hashlib.sha1(key.encode()).hexdigest()[:6]


def mineral_db_path() -> Path | None:
    """Where robocrys' mineral database lies (robocrys is found but not imported), or None."""
    spec = importlib.util.find_spec("robocrys")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "condense" / "mineral_db.json.gz"
    return path if path.exists() else None


def _mineral_rows() -> list[dict]:
    path = mineral_db_path()
    if path is None:
        return []
    with gzip.open(path, "rt") as fh:
        db = json.load(fh)
    return [dict(zip(db["columns"], row)) for row in db["data"]]


@lru_cache(maxsize=1)
def known_candidates() -> tuple:
    """All known-crystal candidates (a tuple of dicts; see the module docstring), deduplicated, deterministic."""
    from ase.data import chemical_symbols, reference_states
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from .prototypes import ALLOWED

    out, seen = [], set()

    def add(structure, prototype, mapping, source, name, cls, key):
        sga = SpacegroupAnalyzer(structure, symprec=1e-3)
        formula = structure.composition.reduced_formula
        sig = (formula, sga.get_space_group_number())
        if sig in seen:
            return
        seen.add(sig)
        out.append(dict(id=_known_id(formula, prototype, key), prototype=prototype, mapping=mapping, origin="known",
                        source=source, name=name, bond_class=cls, formula=formula, spacegroup=sig[1], score=1.0,
                        structure=structure.as_dict()))

    for row in read_table():
        s = build_known(row["prototype"], row["mapping"], row["a_A"], row["c_A"], row["b_A"])
        formula = s.composition.reduced_formula
        add(s, row["prototype"], row["mapping"], SOURCE_TABLE, f"{formula} ({row['prototype']})", row["cls"],
            f"{row['prototype']}:{sorted(row['mapping'].items())}")
    for entry in _mineral_rows():
        s = Structure.from_dict(entry["structure"]) if isinstance(entry["structure"], dict) else None
        if s is None or len(s) > MAX_SITES or _NOT_AMBIENT.search(str(entry["mineral"])) \
                or _MOLECULAR.search(str(entry["mineral"])):
            continue
        if any(el.symbol not in ALLOWED for el in s.composition.elements) or not s.is_ordered:
            continue
        s.remove_oxidation_states()
        prim = SpacegroupAnalyzer(s, symprec=1e-3).find_primitive()
        label = f"{entry['mineral']} ({entry['pearson']})"
        add(prim, f"mineral:{entry['mineral']}", {}, SOURCE_MINERALS, label, _bond_class(prim), label)
    for z, ref in enumerate(reference_states):
        sym = chemical_symbols[z]
        if not ref or sym not in ALLOWED or sym in _ASE_SKIP or ref.get("symmetry") not in ("fcc", "bcc", "hcp", "diamond"):
            continue
        from .prototypes import PROTOTYPES
        proto = ref["symmetry"]
        c = ref["a"] * ref.get("c/a", PROTOTYPES[proto][1].get("c", 1.0)) if proto == "hcp" else None
        s = build_known(proto, {"A": sym}, ref["a"], c)
        add(s, proto, {"A": sym}, SOURCE_ASE, f"{sym} ({proto})", "metal" if s.composition.elements[0].is_metal
            else "covalent", f"{proto}:{sym}")
    return tuple(out)


def candidate_list(limit: int | None = None, threshold: float | None = None, known: bool = True) -> list[dict]:
    """Ordered candidates: known crystals first (:func:`known_candidates`, built at their experimental volume,
    ``origin = "known"``), then substituted ones (``origin = "substituted"``: id, prototype, mapping role → species;
    build with `build_candidate`; the labeller scans the potential's energy–volume curve before relaxing them).

    Substituted structures are built lazily (by the labelling workers), since the volume prediction costs ~0.5 s each.
    """
    from .prototypes import THRESHOLD, candidate_id, element_roles, order_for_coverage, raw_candidates

    threshold = THRESHOLD if threshold is None else threshold      # None: the pool of the version being labelled
    kc = known_candidates()
    out = [dict(c) for c in kc] if known else []
    # a substituted candidate with a known crystal's prototype and elements per role is that crystal: not labelled twice
    known_keys = {(c["prototype"], element_roles(c["mapping"])) for c in kc if c.get("mapping")}
    out += [dict(id=candidate_id(c["prototype"], c["mapping"]), prototype=c["prototype"], mapping=c["mapping"],
                 score=c["score"], origin="substituted") for c in order_for_coverage(raw_candidates(threshold))
            if (c["prototype"], element_roles(c["mapping"])) not in known_keys]
    return out[:limit] if limit else out


__all__ = ["CLASSES", "SOURCE_ASE", "SOURCE_MINERALS", "SOURCE_TABLE", "TABLE", "build_known", "known_candidates",
           "candidate_list", "mineral_db_path", "read_table"]
