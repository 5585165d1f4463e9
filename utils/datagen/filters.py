"""The rules a labelled material must pass to enter dataset v2, and the quantities they use.

- **Dynamic stability** (:func:`dynamically_stable`): modes below −10 cm⁻¹ carry ≤ 1 % of the mode weight (v1's rule)
  *and* no mode on the q-mesh lies below ``MIN_FREQ_CM1`` = −30 cm⁻¹. Numerical noise of the acoustic branches near
  Γ stays within a few cm⁻¹ with the dataset's settings (symmetrized force constants, acoustic sum rule), so a
  mode below −30 cm⁻¹ is a real instability of the structure with this potential (v1 kept 59 of those).
- **Energy above the convex hull** (:func:`hull_energies`): pymatgen's ``PhaseDiagram`` over every labelled
  structure of the pool plus elemental references (:func:`elemental_references`), all with the same potential.
  It measures metastability against the pool only (not against every known compound), so it is a lower bound
  of the true hull distance.
- **Cut for substituted candidates**: ``E_hull ≤ MAX_E_HULL_EV`` = 0.1 eV/atom. About 90 % of the experimentally
  known (ICSD) inorganic crystals lie within 0.07 eV/atom of the DFT hull, and few synthesized ones above
  0.1 eV/atom (W. Sun et al., Sci. Adv. 2, e1600225 (2016), Fig. 1); above that a substituted candidate is most
  likely a compound that does not exist. Known crystals are kept whatever their E_hull with the potential (a
  high value then says more about the potential than about the crystal) and the value is stored.
- **Ground state among polymorphs** (:func:`ground_states`): the lowest energy per atom of each reduced formula.
"""
from __future__ import annotations

import numpy as np

MIN_FREQ_CM1 = -30.0
MAX_IMAGINARY_WEIGHT = 0.01
MAX_E_HULL_EV = 0.1


def dynamically_stable(rec: dict) -> bool:
    """v2 rule: imaginary weight ≤ 1 % (modes below −10 cm⁻¹) and no mode below −30 cm⁻¹ anywhere on the mesh."""
    iw, fmin = rec.get("imaginary_weight"), rec.get("min_freq_cm1")
    if not isinstance(iw, (int, float)) or not isinstance(fmin, (int, float)):
        return False
    return iw <= MAX_IMAGINARY_WEIGHT and fmin >= MIN_FREQ_CM1


def _composition(rec: dict):
    from pymatgen.core import Composition, Element
    counts: dict = {}
    for z in rec["structure"]["numbers"]:
        counts[Element.from_Z(int(z)).symbol] = counts.get(Element.from_Z(int(z)).symbol, 0) + 1
    return Composition(counts)


#: energy tolerance of "the same minimum" (eV/atom): far above the relaxation's numerical noise (~1e-6) and far below
#: the potential's own error (tens of meV/atom). Polytypes closer than this (wurtzite vs zincblende GaN, InSb, AgCl;
#: SiC 6H vs 9R: 0.02–0.9 meV/atom with the potential) are all marked as ground states: the potential cannot order them
GROUND_STATE_TOL_EV = 1e-3


