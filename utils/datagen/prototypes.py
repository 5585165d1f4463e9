"""Candidate crystals for labelling: prototype families × chemically sensible compositions.

Every candidate is a real structure type (space group + Wyckoff positions of a known compound), decorated
with a composition that is either charge balanced and reachable from a known compound of that type by
pymatgen's data-mined ion-substitution probabilities (Hautier et al., Inorg. Chem. 50, 656, 2011), or, for
metallic families, taken from explicit lists of elements that form them. The starting lattice is scaled so
that the shortest bonded contact equals the sum of the ionic (or metallic) radii; relaxation does the rest.

The ordered list the labeller works through, known crystals first, is
:func:`utils.datagen.known.candidate_list`.

Example:
    >>> cands = raw_candidates()   # doctest: +SKIP
    >>> cands[0].keys()   # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from pymatgen.core import Element, Lattice, Species, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

# Elements the labeller is trusted on (Li..Bi, no noble gases, no H, no Pm; lanthanides included).
ALLOWED = [Element.from_Z(z).symbol for z in range(3, 84)
           if Element.from_Z(z).symbol not in {"Ne", "Ar", "Kr", "Xe", "Pm", "Tc"}]

# Prototype: space group, lattice shape (a=1), Wyckoff sites as (role, frac coords). c/a etc. are typical values.
PROTOTYPES = {
    "fcc":          (225, dict(a=1), [("A", (0, 0, 0))]),
    "bcc":          (229, dict(a=1), [("A", (0, 0, 0))]),
    "hcp":          (194, dict(a=1, c=1.633), [("A", (1 / 3, 2 / 3, 0.25))]),
    "diamond":      (227, dict(a=1), [("A", (0, 0, 0))]),   # pymatgen uses origin choice 1 for Fd-3m
    "rocksalt":     (225, dict(a=1), [("A", (0, 0, 0)), ("X", (0.5, 0.5, 0.5))]),
    "cesium_chloride": (221, dict(a=1), [("A", (0, 0, 0)), ("X", (0.5, 0.5, 0.5))]),
    "zincblende":   (216, dict(a=1), [("A", (0, 0, 0)), ("X", (0.25, 0.25, 0.25))]),
    "wurtzite":     (186, dict(a=1, c=1.633), [("A", (1 / 3, 2 / 3, 0)), ("X", (1 / 3, 2 / 3, 0.375))]),
    "nickel_arsenide": (194, dict(a=1, c=1.39), [("A", (0, 0, 0)), ("X", (1 / 3, 2 / 3, 0.25))]),
    "fluorite":     (225, dict(a=1), [("A", (0, 0, 0)), ("X", (0.25, 0.25, 0.25))]),
    "antifluorite": (225, dict(a=1), [("X", (0, 0, 0)), ("A", (0.25, 0.25, 0.25))]),
    "rutile":       (136, dict(a=1, c=0.645), [("A", (0, 0, 0)), ("X", (0.305, 0.305, 0))]),
    "cadmium_iodide": (164, dict(a=1, c=1.6), [("A", (0, 0, 0)), ("X", (1 / 3, 2 / 3, 0.25))]),
    "perovskite":   (221, dict(a=1), [("A", (0.5, 0.5, 0.5)), ("B", (0, 0, 0)), ("X", (0.5, 0, 0))]),
    "L1_2":         (221, dict(a=1), [("B", (0, 0, 0)), ("A", (0, 0.5, 0.5))]),
    "A15":          (223, dict(a=1), [("A", (0.25, 0, 0.5)), ("B", (0, 0, 0))]),
    "full_heusler": (225, dict(a=1), [("A", (0.25, 0.25, 0.25)), ("B", (0, 0, 0)), ("C", (0.5, 0.5, 0.5))]),
    "half_heusler": (216, dict(a=1), [("A", (0, 0, 0)), ("B", (0.25, 0.25, 0.25)), ("C", (0.5, 0.5, 0.5))]),
    "spinel":       (227, dict(a=1), [("A", (0, 0, 0)), ("B", (0.625, 0.625, 0.625)),
                                      ("X", (0.3875, 0.3875, 0.3875))]),
    "chalcopyrite": (122, dict(a=1, c=2.0), [("A", (0, 0, 0)), ("B", (0, 0, 0.5)), ("X", (0.25, 0.25, 0.125))]),
    "delafossite":  (166, dict(a=1, c=5.95), [("A", (0, 0, 0)), ("B", (0, 0, 0.5)), ("X", (0, 0, 0.108))]),
    "corundum":     (167, dict(a=1, c=2.73), [("A", (0, 0, 0.352)), ("X", (0.306, 0, 0.25))]),
    "pyrite":       (205, dict(a=1), [("A", (0, 0, 0)), ("X", (0.385, 0.385, 0.385))]),
    "molybdenite_2H": (194, dict(a=1, c=3.89), [("A", (1 / 3, 2 / 3, 0.25)), ("X", (1 / 3, 2 / 3, 0.621))]),
    "anti_perovskite": (221, dict(a=1), [("X", (0.5, 0.5, 0.5)), ("B", (0, 0, 0)), ("A", (0.5, 0, 0))]),
    "rhenium_trioxide": (221, dict(a=1), [("B", (0, 0, 0)), ("X", (0.5, 0, 0))]),
    "aluminium_diboride": (191, dict(a=1, c=1.08), [("A", (0, 0, 0)), ("X", (1 / 3, 2 / 3, 0.5))]),
    "tungsten_carbide": (187, dict(a=1, c=0.976), [("A", (0, 0, 0)), ("X", (1 / 3, 2 / 3, 0.5))]),
    "laves_C15":    (227, dict(a=1), [("A", (0, 0, 0)), ("B", (0.625, 0.625, 0.625))]),
    "thorium_chromium_silicide": (139, dict(a=1, c=2.5), [("A", (0, 0, 0)), ("B", (0, 0.5, 0.25)),
                                                         ("X", (0, 0, 0.38))]),
    # Y2Ti2O7 (Fd-3m, origin choice 1): A 16d, B 16c, O 48f (x = 0.42), O' 8b; 22 atoms in the primitive cell
    "pyrochlore":   (227, dict(a=1), [("A", (0.625, 0.625, 0.625)), ("B", (0.125, 0.125, 0.125)),
                                      ("X", (0.42, 0.25, 0.25)), ("X", (0.5, 0.5, 0.5))]),
    # Mg2SiO4 forsterite (Pnma; a 10.21, b 5.98, c 4.76 Å): M1 4a, M2 4c, Si 4c, O 4c, 4c, 8d; 28 atoms
    "olivine":      (62, dict(a=1, b=0.586, c=0.466), [("A", (0, 0, 0)), ("A", (0.2774, 0.25, 0.9915)),
                                                      ("B", (0.0943, 0.25, 0.4266)), ("X", (0.0916, 0.25, 0.7657)),
                                                      ("X", (0.4474, 0.25, 0.2215)), ("X", (0.1634, 0.033, 0.2774))]),
    # LiFePO4 triphylite, the olivine structure with two cations ordered (Pnma; a 10.33, b 6.01, c 4.69 Å):
    # Li 4a, Fe 4c, P 4c, O 4c, 4c, 8d (Andersson et al., Solid State Ionics 130, 41 (2000)); 28 atoms
    "triphylite":   (62, dict(a=1, b=0.582, c=0.454), [("A", (0, 0, 0)), ("B", (0.282, 0.25, 0.975)),
                                                      ("C", (0.095, 0.25, 0.418)), ("X", (0.097, 0.25, 0.743)),
                                                      ("X", (0.457, 0.25, 0.206)), ("X", (0.166, 0.046, 0.285))]),
    # Bi2Te3 tetradymite (R-3m, hexagonal axes; a 4.39, c 30.50 Å): Te1 3a, Bi 6c z = 0.4001, Te2 6c z = 0.7872
    "tetradymite":  (166, dict(a=1, c=6.95), [("X", (0, 0, 0)), ("A", (0, 0, 0.4001)), ("X", (0, 0, 0.7872))]),
    # Mg3Sb2 / CaAl2Si2 type (P-3m1; a 4.57, c 7.23 Å for Mg3Sb2): B 1a, A 2d z = 0.63, X 2d z = 0.23
    "anti_La2O3":   (164, dict(a=1, c=1.58), [("B", (0, 0, 0)), ("A", (1 / 3, 2 / 3, 0.63)), ("X", (1 / 3, 2 / 3, 0.23))]),
}

LAYERED = {"cadmium_iodide", "molybdenite_2H", "tetradymite"}

# Ionic families: seed compounds (species per role) of known members; substitutions are drawn from them.
IONIC_SEEDS = {
    "rocksalt": [{"A": "Na+", "X": "Cl-"}, {"A": "Mg2+", "X": "O2-"}, {"A": "Sc3+", "X": "N3-"},
                 {"A": "Pb2+", "X": "S2-"}],
    "cesium_chloride": [{"A": "Cs+", "X": "Cl-"}],
    "zincblende": [{"A": "Zn2+", "X": "S2-"}, {"A": "Ga3+", "X": "As3-"}, {"A": "Cu+", "X": "Cl-"}],
    "wurtzite": [{"A": "Zn2+", "X": "O2-"}, {"A": "Ga3+", "X": "N3-"}],
    "nickel_arsenide": [{"A": "Fe2+", "X": "S2-"}],
    "fluorite": [{"A": "Ca2+", "X": "F-"}, {"A": "Zr4+", "X": "O2-"}],
    "antifluorite": [{"A": "Li+", "X": "O2-"}, {"A": "Mg2+", "X": "Si4-"}],
    "rutile": [{"A": "Ti4+", "X": "O2-"}, {"A": "Mg2+", "X": "F-"}],
    "cadmium_iodide": [{"A": "Cd2+", "X": "I-"}, {"A": "Sn4+", "X": "S2-"}],
    "perovskite": [{"A": "Sr2+", "B": "Ti4+", "X": "O2-"}, {"A": "K+", "B": "Mg2+", "X": "F-"}],
    "spinel": [{"A": "Mg2+", "B": "Al3+", "X": "O2-"}],
    "chalcopyrite": [{"A": "Cu+", "B": "In3+", "X": "Se2-"}, {"A": "Zn2+", "B": "Ge4+", "X": "P3-"}],
    "delafossite": [{"A": "Cu+", "B": "Al3+", "X": "O2-"}],
    "corundum": [{"A": "Al3+", "X": "O2-"}],
    "pyrite": [{"A": "Fe2+", "X": "S-"}],
    "molybdenite_2H": [{"A": "Mo4+", "X": "S2-"}],
    "anti_perovskite": [{"A": "Li+", "B": "O2-", "X": "Cl-"}],
    "rhenium_trioxide": [{"B": "Sc3+", "X": "F-"}, {"B": "Re6+", "X": "O2-"}, {"B": "N3-", "X": "Cu+"}],
    "pyrochlore": [{"A": "Y3+", "B": "Ti4+", "X": "O2-"}],
    "olivine": [{"A": "Mg2+", "B": "Si4+", "X": "O2-"}],
}

# Metallic families: explicit element lists of known members and analogues.
_TM = ["Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Y", "Zr", "Nb", "Mo", "Ru", "Rh", "Pd", "Ag",
       "Cd", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au"]
METALLIC = {
    "fcc": [["Al"], ["Cu"], ["Ag"], ["Au"], ["Ni"], ["Pd"], ["Pt"], ["Pb"], ["Ca"], ["Sr"], ["Rh"], ["Ir"],
            ["Yb"], ["Ce"], ["Th"]],
    "bcc": [["Li"], ["Na"], ["K"], ["Rb"], ["Cs"], ["Ba"], ["V"], ["Nb"], ["Ta"], ["Cr"], ["Mo"], ["W"], ["Fe"],
            ["Eu"]],
    "hcp": [["Be"], ["Mg"], ["Sc"], ["Ti"], ["Co"], ["Zn"], ["Y"], ["Zr"], ["Ru"], ["Cd"], ["Hf"], ["Re"], ["Os"],
            ["Tl"], ["Gd"], ["Tb"], ["Dy"], ["Ho"], ["Er"], ["Tm"], ["Lu"], ["Nd"], ["Pr"], ["La"], ["Sm"]],
    "diamond": [["C"], ["Si"], ["Ge"], ["Sn"]],
    "cesium_chloride": [[a, b] for a, b in [("Ni", "Al"), ("Co", "Al"), ("Fe", "Al"), ("Cu", "Zn"), ("Ag", "Mg"),
                                           ("Au", "Zn"), ("Ni", "Ti"), ("Fe", "Ti"), ("Co", "Ti"), ("Pd", "In"),
                                           ("Ru", "Al"), ("Cu", "Pd"), ("Ag", "Zn"), ("Au", "Cd"), ("Li", "Tl"),
                                           ("Mg", "Sc"), ("Y", "Cu"), ("Y", "Ag"), ("La", "Mg"), ("Ce", "Zn"),
                                           ("Gd", "Rh"), ("Er", "Ag"), ("Dy", "Cu"), ("Sr", "Cd"), ("Ca", "Hg"),
                                           ("Tb", "Mg"), ("Ho", "Ir"), ("Tm", "Zn"), ("Lu", "Rh"), ("Sc", "Ru"),
                                           ("Zr", "Ru"), ("Hf", "Os"), ("Pr", "Mg"), ("Nd", "Zn"), ("Sm", "Ag")]],
    "L1_2": [[a, b] for a, b in [("Ni", "Al"), ("Cu", "Au"), ("Ni", "Ga"), ("Pt", "Al"), ("Pd", "Sn"),
                                 ("Pt", "Ti"), ("Ir", "Nb"), ("Ni", "Ge"), ("Pd", "In"), ("Cu", "Pt"),
                                 ("Al", "Sc"), ("Al", "Er"), ("Sn", "La"), ("Pb", "Ce"), ("In", "Yb"),
                                 ("Rh", "Ta"), ("Pt", "Zr"), ("Ir", "V"), ("Pd", "Mn"), ("Au", "Cu"),
                                 ("Al", "Lu"), ("Sn", "Nd"), ("In", "Pr"), ("Al", "Y"), ("Ga", "Tm"),
                                 ("Pt", "Mn"), ("Ni", "Si"), ("Pd", "Ge"), ("Tl", "Sm"), ("Al", "Ho")]],
    "A15": [[a, b] for a, b in [("Nb", "Sn"), ("V", "Si"), ("Nb", "Ge"), ("Nb", "Al"), ("V", "Ga"), ("Cr", "Si"),
                                ("Mo", "Ge"), ("Mo", "Si"), ("V", "Ge"), ("Nb", "Ga"), ("Ta", "Sn"), ("Cr", "Ge"),
                                ("V", "Sn"), ("Mo", "Ir"), ("Nb", "Ir"), ("Ti", "Ir"), ("V", "Co"), ("Cr", "Ir"),
                                ("Ti", "Pt"), ("Zr", "Au")]],
    "full_heusler": [list(t) for t in [("Cu", "Mn", "Al"), ("Co", "Mn", "Si"), ("Co", "Fe", "Si"),
                                       ("Ni", "Mn", "Ga"), ("Fe", "V", "Al"), ("Co", "Ti", "Sn"),
                                       ("Ni", "Ti", "Sn"), ("Co", "Mn", "Ge"), ("Ru", "Mn", "Ge"),
                                       ("Pd", "Mn", "Sn"), ("Co", "Zr", "Al"), ("Ni", "Hf", "Sn"),
                                       ("Co", "V", "Ga"), ("Fe", "Ti", "Sn"), ("Cu", "Ti", "Al"),
                                       ("Li", "Ag", "Sb"), ("Co", "Nb", "Sn"), ("Ni", "Zr", "Sn"),
                                       ("Rh", "Mn", "Ge"), ("Au", "Mn", "Al"), ("Ni", "Mn", "In"),
                                       ("Co", "Cr", "Ga"), ("Pd", "Hf", "Al"), ("Ni", "Sc", "Sn"),
                                       ("Ru", "V", "Ga")]],
    "half_heusler": [list(t) for t in [("Ti", "Ni", "Sn"), ("Zr", "Ni", "Sn"), ("Hf", "Ni", "Sn"),
                                       ("Ti", "Co", "Sb"), ("Zr", "Co", "Sb"), ("Nb", "Fe", "Sb"),
                                       ("V", "Fe", "Sb"), ("Ta", "Fe", "Sb"), ("Sc", "Ni", "Sb"),
                                       ("Y", "Ni", "Sb"), ("Li", "Zn", "As"), ("Li", "Mg", "P"),
                                       ("Li", "Zn", "P"), ("Li", "Mg", "N"), ("Li", "Cd", "Sb"),
                                       ("Na", "Mg", "Sb"), ("Ti", "Pt", "Sn"), ("Zr", "Pd", "Sn"),
                                       ("Nb", "Co", "Sn"), ("Sc", "Pt", "Sb"), ("Lu", "Pt", "Bi"),
                                       ("Y", "Pt", "Bi"), ("La", "Pt", "Bi"), ("Gd", "Pt", "Bi"),
                                       ("Er", "Pd", "Sb"), ("Dy", "Ni", "Bi"), ("Ho", "Pd", "Bi"),
                                       ("Tm", "Ni", "Sb"), ("Sc", "Au", "Pb"), ("Hf", "Co", "Sb"),
                                       ("Mg", "Ag", "As"), ("Li", "Al", "Si"), ("Li", "Ga", "Ge"),
                                       ("Na", "Zn", "Sb"), ("K", "Zn", "Sb"), ("Li", "Mn", "Bi"),
                                       ("Ta", "Co", "Sn"), ("V", "Co", "Sb"), ("Ti", "Rh", "Sb"),
                                       ("Zr", "Rh", "Bi"), ("Pr", "Pd", "Bi"), ("Nd", "Pt", "Sb"),
                                       ("Sm", "Pd", "Bi"), ("Tb", "Pt", "Sb"), ("Yb", "Pt", "Bi"),
                                       ("Ce", "Ni", "Sb"), ("Eu", "Pd", "Sb"), ("Sc", "Ni", "Bi")]],
}
# Known members of further intermetallic, boride/carbide/nitride and ionic families (element per role, roles
# in alphabetical order): the substitution model has no seeds for these, or misses the elements listed.
for _proto, _members in ({
    "aluminium_diboride": [[a, "B"] for a in ["Mg", "Al", "Ti", "Zr", "Hf", "V", "Nb", "Ta", "Cr", "Sc", "Y", "Mo", "W",
                                              "Re", "Os", "Ru"]] + [["Ca", "Si"], ["Sr", "Ga"], ["Ba", "Ga"]],
    "tungsten_carbide": [["W", "C"], ["Mo", "C"], ["Ta", "N"], ["Mo", "P"], ["W", "N"], ["Nb", "N"], ["Zr", "Te"],
                         ["Os", "C"], ["Ru", "C"], ["Re", "N"], ["Mo", "N"], ["W", "P"]],
    "rocksalt": [[a, x] for a in ["Ti", "Zr", "Hf", "V", "Nb", "Ta"] for x in ["C", "N"]]
                + [["Sc", "C"], ["W", "C"], ["Mo", "C"], ["U", "C"], ["Th", "C"], ["Cr", "N"], ["Re", "N"]],
    "laves_C15": [list(t) for t in [("Mg", "Cu"), ("Ca", "Al"), ("Zr", "V"), ("Hf", "V"), ("Y", "Al"),
                                    ("La", "Al"), ("Ce", "Al"), ("Gd", "Al"), ("Er", "Al"), ("Dy", "Al"),
                                    ("Nd", "Al"), ("Pr", "Al"), ("Lu", "Al"), ("Zr", "Mo"), ("Hf", "Mo"),
                                    ("Zr", "W"), ("Hf", "W"), ("Zr", "Co"), ("Zr", "Fe"), ("Y", "Co"),
                                    ("Ta", "Co"), ("Nb", "Cr"), ("Ti", "Cr"), ("Ca", "Pt"), ("Sr", "Rh"),
                                    ("Ba", "Pt"), ("Y", "Ir"), ("Ce", "Os"), ("Sc", "Os"), ("Zr", "Re"),
                                    ("Hf", "Re"), ("Y", "Os"), ("Eu", "Rh"), ("Th", "Ir"), ("Cs", "Bi"),
                                    ("Rb", "Bi"), ("K", "Bi"), ("Sm", "Al"), ("Tb", "Al"), ("Ho", "Al")]],
    "thorium_chromium_silicide": [list(t) for t in [("Th", "Cr", "Si"), ("La", "Ru", "Si"), ("Ce", "Cu", "Si"),
                                                    ("Y", "Rh", "Si"), ("La", "Ni", "Ge"), ("Ca", "Ni", "Ge"),
                                                    ("La", "Pd", "Ge"), ("Ba", "Ni", "As"), ("Sr", "Rh", "As"),
                                                    ("K", "Fe", "As"), ("Ba", "Cu", "Se"), ("Lu", "Ru", "Si"),
                                                    ("Eu", "Cu", "Ge"), ("Gd", "Ru", "Si"), ("Sr", "Pd", "Ge"),
                                                    ("Ca", "Pd", "P"), ("Cs", "Co", "Se"), ("Rb", "Ni", "Se"),
                                                    ("Ba", "Ru", "P"), ("Ca", "Os", "Si"), ("Ba", "Re", "Si"),
                                                    ("Sr", "Ir", "Ge"), ("Ba", "Pt", "Sb"), ("Ca", "Mn", "Ge")]],
    "zincblende": [["Be", "S"], ["Be", "Se"], ["Be", "Te"], ["B", "N"], ["B", "P"], ["B", "As"], ["Si", "C"]],
    "wurtzite": [["Be", "O"], ["Al", "N"], ["Si", "C"]],
    "cesium_chloride": [["Be", "Pd"], ["Be", "Co"], ["Be", "Ni"], ["Be", "Cu"], ["Os", "Al"], ["Cs", "Au"],
                        ["Rb", "Au"], ["Ti", "Os"], ["Sc", "Os"], ["Re", "Al"], ["W", "Al"], ["Mo", "Ir"]],
    "hcp": [["W"], ["Mo"], ["Rh"], ["Ir"], ["Pt"]],
    "bcc": [["Re"], ["Os"], ["Rb"], ["Sr"], ["Ca"]],
    "fcc": [["W"], ["Mo"], ["Os"], ["Re"], ["Be"], ["Cs"]],
}).items():
    METALLIC.setdefault(_proto, []).extend(_members)
# formula units of a role in the primitive cell don't matter: roles map to Wyckoff sites.


# Anions the substitution model lacks: predicted with a lighter proxy of the same group, then expanded.
_ANION_PROXY = {"Te2-": "Se2-", "P3-": "N3-", "As3-": "N3-", "Sb3-": "N3-", "Si4-": None, "S-": None}
_ANION_EXPANSION = {"Se2-": ["Te2-"], "N3-": ["P3-", "As3-", "Sb3-"]}


def _seed_substitutions(seed: dict[str, str], threshold: float) -> list[tuple[float, dict[str, str]]]:
    """Role→species maps reachable from `seed` with probability ≥ threshold (pymatgen's data-mined model).

    Anions outside the model's table are handled through a same-group proxy (Te via Se, pnictides via N);
    a seed species with no proxy keeps only the seed itself.
    """
    predictor = _predictor(threshold)
    known = {str(sp) for sp in predictor.p.species}
    proxied = {r: (sp if sp in known else _ANION_PROXY.get(sp)) for r, sp in seed.items()}
    out = [(1.0, dict(seed))]
    if any(v is None for v in proxied.values()):
        return out
    roles = list(seed)
    for pred in predictor.list_prediction([proxied[r] for r in roles]):
        new_for_old = {v: k for k, v in pred["substitutions"].items()}   # original species -> new Species
        mapping = {r: str(new_for_old[proxied[r]]) for r in roles}
        out.append((pred["probability"], mapping))
        for r in roles:
            for heavier in _ANION_EXPANSION.get(mapping[r], []):
                out.append((0.5 * pred["probability"], {**mapping, r: heavier}))
    return out


@lru_cache(maxsize=4)
def _predictor(threshold: float):
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionPredictor
    return SubstitutionPredictor(threshold=threshold)


# Crystal radii (Å) of anions that pymatgen's Shannon table lacks: L. Pauling, The Nature of the Chemical Bond,
# 3rd ed. (1960), Table 13-3.
PAULING_ANION_RADII = {"N3-": 1.71, "P3-": 2.12, "As3-": 2.22, "Sb3-": 2.45, "Te2-": 2.21, "Si4-": 2.71}


@lru_cache(maxsize=1)
def _dls_predictor():
    from pymatgen.analysis.structure_prediction.volume_predictor import DLSVolumePredictor
    return DLSVolumePredictor()


def _radius(species: str) -> float:
    """Contact radius in Å: Shannon ionic radius for an ion, metallic/atomic radius for a neutral element."""
    if species in PAULING_ANION_RADII:
        return PAULING_ANION_RADII[species]
    try:
        sp = Species.from_str(species)
        if sp.oxi_state and sp.oxi_state != 0:
            r = sp.ionic_radius
            if r:
                return float(r)
        el = sp.element
    except ValueError:
        el = Element(species)
    r = el.metallic_radius or el.atomic_radius or el.atomic_radius_calculated
    return float(r)


def _conventional_lattice(prototype: str, a: float = 5.0) -> Lattice:
    """The prototype's conventional lattice with a = `a` Å and its typical c/a (hexagonal, tetragonal or cubic)."""
    sg, shape, _ = PROTOTYPES[prototype]
    c = a * shape.get("c", 1.0)
    if sg in (194, 186, 164, 166, 167, 191, 187):
        return Lattice.hexagonal(a, c)
    if sg in (136, 122, 139):
        return Lattice.tetragonal(a, c)
    if sg == 62:
        return Lattice.orthorhombic(a, a * shape["b"], c)
    return Lattice.cubic(a)


def build(prototype: str, species_by_role: dict[str, str]) -> Structure:
    """Primitive structure of `prototype` with species on its roles, lattice scaled so contacts touch.

    The shortest distance between any two sites equals the sum of their radii (ionic for ions).
    """
    sg, _, sites = PROTOTYPES[prototype]
    lattice = _conventional_lattice(prototype)   # provisional size; rescaled below
    species = [species_by_role[role] for role, _ in sites]
    conv = Structure.from_spacegroup(sg, lattice, [Species.from_str(s) if _is_ion(s) else s for s in species],
                                     [xyz for _, xyz in sites])
    conv.merge_sites(tol=1e-3, mode="delete")
    prim = SpacegroupAnalyzer(conv, symprec=1e-3).find_primitive()
    # scale: the smallest d_ij / (r_i + r_j) over all pairs, periodic images included, becomes 1
    radii = np.array([_radius(str(site.specie)) for site in prim])
    cutoff = 2.0 * max(prim.lattice.abc)
    centers, neighbors, _, dists = prim.get_neighbor_list(cutoff)
    scale = 1.0 / np.min(dists / (radii[centers] + radii[neighbors]))
    prim.scale_lattice(prim.volume * scale ** 3)
    prim.remove_oxidation_states()
    if prototype not in LAYERED:
        # Bond-length based volume (pymatgen's DLS predictor, fitted to ICSD bond lengths) is a closer start for
        # most families; the contact-radii volume stays for layered (van der Waals) ones and as a fallback.
        # Where the two estimates disagree by more than 40 % (DLS lacks bond data for pnictide anions, e.g.
        # rocksalt LnAs came out 45 % too dense), take their geometric mean.
        try:
            v_contact, v_dls = prim.volume, _dls_predictor().predict(prim)
            ratio = v_dls / v_contact
            prim.scale_lattice(v_dls if 0.6 <= ratio <= 1.4 else float(np.sqrt(v_dls * v_contact)))
        except Exception:   # no bond-length data for a pair: keep the contact-radii volume
            pass
    return prim


def _is_ion(s: str) -> bool:
    return s[-1] in "+-"


def _charge_balanced(prototype: str, mapping: dict[str, str]) -> bool:
    s = build_counts(prototype)
    total = 0.0
    for role, n in s.items():
        total += n * Species.from_str(mapping[role]).oxi_state
    return abs(total) < 1e-6


@lru_cache(maxsize=None)
def _role_counts(prototype: str) -> tuple:
    sg, _, sites = PROTOTYPES[prototype]
    lattice = _conventional_lattice(prototype)
    markers = ["Li", "Be", "B", "C", "N", "O", "F", "Na"][: len(sites)]
    conv = Structure.from_spacegroup(sg, lattice, markers, [xyz for _, xyz in sites])
    counts: dict[str, int] = {}
    for (role, _), m in zip(sites, markers):
        counts[role] = counts.get(role, 0) + sum(1 for site in conv if site.specie.symbol == m)
    return tuple(sorted(counts.items()))


def build_counts(prototype: str) -> dict[str, int]:
    """Number of atoms per role in the conventional cell of `prototype`."""
    return dict(_role_counts(prototype))


def _element(s: str) -> str:
    return Species.from_str(s).element.symbol if _is_ion(s) else s


def element_roles(mapping: dict[str, str]) -> tuple:
    """(role, element) pairs of a role → species map, oxidation states dropped (Mg2+ → Mg): a composition's key."""
    return tuple(sorted((r, _element(s)) for r, s in mapping.items()))


def candidate_id(prototype: str, mapping: dict[str, str]) -> str:
    key = prototype + ":" + ",".join(f"{r}={_element(s)}" for r, s in sorted(mapping.items()))
    return f"{prototype}-" + "".join(_element(mapping[r]) for r in sorted(mapping)) + "-" + \
        hashlib.sha1(key.encode()).hexdigest()[:6]


#: The ion-substitution probability threshold of each dataset version's candidate pool. v2 widened the pool (1e-4
#: instead of 2e-4: 5,239 instead of 4,010 candidates with the known crystals) to reach its size after the stricter
#: stability, hull and duplicate rules; its candidates include all of v1's.
THRESHOLD_BY_VERSION = {"v0": 2e-4, "v1": 2e-4, "v2": 1e-4}
#: The threshold of the version being labelled (the `label` and `export-tasks` default).
THRESHOLD = THRESHOLD_BY_VERSION["v2"]

# Groups of the periodic table used by the composition rules below (lanthanides count as group 3: trivalent).
_G3 = ["Sc", "Y", "La", "Ce", "Pr", "Nd", "Sm", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Lu"]
_G4, _G5 = ["Ti", "Zr", "Hf"], ["V", "Nb", "Ta"]
_G8, _G9, _G10 = ["Fe", "Ru", "Os"], ["Co", "Rh", "Ir"], ["Ni", "Pd", "Pt"]
_VALENCE = {**{e: 3 for e in _G3}, **{e: 4 for e in _G4}, **{e: 5 for e in _G5}, **{e: 8 for e in _G8},
            **{e: 9 for e in _G9}, **{e: 10 for e in _G10}, "Ge": 4, "Sn": 4, "Pb": 4, "Sb": 5, "Bi": 5}


def rule_families() -> dict[str, list[list[str]]]:
    """Compositions of three large intermetallic families generated by their published composition rules (v2).

    * **Half-Heusler XYZ** (prototype ``half_heusler``; X on 4a, Y on the tetrahedral 4c, Z on 4b). The 18-electron
      rule (valence electrons X + Y + Z = 18; T. Graf, C. Felser & S. S. P. Parkin, Prog. Solid State Chem. 39, 1,
      2011): X from groups 3–5 (lanthanides trivalent), Y from groups 8–10, Z from groups 14–15 (Ge, Sn, Pb, Sb,
      Bi; rare earths only with Sb and Bi, the RE–Ni/Pd/Pt–Sb/Bi series). And the 8-electron Nowotny–Juza phases
      I–II–V (Li, Na, K; Mg, Zn, Cd; N, P, As, Sb, Bi; e.g. LiZnAs).
    * **ThCr2Si2-type AT2X2** (prototype ``thorium_chromium_silicide``; A on 2a, T on 4d, X on 4e), the largest
      ternary structure type (M. Shatruk, J. Solid State Chem. 272, 198, 2019): rare earth (and Y) with a 3d, 4d
      or 5d late transition metal and Si or Ge (e.g. CeCu2Si2, GdRu2Si2); alkaline earth
      (and Eu) with Mn–Zn, Ru, Rh, Pd and P or As (e.g. BaFe2As2).
    * **Laves C15 (MgCu2-type) AB2** (prototype ``laves_C15``; A on 8a, B on 16d): rare earth (and Sc, Y) with Al,
      Mn, Fe, Co, Ni, Ru, Rh, Os, Ir or Pt, the radius ratio r_A/r_B of 1.1–1.7 where Laves phases form
      (F. Stein, M. Palm & G. Sauthoff, Intermetallics 12, 713, 2004; e.g. GdAl2, TbFe2, ErCo2).

    Members are hypothetical until labelled (``origin = "substituted"``): the rules say where the type is common,
    not that each composition exists; the hull and stability rules of v2 judge each one.
    """
    hh = [[x, y, z] for x in _G3 + _G4 + _G5 for y in _G8 + _G9 + _G10 for z in ["Ge", "Sn", "Pb", "Sb", "Bi"]
          if _VALENCE[x] + _VALENCE[y] + _VALENCE[z] == 18 and (x not in _G3 or z in ("Sb", "Bi"))]
    hh += [[a, b, c] for a in ["Li", "Na", "K"] for b in ["Mg", "Zn", "Cd"] for c in ["N", "P", "As", "Sb", "Bi"]]
    t122 = [[a, t, x] for a in _G3 if a != "Sc" for t in ["Mn", "Fe", "Co", "Ni", "Cu", "Ru", "Rh", "Pd", "Os", "Ir"]
            for x in ["Si", "Ge"]]
    t122 += [[a, t, x] for a in ["Ca", "Sr", "Ba", "Eu"] for t in ["Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ru", "Rh", "Pd"]
             for x in ["P", "As"]]
    laves = [[a, b] for a in _G3 for b in ["Al", "Mn", "Fe", "Co", "Ni", "Ru", "Rh", "Os", "Ir", "Pt"]]
    return {"half_heusler": hh, "thorium_chromium_silicide": t122, "laves_C15": laves}


#: Whether a version's pool includes :func:`rule_families` (added for v2, after its first substituted labels showed
#: these three families yield the most stable materials per CPU-second).
RULE_FAMILIES_BY_VERSION = {"v0": False, "v1": False, "v2": True}


def raw_candidates(threshold: float = THRESHOLD, rules: bool = True) -> list[dict]:
    """All (prototype, role→species, score) candidates before ordering; deterministic.

    `threshold`: the ion-substitution probability cut; `rules`: include :func:`rule_families` (see
    ``RULE_FAMILIES_BY_VERSION``). Explicit and rule members of a family share the one ``seen`` check.
    """
    out, seen = [], set()
    for proto, seeds in IONIC_SEEDS.items():
        for seed in seeds:
            for prob, mapping in _seed_substitutions(seed, threshold):
                els = [_element(s) for s in mapping.values()]
                if len(set(els)) != len(els) or any(e not in ALLOWED for e in els):
                    continue
                if not _charge_balanced(proto, mapping):
                    continue
                key = (proto, element_roles(mapping))
                if key in seen:
                    continue
                seen.add(key)
                out.append(dict(prototype=proto, mapping=mapping, score=prob))
    families = [(p, lists) for p, lists in METALLIC.items()]
    if rules:
        families += list(rule_families().items())
    for proto, lists in families:
        roles = [r for r, _ in PROTOTYPES[proto][2]]
        # L1_2 / A15 list the majority element first (A); the rest follow the Wyckoff order.
        for els in lists:
            if any(e not in ALLOWED for e in els):
                continue
            mapping = dict(zip(_ordered_roles(roles), els))
            key = (proto, tuple(sorted(mapping.items())))
            if key not in seen:
                seen.add(key)
                out.append(dict(prototype=proto, mapping=mapping, score=1.0))
    return out


def _ordered_roles(roles: list[str]) -> list[str]:
    return sorted(set(roles))


def order_for_coverage(cands: list[dict], seed: int = 0) -> list[dict]:
    """Greedy order that covers every element early and round-robins over prototypes.

    Score of the next pick = Σ_elements 1/(1+times seen)² + 0.5/(1+prototype picks), ties by probability.
    So a partial run (e.g. the frozen v0) already spans many elements and structure types.
    """
    rng = np.random.default_rng(seed)
    remaining = list(cands)
    rng.shuffle(remaining)
    elements = [frozenset(_element(s) for s in c["mapping"].values()) for c in remaining]
    el_count: dict[str, int] = {}
    proto_count: dict[str, int] = {}
    ordered = []
    while remaining:
        scores = [sum(1.0 / (1 + el_count.get(e, 0)) ** 2 for e in els)
                  + 0.5 / (1 + proto_count.get(c["prototype"], 0)) + 0.05 * min(c["score"], 1.0)
                  for c, els in zip(remaining, elements)]
        best = int(np.argmax(scores))
        c, els = remaining.pop(best), elements.pop(best)
        for e in els:
            el_count[e] = el_count.get(e, 0) + 1
        proto_count[c["prototype"]] = proto_count.get(c["prototype"], 0) + 1
        ordered.append(c)
    return ordered


def build_candidate(candidate: dict) -> Structure:
    """The starting structure of a candidate from `candidate_list` (or an alloy reference, which has one)."""
    if "structure" in candidate:
        s = candidate["structure"]
        return s if isinstance(s, Structure) else Structure.from_dict(s)
    return build(candidate["prototype"], candidate["mapping"])


def alloy_references() -> list[dict]:
    """Ordered alloy supercells for the N-hot notebook (never in training).

    Mg3(Sb1−xBix)2, La2O3 type (P-3m1; Mg 1a, Mg 2d z=0.63, Pn 2d z=0.23), as 2×1×1 supercells with
    x = 0, ¼, ½, ¾, 1 (Bi on 0–4 of the 4 pnictogen sites), lattice by Vegard's law between
    Mg3Sb2 (a 4.57, c 7.23 Å) and Mg3Bi2 (a 4.67, c 7.40 Å); and Si1−xGex in the 8-atom diamond cell.
    """
    out = []
    for n_bi in range(5):
        x = n_bi / 4
        a, c = 4.57 + x * (4.67 - 4.57), 7.23 + x * (7.40 - 7.23)
        s = Structure.from_spacegroup(164, Lattice.hexagonal(a, c), ["Mg", "Mg", "Sb"],
                                      [(0, 0, 0), (1 / 3, 2 / 3, 0.63), (1 / 3, 2 / 3, 0.23)])
        s.make_supercell([2, 1, 1])
        pn = [i for i, site in enumerate(s) if site.specie.symbol == "Sb"]
        for i in pn[:n_bi]:
            s.replace(i, "Bi")
        out.append(dict(id=f"alloy-Mg3Sb2Bi-x{x:.2f}", prototype="alloy_Mg3(Sb,Bi)2", formula=s.composition.reduced_formula,
                        x=x, series="Mg3(Sb1-xBix)2", structure=s))
    for n_ge in range(0, 9, 2):
        x = n_ge / 8
        s = Structure.from_spacegroup(227, Lattice.cubic(5.43 + x * (5.66 - 5.43)), ["Si"], [(0, 0, 0)])
        for i in range(n_ge):
            s.replace(i, "Ge")
        out.append(dict(id=f"alloy-SiGe-x{x:.2f}", prototype="alloy_Si(Ge)", formula=s.composition.reduced_formula,
                        x=x, series="Si1-xGex", structure=s))
    return out


__all__ = ["alloy_references", "build_candidate", "candidate_id", "PROTOTYPES", "ALLOWED", "build", "raw_candidates",
           "order_for_coverage"]