def hull_energies(records: list[dict], energies: dict[str, float], references: dict[str, float]) -> dict[str, float]:
    """id → energy above the convex hull (eV/atom) for every record with an energy.

    records: labelled records (id, structure); energies: id → the potential's energy per atom (eV) of the relaxed
    structure; references: element symbol → energy per atom (eV) of its elemental reference. Elemental records of
    the pool take part too (the lower of record and reference sets the hull). A record whose element lacks a
    reference is left out (no hull can be drawn for it).
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    entries, ids = [], []
    for rec in records:
        e = energies.get(rec["id"])
        if e is None or not np.isfinite(e):
            continue
        comp = _composition(rec)
        if any(el.symbol not in references for el in comp.elements):
            continue
        entries.append(PDEntry(comp, e * comp.num_atoms, name=rec["id"]))
        ids.append(rec["id"])
    # one phase diagram per chemical system (a hull over the whole pool would live in ~75 dimensions): the entries
    # whose elements lie within the system, plus the system's elemental references
    systems: dict[frozenset, list] = {}
    for rid, entry in zip(ids, entries):
        systems.setdefault(frozenset(el.symbol for el in entry.composition.elements), []).append((rid, entry))
    out = {}
    for system, members in systems.items():
        inside = [e for e in entries if {el.symbol for el in e.composition.elements} <= system]
        refs = [PDEntry(Composition(el), references[el], name=f"ref:{el}") for el in sorted(system)]
        pd = PhaseDiagram(inside + refs)
        for rid, entry in members:
            out[rid] = float(pd.get_e_above_hull(entry, allow_negative=True))
    return out


def ground_states(records: list[dict], energies: dict[str, float], tol_ev: float = GROUND_STATE_TOL_EV) -> set[str]:
    """Ids of the lowest-energy structures (per atom) of each reduced formula among `records` with an energy: every
    record within ``tol_ev`` (eV/atom) of the lowest, so that two copies of one crystal (a known entry and its
    substituted twin, relaxed to the same minimum, differ by ~1e-6 eV/atom) are both marked, whichever is packed,
    and so are near-degenerate polytypes (see :data:`GROUND_STATE_TOL_EV`)."""
    by_formula: dict[str, list[tuple[float, str]]] = {}
    for rec in records:
        e = energies.get(rec["id"])
        if e is None:
            continue
        by_formula.setdefault(_composition(rec).reduced_formula, []).append((e, rec["id"]))
    out = set()
    for rows in by_formula.values():
        lowest = min(e for e, _ in rows)
        out |= {rid for e, rid in rows if e <= lowest + tol_ev}
    return out


# Elemental references: relaxed candidate structures per element, the lowest energy wins. Gases as dimers in a box.
_DIMERS = {"N": 1.10, "O": 1.21, "F": 1.42, "Cl": 1.99, "Br": 2.28, "I": 2.67, "H": 0.74}


def _reference_candidates(symbol: str):
    from ase import Atoms
    from ase.build import bulk
    from ase.data import atomic_numbers, reference_states

    if symbol in _DIMERS:   # molecular standard states: the dimer only (a potential can bind a bulk phase of O
        d = _DIMERS[symbol]   # spuriously, e.g. simple-cubic oxygen below O2, which would tilt every oxide's hull)
        return [("dimer", Atoms(symbol * 2, positions=[(0, 0, 0), (0, 0, d)], cell=[12, 12.5, 13], pbc=True), False)]
    out = []
    ref = reference_states[atomic_numbers[symbol]] or {}
    vol = None
    if ref.get("symmetry") in ("fcc", "bcc", "hcp", "diamond", "rhombohedral", "sc"):
        try:
            atoms = bulk(symbol)
            out.append((ref["symmetry"], atoms, True))
            vol = atoms.get_volume() / len(atoms)
        except Exception:
            pass
    if vol is None:
        from ase.data import covalent_radii
        vol = 4.0 * covalent_radii[atomic_numbers[symbol]] ** 3 * 4 * np.pi / 3 / 0.52
    for structure, factor in (("fcc", 4 ** (1 / 3)), ("bcc", 2 ** (1 / 3)), ("sc", 1.0), ("diamond", 8 ** (1 / 3))):
        a = (vol * factor ** 3) ** (1 / 3)
        try:
            out.append((structure, bulk(symbol, structure, a=a), True))
        except Exception:
            pass
    return out


def elemental_reference(symbol: str, calc, fmax: float = 0.02, steps: int = 100) -> dict:
    """The lowest energy per atom (eV) of `symbol` over relaxed dimer / ase reference state / fcc / bcc / sc / diamond.

    An upper bound of the element's true ground-state energy with this potential, used only where the pool has no
    labelled elemental crystal of that element (the lower of the two is used).
    """
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    best = None
    for name, atoms, cell in _reference_candidates(symbol):
        atoms.calc = calc
        try:
            opt = BFGS(FrechetCellFilter(atoms) if cell else atoms, logfile=None)
            opt.run(fmax=fmax, steps=steps)
            e = float(atoms.get_potential_energy()) / len(atoms)
        except Exception:
            continue
        if np.isfinite(e) and (best is None or e < best["energy_per_atom_eV"]):
            best = dict(element=symbol, structure=name, energy_per_atom_eV=round(e, 6))
    if best is None:
        raise RuntimeError(f"no reference structure of {symbol} could be relaxed")
    return best


__all__ = ["MAX_E_HULL_EV", "MAX_IMAGINARY_WEIGHT", "MIN_FREQ_CM1", "dynamically_stable", "elemental_reference",
           "ground_states", "hull_energies"]
