"""The dataset's datasheet: data/README.md and figures/data_*.png, generated from the packed dataset.

    python scripts/datasheet.py                   # (re)write data/README.md + figures/data_*.png (~30 s)
    python scripts/datasheet.py --no-candidates   # skip counting the candidate pool (saves ~25 s)
    python scripts/datasheet.py reference --phonopy-repo /path/to/phonopy(.git)
                                                  # recompute data/reference/dft_comparison.json (~2 min;
                                                  # needs sevenn, phonopy and a clone of github.com/phonopy/phonopy)

Every number in data/README.md is computed here, from ``utils.data.load_dataset()`` (the latest packed version
in data/versions.json), ``load_alloys()``, the code of ``utils.datagen`` and data/reference/dft_comparison.json;
nothing is typed in by hand. The datasheet records the dataset version and sha256 it was made from
(tests/test_datasheet.py checks that they match the packed file), so after every ``python -m utils.data pack``
run this script again.

The datasheet is a list of sections (``SECTIONS``), one function each, reading the numbers :func:`gather` computes
once; a new section is one more function. The ``reference`` command runs the comparison of the labels with DFT,
``utils.datagen.dft.compute_reference`` (phonopy's example force sets vs the dataset's labelling path); the
settings-convergence table comes from ``utils.datagen.convergence.convergence_summary``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils import data as D  # noqa: E402  (numpy only; the sections below read the packed dataset through it)
from utils.datagen.dft import REFERENCE_JSON, compute_reference  # noqa: E402  (the DFT comparison: section 6)

DATA_README = ROOT / "data" / "README.md"
FIGURES = ROOT / "figures"
MARKER = "datasheet-of"           # <!-- datasheet-of: {"version": ..., "sha256": ...} --> in data/README.md

PERIODIC_BLOCK = {"s": "#4c72b0", "p": "#55a868", "d": "#c44e52", "f": "#8172b2"}

# a label known to be unphysical, explained in section 2 (packed because it passes every rule)
SPINEL_OUTLIER = "spinel-MnFeO-063731"


def _fmt(x, nd: int = 0) -> str:
    """Thousands separators and fixed decimals; '–' for missing/NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:,.{nd}f}"


def _pct(x, nd: int = 1) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.{nd}f} %"


def _sig(x: float, n: int = 2) -> str:
    """x with n significant digits, plain notation where sensible."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else "–"
    return f"{x:.{n}g}" if 1e-4 <= abs(x) < 1e5 else f"{x:.{n - 1}e}"


def _md_table(header: list[str], rows: list[list], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---:" if a == "c" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _block(sym: str) -> str:
    from pymatgen.core import Element
    return Element(sym).block


def MaxNLocator(**kw):      # noqa: N802 (matplotlib imported lazily: the tests import this module)
    from matplotlib.ticker import MaxNLocator as _M
    return _M(**kw)


def _savefig(fig, path: Path) -> None:
    fig.savefig(path, dpi=130, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt
    plt.close(fig)


def figure_elements(ds, allowed: list[str], path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    counts = ds.elements()
    syms = sorted(set(allowed) | set(counts), key=D.atomic_number)
    vals = [counts.get(s, 0) for s in syms]
    colors = [PERIODIC_BLOCK.get(_block(s), "grey") for s in syms]
    fig, ax = plt.subplots(figsize=(max(8, 0.17 * len(syms)), 3.2))
    ax.bar(range(len(syms)), vals, color=colors, width=0.8)
    ax.set_xticks(range(len(syms)), syms, fontsize=6.5, rotation=90)
    ax.set_xlim(-0.7, len(syms) - 0.3)
    ax.set_ylabel("materials containing it")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    missing = [s for s in syms if counts.get(s, 0) == 0]
    ax.set_title(f"Elements of {ds.version} ({len(ds)} materials), in order of Z; "
                 f"{len(missing)} of the {len(syms)} allowed elements absent so far", fontsize=9)
    ax.legend(handles=[Patch(color=c, label=f"{b}-block") for b, c in PERIODIC_BLOCK.items()], fontsize=7,
              ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _savefig(fig, path)


def figure_atoms(ds, path: Path) -> None:
    import matplotlib.pyplot as plt

    n_atoms = np.asarray(ds.arrays["n_atoms"])
    split = np.asarray(ds.split_codes)
    xs = np.arange(1, n_atoms.max() + 1)
    fig, ax = plt.subplots(figsize=(6, 3))
    bottom = np.zeros(len(xs))
    for s, name in enumerate(D.SPLIT_NAMES):
        h = np.array([np.sum((n_atoms == x) & (split == s)) for x in xs])
        ax.bar(xs, h, bottom=bottom, label=f"{name} ({int((split == s).sum())})", width=0.8)
        bottom += h
    ax.set_xlabel("atoms in the (primitive) cell")
    ax.set_ylabel("materials")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xticks(xs)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(f"Atoms per cell, {ds.version}", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    _savefig(fig, path)


def figure_max_freq(ds, meta: dict, path: Path) -> None:
    import matplotlib.pyplot as plt
    w = np.asarray(ds.arrays["max_freq_cm1"], float)
    w = w[np.isfinite(w)]
    fig, ax = plt.subplots(figsize=(6, 3))
    hi = max(1050.0, float(w.max()) + 50 if w.size else 1050.0)
    ax.hist(w, bins=np.arange(0, hi + 50, 50), color="#4c72b0", edgecolor="white")
    ax.axvline(1000, color="k", ls="--", lw=1)
    ax.text(1000, ax.get_ylim()[1] * 0.95, " end of the 51-point\n target grid", fontsize=7, va="top")
    n_light = ((meta.get("excluded") or {}).get("light_modes_above_1000_cm1") or {}).get("count", 0)
    ax.set_xlabel("highest phonon frequency on the q-mesh (cm⁻¹)")
    ax.set_ylabel("materials")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Highest frequency, {ds.version} ({len(w)} materials; {n_light} excluded for > 5 % of "
                 "modes above 1000 cm⁻¹)", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    _savefig(fig, path)


def figure_dft(ref: dict, path: Path) -> None:
    import matplotlib.pyplot as plt
    crystals = ref["crystals"]
    n = len(crystals) + 1
    ncol = 4
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.5 * nrow), squeeze=False)
    step = ref["fine_grid"]["step_cm1"]
    for ax, c in zip(axes.flat, crystals):
        d, lab = np.asarray(c["fine_dos"]["dft"]), np.asarray(c["fine_dos"]["label"])
        f = ref["fine_grid"]["start_cm1"] + step * np.arange(len(d))
        ax.fill_between(f, d, color="0.75", label="DFT (phonopy example)")
        ax.plot(f, lab, color="#c44e52", lw=1.1, label="label (SevenNet-l3i5)")
        m = c["metrics"]
        ax.set_title(f"{c['formula']}  W₁ {m['wasserstein_cm1']:.0f} cm⁻¹, ω_max ×{m['max_freq_ratio']:.2f}",
                     fontsize=8.5)
        ax.set_xlim(0, f[-1])
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=6.5, frameon=False, loc="upper left")
    ax = axes.flat[len(crystals)]
    x = [c["dft"]["max_freq_cm1"] for c in crystals]
    y = [c["label"]["max_freq_cm1"] for c in crystals]
    lim = [0, 1.08 * max(x + y)]
    ax.plot(lim, lim, color="k", lw=0.8)
    ax.scatter(x, y, s=14, color="#c44e52", zorder=3)
    for c, xi, yi in zip(crystals, x, y):
        ax.annotate(c["formula"], (xi, yi), fontsize=6.5, xytext=(3, -8), textcoords="offset points")
    ax.set_xlim(lim), ax.set_ylim(lim)
    ax.set_xlabel("DFT ω_max (cm⁻¹)", fontsize=7.5)
    ax.set_ylabel("label ω_max (cm⁻¹)", fontsize=7.5)
    ax.tick_params(labelsize=7)
    ax.set_title("highest frequency", fontsize=8.5)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    for ax in axes[-1]:
        if ax.get_xlabel() == "":
            ax.set_xlabel("frequency (cm⁻¹)", fontsize=7.5)
    fig.suptitle("Phonon DoS: DFT force sets of phonopy's examples vs the dataset's labelling path (both without "
                 "LO–TO splitting, σ = {:g} cm⁻¹)".format(ref["settings"]["sigma_fine_cm1"]), fontsize=9)
    fig.tight_layout()
    _savefig(fig, path)


def _candidate_pool(version: str) -> dict | None:
    """Size of a version's candidate pool by family (ionic substitution vs explicit metallic lists); None on failure."""
    try:
        from utils.datagen import prototypes as P
        thr = P.THRESHOLD_BY_VERSION.get(version, P.THRESHOLD)
        rules = P.RULE_FAMILIES_BY_VERSION.get(version, True)
        raw = P.raw_candidates(thr, rules=rules)
        n_ionic = sum(1 for c in raw if any(s[-1] in "+-" for s in c["mapping"].values()))
        return dict(threshold=thr, rules=rules, n=len(raw), ionic=n_ionic, metallic=len(raw) - n_ionic)
    except Exception as exc:                     # the datasheet must still build
        print(f"warning: candidate pool not counted ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def _npz_listing(path: Path) -> list[list]:
    rows = []
    with np.load(path, allow_pickle=False) as z:
        for k in z.files:
            a = z[k]
            rows.append([f"`{k}`", f"{a.dtype}", "×".join(str(s) for s in a.shape) or "scalar"])
    return rows


class Facts(SimpleNamespace):
    """What the sections read: the dataset (``ds``, its ``meta`` and arrays ``a``), its alloys, the DFT reference
    (``ref``), the candidate pool, and the numbers computed once from them (see :func:`gather`)."""


def gather(data_dir: Path | None = None, reference: Path = REFERENCE_JSON, candidates: bool = True) -> Facts:
    """Load the latest packed version (and its alloys, the DFT reference, the candidate pool) and compute the numbers
    that more than one section reads."""
    from utils.datagen import prototypes as P

    data_dir = Path(data_dir) if data_dir else D.DATA_DIR
    ds = D.load_dataset(data_dir=data_dir)
    try:
        alloys = D.load_alloys(ds.version, data_dir=data_dir)
    except D.DataError as exc:
        print(f"warning: no alloys for {ds.version} ({exc})", file=sys.stderr)
        alloys = None
    meta = ds.meta
    a = ds.arrays
    settings = meta.get("settings") or {}
    counts = meta.get("counts") or {}
    versions_json = json.loads((data_dir / D.VERSIONS_FILE).read_text())
    ref = json.loads(reference.read_text()) if reference.exists() else None
    pool = _candidate_pool(ds.version) if candidates else None

    # ---------------------------------------------------------------------------------- numbers
    n = len(ds)
    el_counts = ds.elements()
    n_el = len(el_counts)
    n_el5 = sum(v >= 5 for v in el_counts.values())
    n_el10 = sum(v >= D.BALANCE_MIN_COUNT for v in el_counts.values())
    n_atoms = np.asarray(a["n_atoms"])
    types = Counter(np.asarray(a["structure_types"]).astype(str).tolist())
    protos = Counter(np.asarray(a["prototypes"]).astype(str).tolist())
    type_protos: dict[str, Counter] = {}
    proto_types: dict[str, set] = {}
    for p, t in zip(np.asarray(a["prototypes"]).astype(str), np.asarray(a["structure_types"]).astype(str)):
        type_protos.setdefault(t, Counter())[p] += 1
        proto_types.setdefault(p, set()).add(t)
    multi_type = sorted(p for p, ts in proto_types.items() if len(ts) > 1)
    shared_type = sorted(t for t, ps in type_protos.items() if len(ps) > 1)
    sizes = ds.split_sizes()
    element_sets = [ds.species(i) for i in range(n)]
    violations = D.split_balance_violations(element_sets, ds.split_codes)
    wmax = np.asarray(a["max_freq_cm1"], float)
    w1000 = np.asarray(a.get("weight_above_1000_cm1", np.full(n, np.nan)), float)
    iw_packed = np.asarray(a["imaginary_weight"], float)
    iwm = meta.get("imaginary_weight") or {}
    q = iwm.get("quantiles") or {}
    light = (meta.get("excluded") or {}).get("light_modes_above_1000_cm1") or {}
    invalid = (meta.get("excluded") or {}).get("invalid") or {}
    failed = meta.get("failed") or {}
    sec_total = np.asarray(a.get("seconds_total", np.full(n, np.nan)), float)
    wall = np.asarray(a.get("wall_s", np.full(n, np.nan)), float)
    cost = {k: np.asarray(a.get(f"seconds_{k}", np.full(n, np.nan)), float) for k in ("relax", "forces", "dos")}
    have_wall = np.isfinite(wall)
    label_dev = np.asarray(a.get("label_device", np.full(n, "cpu")), str)
    allowed = list(P.ALLOWED)
    absent = [s for s in allowed if el_counts.get(s, 0) == 0]
    gaps = [D.symbol(z) for z in range(D.atomic_number(allowed[0]), D.atomic_number(allowed[-1]) + 1) if D.symbol(z) not in allowed]
    prov_variants = meta.get("provenance_variants") or []
    sigma_f, sigma_c = settings.get("sigma_fine_cm1"), settings.get("sigma_coarse_cm1")

    sha_tag = json.dumps(dict(version=ds.version, sha256=ds.sha256,
                              alloys_sha256=alloys.sha256 if alloys is not None else None,
                              reference_commit=(ref or {}).get("source", {}).get("commit")))
    fname = ds.path.name if ds.path else f"phonon_dos_{ds.version}.npz"
    loop_variables = {"p", "t", "P"}
    return Facts(**{k: v for k, v in locals().items() if k not in loop_variables})


def section_header(f: Facts) -> list[str]:
    """The datasheet tag, the title and what this file is."""
    ds, fname, sha_tag = f.ds, f.fname, f.sha_tag
    L: list[str] = []
    add = L.append
    add(f"<!-- {MARKER}: {sha_tag} -->")
    add("<!-- Generated by `python scripts/datasheet.py` from the packed dataset; do not edit by hand. -->\n")
    add(f"# Datasheet: phonon DoS dataset {ds.version}\n")
    add(f"A *datasheet for datasets* (Gebru et al., Commun. ACM 64(12), 86, 2021) for `data/{fname}` "
        f"(sha256 `{ds.sha256}`), generated by `scripts/datasheet.py` on the packed file itself: every number "
        "below is computed from the data. The dataset grows while labelling continues; each packed version is "
        "frozen (its sha256 is in `data/versions.json`) and gets this datasheet regenerated.\n")
    return L


def section_at_a_glance(f: Facts) -> list[str]:
    """The summary table."""
    alloys, ds, have_wall, label_dev, meta, n, n_atoms, n_el, n_el5, protos, ref, sizes, types, wall, wmax = f.alloys, f.ds, f.have_wall, f.label_dev, f.meta, f.n, f.n_atoms, f.n_el, f.n_el5, f.protos, f.ref, f.sizes, f.types, f.wall, f.wmax
    L: list[str] = []
    add = L.append
    add("## At a glance\n")
    rows = [
        ["materials", _fmt(n)],
        ["elements (with ≥ 5 materials)", f"{n_el} ({n_el5})"],
        ["structure types (spglib space group + Wyckoff letters)", _fmt(len(types))],
        ["prototype families used", _fmt(len(protos))],
        ["atoms per cell (min – median – max)",
         f"{n_atoms.min()} – {_fmt(float(np.median(n_atoms)), 0)} – {n_atoms.max()}" if n else "–"],
        ["splits train / valid / test", f"{sizes['train']} / {sizes['valid']} / {sizes['test']}"],
        ["labeller", f"{meta.get('labeller')} + phonopy {(meta.get('versions') or {}).get('phonopy', '?')}"],
        ["highest frequency (min – median – max)",
         f"{_fmt(np.nanmin(wmax))} – {_fmt(np.nanmedian(wmax))} – {_fmt(np.nanmax(wmax))} cm⁻¹" if n else "–"],
        ["labelling cost per material (median, one worker)",
         ", ".join(f"{_fmt(np.nanmedian(wall[have_wall & (label_dev == d)]), 0)} s on {d}"
                   for d in sorted(set(label_dev[have_wall].tolist()))) if have_wall.any() else "–"],
        *([[f"label vs DFT, {len(ref['crystals'])} reference crystals (section 6)",
            f"median W₁ {np.median([c['metrics']['wasserstein_cm1'] for c in ref['crystals']]):.0f} cm⁻¹, "
            f"ω_max ×{np.median([c['metrics']['max_freq_ratio'] for c in ref['crystals']]):.2f}, mean ω ×"
            f"{np.median([c['metrics']['mean_freq_ratio'] for c in ref['crystals']]):.2f}"]] if ref else []),
        ["alloy reference cells (separate file, test only)", _fmt(len(alloys)) if alloys is not None else "–"],
        ["packed", meta.get("created", "?")],
    ]
    add(_md_table(["", ds.version], rows, "lr") + "\n")
    return L


def section_motivation(f: Facts) -> list[str]:
    """1. why this dataset exists."""
    L: list[str] = []
    add = L.append
    add("## 1. Motivation\n")
    add("The tutorial notebooks teach phonon-DoS prediction with e3nn (after Chen et al., Adv. Sci. 8, 2004214, "
        "2021, and the MRS 2021 tutorial by Andrejevic & Chen). They need a dataset that (i) ships with the "
        "repository and loads offline in under a second, (ii) has a licence that allows redistribution, (iii) "
        "carries the *fine* 3N-normalized DoS and the per-element (partial) DoS that notebooks 05–06 need for "
        "partial-DoS training, heat capacities and superconductivity estimates, and (iv) is regenerable by "
        "anyone with the code in `utils/datagen`. The original tutorial's DFPT data (section 7) have only the "
        "max-normalized 51-point DoS and are downloaded rather than shipped. This set is therefore labelled "
        "in-house with a universal machine-learned interatomic potential and phonopy. It is a teaching set: "
        "its labels are approximations of DFT (sections 5–6), not reference data.\n")
    return L


def section_composition(f: Facts) -> list[str]:
    """2. elements, structure types, atoms per cell, frequencies, splits, alloys."""
    absent, allowed, alloys, ds, gaps, meta, multi_type, n, n_atoms, n_el, n_el10, n_el5, protos, settings, shared_type, sizes, type_protos, types, violations, w1000, wmax = f.absent, f.allowed, f.alloys, f.ds, f.gaps, f.meta, f.multi_type, f.n, f.n_atoms, f.n_el, f.n_el10, f.n_el5, f.protos, f.settings, f.shared_type, f.sizes, f.type_protos, f.types, f.violations, f.w1000, f.wmax
    L: list[str] = []
    add = L.append
    add("## 2. Composition\n")
    add(f"**{_fmt(n)} crystalline materials**, each one ordered periodic crystal (no partial occupancy, no "
        f"defects, no surfaces), with {n_el} elements in all; {n_el5} elements occur in ≥ 5 materials and "
        f"{n_el10} in ≥ {D.BALANCE_MIN_COUNT}. The element pool allowed by the generator has {len(allowed)} "
        f"elements ({allowed[0]} to {allowed[-1]} without {', '.join(gaps)}); {len(absent)} of them are not yet in this version"
        + (f" ({', '.join(absent)})" if 0 < len(absent) <= 40 else "") + ".\n")
    add("![element counts](../figures/data_elements.png)\n")
    add(f"*Materials containing each element, in order of atomic number ({n_el} elements present).*\n")
    add(f"**Structure types.** The code classifier (`utils.data.classify_structure`: spglib space group + the "
        f"sorted Wyckoff letters of the occupied orbits, symprec {D.SYMPREC}) finds {len(types)} structure types "
        f"among the {len(protos)} prototype families used. "
        + ("Every prototype keeps one structure type after relaxation" if not multi_type else
           "Prototypes whose members ended in several structure types: " + ", ".join(multi_type))
        + ("; structure types shared by several prototypes (same space group and Wyckoff letters, different "
           "species arrangement): " + ", ".join(f"`{t}` ({' / '.join(sorted(type_protos[t]))})" for t in shared_type)
           if shared_type else "") + ".\n")
    trows = [[f"`{t}`", c, ", ".join(f"{p} ({k})" if len(type_protos[t]) > 1 else p
                                     for p, k in type_protos[t].most_common())]
             for t, c in types.most_common()]
    add(_md_table(["structure type", "materials", "prototype(s)"], trows, "lrl") + "\n")
    add(f"**Atoms per cell** (primitive cells): {n_atoms.min()} to {n_atoms.max()}, median "
        f"{_fmt(float(np.median(n_atoms)), 0)}; the labelling run skips cells above its `--max-atoms` limit and "
        f"supercells of more than {settings.get('max_atoms_supercell', '?')} atoms.\n")
    add("![atoms per cell](../figures/data_atoms_per_cell.png)\n")
    add(f"**Highest phonon frequency** (over the q-mesh): {_fmt(np.nanmin(wmax))}–{_fmt(np.nanmax(wmax))} cm⁻¹, "
        f"median {_fmt(np.nanmedian(wmax))} cm⁻¹; {int(np.sum(wmax > 1000))} packed materials have modes above "
        f"1000 cm⁻¹ (the largest weight above 1000 cm⁻¹ among them: {_pct(np.nanmax(w1000) if n else float('nan'))}).\n")
    high = [i for i in np.argsort(-wmax) if wmax[i] > 1000]
    if high:
        origin = ds.arrays["origin"] if "origin" in ds.arrays else None
        add("Above 1000 cm⁻¹: " + "; ".join(
            f"{ds.arrays['formulas'][i]} ({ds.arrays['prototypes'][i]}"
            f"{', ' + str(origin[i]) if origin is not None else ''}) {_fmt(wmax[i])} cm⁻¹" for i in high) + ".")
        if any(str(ds.ids[i]) == SPINEL_OUTLIER for i in high):
            sp = ds[SPINEL_OUTLIER]
            a_cubic = (4 * abs(np.linalg.det(sp.cell))) ** (1 / 3)   # fcc primitive cell: V = a³/4
            add(f"The highest, {SPINEL_OUTLIER} (MnFe₂O₄ in the spinel type, a substituted copy of the real "
                "ferrite jacobsite), is an artefact of the potential: the infrared bands of spinel ferrites lie "
                "below ~600–700 cm⁻¹ (Waldron, Phys. Rev. 99, 1727, 1955), and the potential has no spin for a "
                "crystal whose Mn²⁺ and Fe³⁺ are high-spin ferrimagnets (its lattice relaxes to "
                f"a = {a_cubic:.2f} Å against 8.51 Å measured, Wyckoff's *Crystal Structures*). It is kept because it passes every rule (its weight above 1000 cm⁻¹ is below "
                f"the {D.LIGHT_MODE_LIMIT:.0%} cut) and is listed here so that nobody reads its spectrum as a "
                "measurement.")
        add("")
    add("![highest frequency](../figures/data_max_frequency.png)\n")
    add(f"**Splits.** {sizes['train']} train / {sizes['valid']} valid / {sizes['test']} test "
        f"(target fractions {' / '.join(str(f) for f in D.SPLIT_FRACTIONS)}, the original tutorial's "
        f"proportions), from `utils.data.element_balanced_split` (seed "
        f"{(meta.get('split') or {}).get('seed', '?')}): materials are assigned rarest element first to the split "
        "with the largest deficit, then pairs are swapped until the balance rule holds — every element with "
        f"≥ {D.BALANCE_MIN_COUNT} materials has a share in each split within ±{D.BALANCE_TOL:.0%} of that split's "
        f"overall share. Here {n_el10} elements are subject to the rule and "
        + ("it holds for all of them." if not violations else f"{len(violations)} violate it: "
           + "; ".join(violations[:5]) + ".")
        + " Elements rarer than that can be absent from valid/test. The split is stored in the file "
          "(`split`), so every notebook sees the same one.\n")
    if alloys is not None:
        series = Counter(np.asarray(alloys.arrays["series"]).astype(str).tolist())
        add(f"**Alloys** (`alloys_{ds.version}.npz`, {len(alloys)} cells, all in `test`, never trained on): "
            + ", ".join(f"{s} ({c} compositions)" for s, c in series.items())
            + ", ordered supercells of the end members, labelled like the main set; notebook 05 uses them with "
              "the N-hot input.\n")
    return L


def section_structures(f: Facts) -> list[str]:
    """3.1 how the candidate structures were generated."""
    from utils.datagen import prototypes as P
    counts, n, pool = f.counts, f.n, f.pool
    L: list[str] = []
    add = L.append
    add("## 3. How the data were made\n")
    add("### 3.1 Structures\n")
    ionic = sorted(P.IONIC_SEEDS)
    metallic = sorted(P.METALLIC)
    add(f"Candidates are real structure types (space group + Wyckoff positions of a known compound; "
        f"{len(P.PROTOTYPES)} prototypes in `utils/datagen/prototypes.py`) decorated with compositions of two kinds:\n")
    add(f"* **Ionic families** ({len(ionic)}: {', '.join(ionic)}): starting from seed compounds of the type "
        f"({sum(len(v) for v in P.IONIC_SEEDS.values())} seeds, e.g. NaCl, MgO, ZnS, SrTiO3), species are "
        "substituted with pymatgen's data-mined ion-substitution probabilities (Hautier et al., Inorg. Chem. 50, "
        "656, 2011) above a threshold; only charge-balanced compositions of distinct elements from the allowed "
        "pool are kept (anions missing from the substitution table, e.g. Te²⁻ and the pnictides, go through a "
        "lighter same-group proxy).")
    add(f"* **Explicit members** ({len(metallic)} families: {', '.join(metallic)}): lists of known compounds "
        f"or elements of the type ({sum(len(v) for v in P.METALLIC.values())} compositions): elemental metals and "
        "semiconductors, intermetallics (B2, L1₂, A15, Laves C15, Heusler, ThCr₂Si₂), borides, carbides and "
        "nitrides (AlB₂, WC, rocksalt), and ionic compounds whose elements the substitution model misses "
        "(Be chalcogenides, BN, SiC).")
    if pool and pool.get("rules"):
        fam = P.rule_families()
        add(f"* **Rule-generated members** (from v2; `rule_families`): the {len(fam['half_heusler'])} half-Heusler "
            "compositions allowed by the 18-electron rule (X from groups 3–5, Y from groups 8–10, Z = Ge, Sn, Pb, Sb, "
            "Bi; Graf, Felser & Parkin, Prog. Solid State Chem. 39, 1, 2011) and the 8-electron Nowotny–Juza phases "
            f"(e.g. LiZnAs), and {len(fam['thorium_chromium_silicide'])} ThCr₂Si₂-type AT₂X₂ compositions (rare "
            "earth with a late transition metal and Si or Ge; alkaline earth or Eu with Mn–Zn, Ru, Rh, Pd and P or "
            f"As; Shatruk, J. Solid State Chem. 272, 198, 2019) and {len(fam['laves_C15'])} Laves C15 AB₂ "
            "compositions (rare earth, Sc or Y with Al, Mn, Fe, Co, Ni, Ru, Rh, Os, Ir or Pt; Stein, Palm & "
            "Sauthoff, Intermetallics 12, 713, 2004). These families gave the most stable materials per "
            "CPU-second among v2's first labels. Like every substituted candidate they are hypothetical until "
            "labelled; the hull and stability rules judge each one.")
    if pool:
        add(f"\nWith this version's threshold ({pool['threshold']:g}) the pool holds {_fmt(pool['n'])} candidates "
            f"({_fmt(pool['ionic'])} ionic, {_fmt(pool['metallic'])} explicit). The first part of the labelling "
            f"ran in coverage order (`order_for_coverage`: spread over elements and prototypes first), the rest "
            f"by expected yield (`--order yield`: stable materials per second measured per prototype, likeliest "
            f"compositions first); this version ({_fmt(counts.get('unique', n))} attempted, {_fmt(n)} packed) is "
            "therefore not a random sample of the pool.\n")
    else:
        add("\nThe labelling order (`order_for_coverage`) first spreads over elements and prototypes, so a partial "
            "run already spans many elements; it is not a random sample of the pool.\n")
    add("The starting lattice is scaled so that the shortest contact equals the sum of ionic (or metallic) radii, "
        "then (except for the layered CdI₂ and 2H-MoS₂ types) to pymatgen's bond-length volume prediction; the "
        "primitive cell is labelled. Which members of a family are real, stable compounds is *not* checked "
        "against a database: the potential's relaxation and the stability rule (3.4) decide what is kept, so "
        "some materials are hypothetical.\n")
    return L


def section_relaxation(f: Facts) -> list[str]:
    """3.2 the labelling settings."""
    meta, prov_variants, settings, sigma_c, sigma_f = f.meta, f.prov_variants, f.settings, f.sigma_c, f.sigma_f
    L: list[str] = []
    add = L.append
    add("### 3.2 Relaxation and phonons\n")
    v = meta.get("versions") or {}
    add(f"Labeller **{meta.get('labeller')}** (SevenNet, Park et al., J. Chem. Theory Comput. 20, 4857, 2024; "
        f"a universal potential trained on PBE(+U) data), package versions "
        + ", ".join(f"{k} {v[k]}" for k in sorted(v)) + ". Per material (`utils.datagen.label.label_atoms`):\n")
    srows = [
        ["relaxation", f"ase BFGS on cell + positions (FrechetCellFilter) keeping the space group (FixSymmetry, "
                       f"symprec 1e-3); fmax {settings.get('fmax_eV_A')} eV/Å, ≤ {settings.get('relax_steps')} steps; "
                       f"rejected if the volume changes by more than ±{_pct(settings.get('max_volume_change', float('nan')), 0)}"],
        ["supercell", f"diagonal, every lattice vector ≥ {settings.get('supercell_min_length_A')} Å, ≤ "
                      f"{settings.get('max_atoms_supercell')} atoms"],
        ["displacements", f"phonopy finite displacements of {settings.get('displacement_A')} Å (symmetry-reduced), "
                          "forces from the potential with the drift removed; force constants symmetrized"],
        ["q-mesh", f"Γ-centred, n_i = round({settings.get('mesh_length_A')} Å · \\|b_i\\|) capped at "
                   f"{settings.get('mesh_max')}, with eigenvectors (for the per-element DoS)"],
        ["fine DoS", f"0–2000 cm⁻¹, step 2 cm⁻¹ (1001 points), Gaussian σ = {sigma_f} cm⁻¹, ∫ = 3N"],
        ["target DoS", f"0–1000 cm⁻¹, 51 points (the original tutorial's grid), Gaussian σ = {sigma_c} cm⁻¹, max = 1"],
        ["per-element DoS", "mode weight on element E = Σ_{j∈E} \\|e_jν(q)\\|², same broadening as the fine DoS; sums to it"],
    ]
    add(_md_table(["step", "setting"], srows, "ll") + "\n")
    if prov_variants:
        add(f"Records of this version come from {len(prov_variants)} different provenance settings: "
            + "; ".join(f"{p.get('labeller')} on {p.get('device', 'cpu')} (torch {(p.get('versions') or {}).get('torch', '?')}, "
                        f"numpy {(p.get('versions') or {}).get('numpy', '?')}) ×{p.get('n')}" for p in prov_variants)
            + ". The settings are the same in all of them; records labelled on the GPU machine were built there "
              "from pre-built starting structures (`export-tasks`), hence no pymatgen version.\n")
    return L


def section_outcomes(f: Facts) -> list[str]:
    """3.3 counts and failure reasons of the labelling run."""
    counts, failed, invalid = f.counts, f.failed, f.invalid
    L: list[str] = []
    add = L.append
    add("### 3.3 Outcomes of the labelling run\n")
    orows = [[k, _fmt(counts.get(k))] for k in
             ("unique", "labelled", "failed", "stable", "unstable", "invalid", "excluded_light", "packed")
             if k in counts]
    add(_md_table(["records", "count"], orows) + "\n")
    add("`unique`: candidates attempted; `failed`: no phonons (reasons below); `unstable`: imaginary-mode weight "
        "above the rule (3.4); `invalid`: failed `utils.data.validate_record`; `excluded_light`: the light-element "
        "rule (3.5); `packed`: in the file.\n")
    if failed.get("reasons"):
        add(_md_table(["failure reason (numbers blanked as #)", "records"],
                      [[r.replace("|", "\\|"), c] for r, c in failed["reasons"].items()]) + "\n")
        add("A volume change beyond the limit means that the relaxation went far from the starting cell: either "
            "the starting volume (contact radii / bond-length prediction) was far off, or the composition does not "
            "keep that structure type under the potential. Such candidates are dropped, not restarted.\n")
    if invalid.get("count"):
        add(f"{invalid['count']} stable records were invalid: "
            + "; ".join(f"{r} ({c})" for r, c in invalid.get("reasons", {}).items()) + ".\n")
    return L


def section_stability(f: Facts) -> list[str]:
    """3.4 the stability rule and the imaginary-mode weights."""
    iw_packed, iwm, n, q, settings = f.iw_packed, f.iwm, f.n, f.q, f.settings
    L: list[str] = []
    add = L.append
    add("### 3.4 Stability rule and imaginary modes\n")
    thr = settings.get("imaginary_threshold_cm1")
    lim = settings.get("max_imaginary_weight")
    add(f"A material is kept if the weight of modes below {thr} cm⁻¹ (imaginary modes are reported as negative "
        f"frequencies) is at most {_pct(lim, 0) if lim is not None else '?'} of all modes on the q-mesh "
        f"(`utils.datagen.label.is_stable`). Distribution of that weight over all {iwm.get('n', '?')} labelled "
        "records of this version (stable and unstable):\n")
    if q:
        add(_md_table(["quantile"] + [f"{float(k):g}" for k in q],
                      [["imaginary-mode weight"] + [_sig(float(x), 2) for x in q.values()]],
                      "l" + "r" * len(q)) + "\n")
    add(f"{iwm.get('n_above_1pct', '?')} records exceed 1 % and were dropped (their statistics stay in the "
        f"labels, their spectra do not). In the packed set the largest weight is "
        f"{_sig(float(np.nanmax(iw_packed)), 2) if n else '–'}; the tolerance is meant for numerical noise near Γ "
        "(acoustic sum rule, finite supercell), not for real instabilities. A relaxed "
        "structure that is only metastable for the potential can still pass; one that is unstable for the "
        "potential but stable in reality is lost.\n")
    return L


def section_light_elements(f: Facts) -> list[str]:
    """3.5 the materials excluded for modes above 1000 cm⁻¹."""
    light = f.light
    L: list[str] = []
    add = L.append
    add("### 3.5 Light-element decision\n")
    add(f"Materials with more than {D.LIGHT_MODE_LIMIT:.0%} of their modes above 1000 cm⁻¹ are excluded: the "
        f"51-point target ends at 1000 cm⁻¹ (the original tutorial's grid), so their max-normalized target would "
        f"miss a visible part of the spectrum. This removed **{light.get('count', 0)}** stable material(s) from "
        f"this version" + (f" ({', '.join(f'`{i}`' for i in light.get('ids', [])[:12])}"
                           + (", …" if len(light.get("ids", [])) > 12 else "") + ")" if light.get("ids") else "")
        + ". Hydrogen lies outside the generator's element pool, so hydrides do not occur at all. The fine DoS goes to 2000 cm⁻¹ and keeps every mode of the materials that remain.\n")
    return L


def section_isolated_atoms(f: Facts) -> list[str]:
    """3.6 the materials excluded at the graph cutoff."""
    meta = f.meta
    L: list[str] = []
    add = L.append
    isolated = (meta.get("excluded") or {}).get("isolated_at_r_max") or {}
    add("### 3.6 Atoms without a neighbour at the graph cutoff\n")
    add(f"A crystal graph joins atoms closer than r_max = {D.GRAPH_R_MAX:g} Å (the series' cutoff, as in the original "
        f"tutorial); a material in which some atom has no neighbour that close (periodic images included) cannot be "
        f"a graph at that cutoff, so it is excluded. This removed **{isolated.get('count', 0)}** stable material(s)"
        + (f" ({', '.join(f'`{i}`' for i in isolated.get('ids', []))})" if isolated.get("ids") else "")
        + "; a larger r_max would keep them at the price of more edges.\n")
    return L


def section_rare_elements(f: Facts) -> list[str]:
    """3.7 the materials excluded for a rare element."""
    meta = f.meta
    L: list[str] = []
    add = L.append
    rare = (meta.get("excluded") or {}).get("rare_elements")
    if rare is not None:
        add("### 3.7 Elements in fewer than five materials\n")
        add(f"Every element of a packed version occurs in at least {D.MIN_MATERIALS_PER_ELEMENT} materials: "
            "materials that contain a rarer element are dropped, repeatedly, until none is left "
            f"(`utils.data.drop_rare_elements`). A network cannot learn an element from one to four examples, "
            f"and the split could not place it in every part. This removed **{rare.get('count', 0)}** material(s)"
            + (f" with {', '.join(rare.get('elements', []))}" if rare.get("elements") else "") + ".\n")
    return L


def section_convergence(f: Facts) -> list[str]:
    """3.8 the settings against converged ones (utils.datagen.convergence)."""
    from utils.datagen.convergence import convergence_summary
    L: list[str] = []
    add = L.append
    conv = convergence_summary()
    add("### 3.8 Convergence of the settings\n")
    if conv:
        add(f"`python -m utils.datagen converge` recomputes the phonons of {len(conv['rows'])} stable materials (one per "
            "structure family, 1–28 atoms) from their stored relaxed structures with the same potential, at the "
            "dataset's settings and at a converged reference: every supercell vector ≥ 10 Å and a fixed "
            "24×24×24 q-mesh. The difference is the loss from the cheaper settings "
            "(`data/reference/label_convergence_raw.json.gz`):\n")
        add(_md_table(["material", "atoms", "supercell (dataset → reference)", "q-mesh (dataset)", "W₁ (cm⁻¹)",
                       "MSE of 51-pt target", "ω_max change", "C_V(300 K) change"],
                      [[r["formula"], r["n_atoms"], r["supercells"], r["mesh"], _fmt(r["w1"], 2), _sig(r["mse"], 2),
                        _pct(r["dwmax"], 1), _pct(r["dcv"], 2)] for r in conv["rows"]], "lrllrrrr") + "\n")
        add(f"Median W₁ {_fmt(conv['median_w1'], 2)} cm⁻¹ (max {_fmt(conv['max_w1'], 2)}), median MSE of the "
            f"51-point target {_sig(conv['median_mse'], 2)} (max {_sig(conv['max_mse'], 2)}), largest |ω_max| change "
            f"{_pct(conv['max_dwmax'], 1)}: an order of magnitude below the model errors of the series (notebook 03: "
            "test MSE of order 10⁻², W₁ of order 20 cm⁻¹) and below the potential's own softening (section 6), so the cheaper settings "
            "cost no accuracy that matters here. The reference supercells have up to "
            f"{conv['max_ratio_atoms']:.1f}× the atoms of the dataset's (force time grows at least linearly with "
            "them).\n")
    else:
        add("No convergence check is stored (`python -m utils.datagen converge`).\n")
    return L


def section_cost(f: Facts) -> list[str]:
    """4. labelling cost per material and device."""
    cost, have_wall, label_dev, wall = f.cost, f.have_wall, f.label_dev, f.wall
    L: list[str] = []
    add = L.append
    add("## 4. Labelling cost\n")
    if have_wall.any():
        part = {k: np.nansum(v) for k, v in cost.items()}
        tot = sum(part.values())
        add("Measured per material from the stored timings (`wall_s`: wall-clock seconds of one worker process from "
            "building the structure to the DoS), over the packed materials, by where the potential ran. On CPU each "
            "worker is single-threaded, so `wall_s` ≈ core-seconds (an upper bound when the machine is shared); "
            "`cuda` records came from two runs of 9 and 12 worker processes sharing one NVIDIA H200 GPU (the first "
            "next to 6 CPU workers on the same 16-core machine), so their `wall_s` is per worker, with the GPU "
            "shared:\n")
        rows = []
        for dev in sorted(set(label_dev[have_wall].tolist())):
            ww = wall[have_wall & (label_dev == dev)]
            rows.append([dev, _fmt(len(ww)), _fmt(float(np.median(ww)), 1), _fmt(float(np.quantile(ww, 0.9)), 1),
                         _fmt(float(ww.max()), 1), f"{ww.sum() / 3600:.2f} h"])
        add(_md_table(["device", "materials", "median s", "90th pct s", "max s", "total worker time"], rows,
                      "lrrrrr") + "\n")
        if tot > 0:
            add(f"Of the time inside `label_atoms`: relaxation {_pct(part['relax'] / tot, 0)}, forces of the "
                f"displaced supercells {_pct(part['forces'] / tot, 0)}, q-mesh + DoS {_pct(part['dos'] / tot, 0)}. "
                "The unstable and failed records cost time too (not in the packed file; their timings are in "
                "`data/labels/`).\n")
    else:
        add("No timings are stored in this version.\n")
    return L


def section_limits(f: Facts) -> list[str]:
    """5. what the labels are and are not."""
    ds, ref, settings, sigma_c, sigma_f = f.ds, f.ref, f.settings, f.sigma_c, f.sigma_f
    L: list[str] = []
    add = L.append
    add("## 5. What the labels are — and are not\n")
    limits = [
        "**A universal potential, not DFT.** Forces come from SevenNet-l3i5, trained on PBE(+U) relaxation data. "
        "Universal potentials are known to *soften* phonons systematically (their potential-energy surface is "
        "too flat; Deng et al., npj Comput. Mater. 11, 9, 2025, doi:10.1038/s41524-024-01500-6).",
        "**Harmonic, 0 K.** Force constants from one small displacement: no anharmonicity, no thermal expansion, "
        "no temperature dependence; the C_V of notebook 06 is the harmonic one.",
        "**No LO–TO splitting.** No Born charges or dielectric tensors, so polar crystals lack the non-analytical "
        "correction: the longitudinal optical modes near Γ are as low as the transverse ones.",
        f"**Broadening and sampling.** Gaussian σ = {sigma_f} cm⁻¹ (fine) and {sigma_c} cm⁻¹ (51-point target) on a "
        f"finite q-mesh (length {settings.get('mesh_length_A')} Å, ≤ {settings.get('mesh_max')} points per axis): "
        "van Hove singularities are smoothed, and the 20 cm⁻¹ target spacing cannot resolve narrower features.",
        "**Target grid 0–1000 cm⁻¹ vs fine grid 0–2000 cm⁻¹.** The model's 51-point target is max-normalized, so "
        "it carries the shape only; the fine DoS keeps the 3N normalization and every mode up to 2000 cm⁻¹.",
        "**Magnetism, electrons.** The potential has no spin; magnetic materials are treated as if non-magnetic, "
        "and electron–phonon effects (Kohn anomalies) are absent.",
        ("**Hypothetical compounds.** " + (f"{_pct(np.mean(ds.arrays['origin'] == 'substituted'), 0)} of the materials "
         "are substituted candidates: stable with the potential, but not known to exist (3.1, 3.10); "
         "`Material.known` tells them apart." if "origin" in ds.arrays else
         "Structures are generated, not taken from experiment (3.1).")),
    ]
    if ref:
        ms = [c["metrics"] for c in ref["crystals"]]
        r = np.array([m["max_freq_ratio"] for m in ms])
        mr = np.array([m["mean_freq_ratio"] for m in ms])
        limits[0] += (f" Against the DFT references of section 6 the highest frequency is "
                      f"{_fmt(100 * (1 - np.median(r)), 0)} % lower in the median (ratio {r.min():.2f}–{r.max():.2f} "
                      f"over {len(r)} crystals) and the mean frequency {_fmt(100 * (1 - np.median(mr)), 0)} % lower "
                      f"(ratio {mr.min():.2f}–{mr.max():.2f}).")
    try:
        from utils.datagen.experiment import read_results
        ex = read_results()["summary"]
    except FileNotFoundError:
        ex = {}
    if ex.get("n"):
        limits[0] += (f" Against measured highest frequencies of {ex['n']} elemental crystals (section 6) the labels are "
                      f"{_fmt(100 * (1 - ex['median_ratio']), 0)} % low in the median (ratio {ex['min_ratio']:.2f}–"
                      f"{ex['max_ratio']:.2f}).")
    if ref:
        ne = [(c["formula"], c["dft"]["max_freq_cm1"], c["nac_effect"]) for c in ref["crystals"]
              if c.get("nac_effect") and "error" not in c["nac_effect"]]
        if ne:
            wn = np.array([e["wasserstein_cm1_nac_vs_no_nac"] for _, _, e in ne])
            med_w1 = float(np.median([c["metrics"]["wasserstein_cm1"] for c in ref["crystals"]]))
            limits[2] += (" Measured on the DFT references that ship Born charges ("
                          + ", ".join(f for f, _, _ in ne) + f"): adding the correction changes the DoS by W₁ "
                          f"{wn.min():.1f}–{wn.max():.1f} cm⁻¹ and ω_max by "
                          + ", ".join(f"{f} {e['max_freq_cm1_with_nac'] / w - 1:+.0%}" for f, w, e in ne)
                          + f" — small for the DoS as a whole (label vs DFT: median W₁ {med_w1:.1f} cm⁻¹), but the "
                            "LO band edge of strongly ionic crystals is missing from the labels.")
    for x in limits:
        add(f"* {x}")
    add("")
    return L


def section_dft_comparison(f: Facts) -> list[str]:
    """6. the labels against DFT (utils.datagen.dft)."""
    ref = f.ref
    L: list[str] = []
    add = L.append
    add("## 6. Comparison with DFT\n")
    if ref:
        src = ref["source"]
        add(f"Reference: the DFT force sets (VASP, where the example records it) shipped as examples with phonopy ({src['repository']}, commit "
            f"`{src['commit'][:12]}` of {src['commit_date'][:10]}, {src['license']}). For each crystal the DFT DoS "
            "is computed from the example's force sets with the labeller's own functions and settings "
            f"(`dos_from_phonopy`: q-mesh of length {ref['settings']['mesh_length_A']} Å, σ = "
            f"{ref['settings']['sigma_fine_cm1']} cm⁻¹ on the fine grid) and **without** the non-analytical "
            "correction even where the example ships Born charges, so that both sides lack LO–TO splitting. The "
            "label is computed by the dataset's own path: the example's primitive cell relaxed by SevenNet-l3i5, "
            "then `label_atoms` (its own supercell ≥ "
            f"{ref['settings']['supercell_min_length_A']} Å). W₁: Wasserstein distance between the unit-area fine "
            "DoS; ω_max: highest frequency on the q-mesh; C_V(300 K) per mole of atoms. Data: "
            "`data/reference/dft_comparison.json` (recomputed by `python scripts/datasheet.py reference "
            "--phonopy-repo …`).\n")
        rows = []
        for c in ref["crystals"]:
            m, d, lb = c["metrics"], c["dft"], c["label"]
            rows.append([f"{c['formula']} ({c['kind']})", d.get("functional", "not recorded"),
                         _fmt(m["wasserstein_cm1"], 1), _fmt(d["max_freq_cm1"], 0), _fmt(lb["max_freq_cm1"], 0),
                         f"{m['max_freq_ratio']:.3f}", f"{m['mean_freq_ratio']:.3f}", f"{m['volume_ratio']:.3f}",
                         _fmt(m["cv300_dft_J_molK"], 2), _fmt(m["cv300_label_J_molK"], 2),
                         f"{m['cv300_diff_J_molK']:+.2f}"])
        ms = [c["metrics"] for c in ref["crystals"]]
        rows.append(["**median**", "", _fmt(float(np.median([m["wasserstein_cm1"] for m in ms])), 1), "", "",
                     f"{np.median([m['max_freq_ratio'] for m in ms]):.3f}",
                     f"{np.median([m['mean_freq_ratio'] for m in ms]):.3f}",
                     f"{np.median([m['volume_ratio'] for m in ms]):.3f}", "", "",
                     f"{np.median([m['cv300_diff_J_molK'] for m in ms]):+.2f}"])
        add(_md_table(["crystal", "DFT functional", "W₁ (cm⁻¹)", "ω_max DFT (cm⁻¹)", "ω_max label (cm⁻¹)",
                       "ω_max ratio", "mean-ω ratio", "volume ratio", "C_V DFT", "C_V label", "ΔC_V"],
                      rows) + "\n")
        add("Ratios are label / DFT; C_V(300 K) in J/(mol K) per mole of atoms.\n")
        add("![DFT vs label](../figures/data_dft_comparison.png)\n")
        worst = max(ref["crystals"], key=lambda c: c["metrics"]["wasserstein_cm1"])
        soft = min(ref["crystals"], key=lambda c: c["metrics"]["max_freq_ratio"])
        cvd = np.array([abs(m["cv300_rel_diff_pct"]) for m in ms])
        cvw = max(ref["crystals"], key=lambda c: abs(c["metrics"]["cv300_rel_diff_pct"]))
        mr = np.array([m["mean_freq_ratio"] for m in ms])
        add(f"Reading: the labels reproduce the shape of the DFT DoS (acoustic and optical bands, gaps); the mean "
            f"frequency is lower than DFT's for {int(np.sum(mr < 0.995))} of the {len(mr)} crystals (ratio "
            f"{mr.min():.2f}–{mr.max():.2f}); the largest W₁ is {worst['formula']} "
            f"({worst['metrics']['wasserstein_cm1']:.0f} cm⁻¹) and the strongest softening of ω_max is "
            f"{soft['formula']} (×{soft['metrics']['max_freq_ratio']:.2f}). Softer modes raise C_V(300 K): "
            f"|ΔC_V| is at most {cvd.max():.1f} % of the DFT value ({cvw['formula']}).\n")
        dec = [c for c in ref["crystals"] if c.get("potential_on_dft_setup")]
        if dec:
            add("**Where the differences come from.** The same potential was also run on each example's *own* "
                "cell, supercell and displacements (no relaxation; the DFT forces replaced by the potential's). "
                "Against DFT this isolates the potential's force constants; against the label it shows what the "
                "labelling protocol adds (the potential's equilibrium volume, the dataset's supercell). The last "
                "columns show, for the examples that ship Born charges, how much the DFT DoS itself changes when "
                "the LO–TO correction is applied.\n")
            drows = []
            for c in dec:
                p_, ne = c["potential_on_dft_setup"], c.get("nac_effect") or {}
                drows.append([
                    c["formula"], f"{c['dft']['n_atoms_supercell']} / {c['label']['n_atoms_supercell']}",
                    _fmt(p_["wasserstein_cm1_vs_dft"], 1), f"{p_['max_freq_ratio_vs_dft']:.3f}",
                    f"{p_['mean_freq_ratio_vs_dft']:.3f}", _fmt(p_["wasserstein_cm1_vs_label"], 1),
                    _fmt(ne.get("wasserstein_cm1_nac_vs_no_nac"), 1) if "error" not in ne else "–",
                    f"{ne['max_freq_cm1_with_nac'] / c['dft']['max_freq_cm1']:.3f}"
                    if ne.get("max_freq_cm1_with_nac") else "–"])
            add(_md_table(["crystal", "supercell atoms DFT / label", "W₁ potential vs DFT (cm⁻¹)",
                           "ω_max ratio potential / DFT", "mean-ω ratio potential / DFT",
                           "W₁ potential vs label (cm⁻¹)", "W₁ with vs without LO–TO (DFT, cm⁻¹)",
                           "ω_max ratio with / without LO–TO (DFT)"], drows) + "\n")
            wp = np.array([c["potential_on_dft_setup"]["wasserstein_cm1_vs_dft"] for c in dec])
            wl = np.array([c["metrics"]["wasserstein_cm1"] for c in dec])
            wpl = np.array([c["potential_on_dft_setup"]["wasserstein_cm1_vs_label"] for c in dec])
            add(f"On the DFT setup the potential alone gives W₁ {wp.min():.1f}–{wp.max():.1f} cm⁻¹ (median "
                f"{np.median(wp):.1f}) against {wl.min():.1f}–{wl.max():.1f} (median {np.median(wl):.1f}) for the "
                f"full labelling path; the protocol differences (volume, supercell) amount to W₁ "
                f"{wpl.min():.1f}–{wpl.max():.1f} cm⁻¹ (median {np.median(wpl):.1f}). "
                + ("Most of the label-vs-DFT distance is therefore the potential's own."
                   if np.median(wp) >= np.median(wpl)
                   else "The protocol (volume, supercell) contributes as much as the potential itself.")
                + "".join(f" For {c['formula']} the protocol moves ω_max from ×"
                          f"{c['potential_on_dft_setup']['max_freq_ratio_vs_dft']:.2f} (potential on the DFT setup) "
                          f"to ×{c['metrics']['max_freq_ratio']:.2f} (label): "
                          f"{'the supercell differs' if c['dft']['n_atoms_supercell'] != c['label']['n_atoms_supercell'] else 'same supercell size'}"
                          f", volume ratio {c['metrics']['volume_ratio']:.3f}."
                          for c in dec if abs(c["metrics"]["max_freq_ratio"]
                                              - c["potential_on_dft_setup"]["max_freq_ratio_vs_dft"]) > 0.03)
                + "\n")
        add("The references are few and simple crystals, and the DFT side has its own choices (functional as "
            "listed — the potential was trained on PBE(+U) data —, cutoffs, the supercell of each example): treat "
            "these numbers as a sanity check of the labelling path, not as an accuracy estimate for the whole "
            "set.\n")
    else:
        add("No reference file (`data/reference/dft_comparison.json`) yet: run `python scripts/datasheet.py "
            "reference --phonopy-repo <clone of github.com/phonopy/phonopy>`.\n")
    return L


def section_original_data(f: Facts) -> list[str]:
    """7. the original tutorial's data."""
    L: list[str] = []
    add = L.append
    add("## 7. The original tutorial's DFPT data\n")
    add("The MRS 2021 tutorial (Andrejevic & Chen, github.com/ninarina12/phononDoS_tutorial) trains on 1,521 "
        "DFPT phonon DoS from Petretto et al., *High-throughput density-functional perturbation theory phonons "
        "for inorganic materials*, Sci. Data 5, 180065 (2018) (ABINIT, PBEsol, with LO–TO splitting, Materials "
        "Project structures). It is not redistributed here. `utils.data.load_dataset(source='original')` "
        "(= `load_original()`) downloads the tutorial's `data/data.csv` once into `data/cache/` (resumable, "
        "sha256-checked), parses it *without* `eval` (`parse_literal`), resamples each DoS to the same 51-point "
        "0–1000 cm⁻¹ grid, max-normalizes it and makes an element-balanced split with the same rule as here. It "
        "has no fine DoS and no per-element DoS (`fine_dos`/`pdos` are `None`), so notebooks 02–04 can switch to "
        "it and notebooks 05–06 cannot. The two sets differ in method (DFPT vs a universal potential), "
        "functional, structures (experimental vs generated) and LO–TO treatment: models trained on one should "
        "not be scored on the other without saying so.\n")
    return L


def section_files(f: Facts) -> list[str]:
    """8. files and formats."""
    a, data_dir, ds, fname, n, n_atoms, versions_json = f.a, f.data_dir, f.ds, f.fname, f.n, f.n_atoms, f.versions_json
    L: list[str] = []
    add = L.append
    add("## 8. Files and formats\n")
    frows = []
    for vname in sorted(versions_json, key=D.version_key):
        entry = versions_json[vname]
        for k, sha in entry.items():
            if k.endswith(".npz"):
                p = data_dir / k
                size = f"{p.stat().st_size / 1024:,.0f} KiB" if p.exists() else "missing"
                frows.append([f"`data/{k}`", vname, size, f"`{sha[:16]}…`"])
    add(_md_table(["file", "version", "size", "sha256 (versions.json)"], frows, "llrl") + "\n")
    add("`data/versions.json` records, per version, the sha256 of each file, the counts and the packing time; "
        "`load_dataset()` refuses a file whose sha256 differs. The npz files are `np.savez_compressed` archives "
        "without pickles (`np.load(..., allow_pickle=False)`); the arrays of "
        f"`{fname}` (n = {n} materials, A = {int(n_atoms.sum())} atoms, "
        f"m = {len(a['pdos_Z']) if 'pdos_Z' in a else 0} per-element rows):\n")
    add(_md_table(["array", "dtype", "shape"], _npz_listing(ds.path), "lll") + "\n")
    add("Structures are stored as `cell` (Å, rows are lattice vectors) + `numbers`/`frac_coords` sliced by "
        "`atom_offsets`; `meta_json` holds the provenance (labeller, package versions, settings), counts, "
        "exclusions, imaginary-weight quantiles, failure reasons, structure types and split. Labelling records "
        "(one JSON object per material, successes and failures) are in `data/labels/shards/*.jsonl.gz`; "
        "`python -m utils.data pack --version vN` rebuilds a version from them. In Python:\n")
    add("```python\nfrom utils.data import load_dataset, load_alloys\nds = load_dataset()          # latest version; "
        "load_dataset('v0') for a fixed one\nm = ds[0]                     # Material: formula, structure, dos, "
        "fine_dos, pdos, split, ...\ndf = ds.to_dataframe()        # one row per material\nds.meta                       "
        "# provenance and the numbers of this datasheet\n```\n")
    return L


def section_uses(f: Facts) -> list[str]:
    """9. intended uses."""
    L: list[str] = []
    add = L.append
    add("## 9. Uses\n")
    add("Intended: teaching and small experiments on structure → phonon-DoS models (notebooks 01–06), "
        "partial-DoS and alloy (N-hot) exercises, derived thermal properties. Not intended: benchmarking "
        "against DFT or experiment, claims about specific real compounds (some are hypothetical, all are "
        "softened), properties that need LO–TO splitting, anharmonicity or temperature dependence.\n")
    return L


def section_licence(f: Facts) -> list[str]:
    """10. licence and citation."""
    L: list[str] = []
    add = L.append
    add("## 10. Licence and citation\n")
    add("Data (`data/*.npz`, `data/labels/`, `data/reference/`): **CC BY 4.0** (see `LICENSE`); attribute "
        "\"phonon-dos-e3nn dataset, labelled with SevenNet-l3i5 and phonopy\". Tools: SevenNet (GPL-3.0) and "
        "phonopy (BSD-3-Clause) computed the labels; their outputs are not covered by those licences. "
        "`data/reference/dft_comparison.json` contains DoS computed from phonopy's example force sets "
        "(Copyright (c) 2014-2024, Phonopy, BSD-3-Clause; the licence text is included in the file). "
        "Cite the works in `CITATION.cff`: Chen et al. 2021 (the method), Andrejevic & Chen 2021 (the tutorial), "
        "Park et al. 2024 (SevenNet), Togo et al. 2023 (phonopy), Petretto et al. 2018 (the original data), and "
        "this repository with the dataset version and its sha256.\n")
    return L


def section_maintenance(f: Facts) -> list[str]:
    """11. versions and how to regenerate."""
    versions_json = f.versions_json
    L: list[str] = []
    add = L.append
    add("## 11. Maintenance\n")
    add("Versions are never overwritten silently: a new packing gets a new version in `data/versions.json` "
        "(v0 is the first snapshot; later versions add materials labelled with the same settings). After packing, "
        "run `python scripts/datasheet.py`; `tests/test_datasheet.py` fails while this datasheet describes "
        "another file than the latest packed one. Versions on record: "
        + ", ".join(f"{k} ({versions_json[k].get('n_materials', '?')} materials)"
                    for k in sorted(versions_json, key=D.version_key)) + ".\n")
    return L


# A new section: write a function `section_<name>(f: Facts) -> list[str]` (markdown pieces, joined by newlines)
# and add it to SECTIONS where it belongs in the datasheet.


def section_v2_rules(f: Facts) -> list[str]:
    """3.10 (dataset v2 on) known vs substituted per split, the hull energies and the stricter stability rule."""
    ds, a, meta = f.ds, f.a, f.meta
    v2 = meta.get("v2")
    if not v2 or "origin" not in a:
        return []
    from utils.data.split import SPLIT_NAMES
    L: list[str] = []
    add = L.append
    add("### 3.10 Known and substituted crystals, energies above the hull\n")
    rules = v2.get("rules", {})
    add("Packed with the v2 rules (`python -m utils.data pack --rules v2`): "
        + "; ".join(f"*{k}*: {v}" for k, v in rules.items()) + ".\n")
    origin = np.asarray(a["origin"]).astype(str)
    codes = np.asarray(ds.split_codes)
    rows = []
    for code, name in enumerate(SPLIT_NAMES):
        sel = codes == code
        if not sel.any():
            continue
        k = int((origin[sel] == "known").sum())
        rows.append([name, _fmt(int(sel.sum())), _fmt(k), _fmt(int(sel.sum()) - k), _pct(k / sel.sum(), 0)])
    k_all = int((origin == "known").sum())
    rows.append(["**all**", _fmt(len(origin)), _fmt(k_all), _fmt(len(origin) - k_all), _pct(k_all / len(origin), 0)])
    add(_md_table(["split", "materials", "known", "substituted", "known share"], rows, "lrrrr") + "\n")
    eh = np.asarray(a["e_above_hull_eV"], float)
    qrows = []
    for o in ("known", "substituted"):
        x = eh[(origin == o) & np.isfinite(eh)]
        if x.size:
            qrows.append([o, _fmt(int(x.size))] + [f"{np.quantile(x, q):.3f}" for q in (0.5, 0.9, 1.0)])
    add("**Energy above the convex hull** (eV/atom; the potential's energies, hull over the labelled pool and the "
        "elemental references, pymatgen `PhaseDiagram`). Known crystals are kept whatever their E_hull (the "
        "potential's errors put some above it); substituted candidates above the cut were dropped:\n")
    add(_md_table(["origin", "materials", "median", "90th pct", "max"], qrows, "lrrrr") + "\n")
    counts = {k: v for k, v in (v2.get("counts") or {}).items()}
    if counts:
        names = {"excluded_mode_below_-30_cm1": "a mode below −30 cm⁻¹", "excluded_above_hull": "above the hull cut",
                 "excluded_duplicate_crystal": "second copy of a crystal",
                 "excluded_no_energy_or_reference": "no energy or no elemental reference"}
        add("Excluded by the v2 rules: " + ", ".join(f"{names.get(k, k)} {_fmt(v)}" for k, v in sorted(counts.items()))
            + ".\n")
    q = v2.get("min_freq_cm1_quantiles_of_stable") or {}
    if q:
        add("Lowest mode of the records that passed the v1 rule (cm⁻¹, quantiles): "
            + ", ".join(f"{float(k):g}: {v:.1f}" for k, v in q.items()) + ".\n")
    gs = np.asarray(a["ground_state"], bool)
    add(f"{_fmt(int(gs.sum()))} of the {_fmt(len(gs))} materials are the lowest-energy polymorph of their composition "
        "in the labelled pool (`ground_state`).\n")
    b = v2.get("benchmark") or {}
    if b:
        add(f"**Known-crystal benchmark** (`data/{b.get('file')}`, sha256 `{str(b.get('sha256'))[:12]}…`): "
            f"{b.get('n_packed')} of {b.get('n_members')} members packed (split `benchmark`); "
            f"{b.get('polymorphs_moved_to_test')} other polymorphs of their compositions moved to `test`.\n")
    return L


def section_named_crystals(f: Facts) -> list[str]:
    """3.9 the crystals a learner tries first: labelled, or excluded for a listed reason (utils.datagen.benchmark)."""
    from utils.datagen.benchmark import EXCLUSION_REASONS, MAX_NAMED_EXCLUDED, named_status
    from utils.datagen.store import DEFAULT_OUT, iter_records
    status = named_status(iter_records(DEFAULT_OUT, include_pending=False, include_failed=True))
    L: list[str] = []
    add = L.append
    add("### 3.9 The crystals a learner tries first\n")
    add(f"The {len(status)} classics of `utils.datagen.benchmark.NAMED` (rocksalt NaCl, MgO, LiF and KCl; fcc Al "
        "and Ni; bcc Fe; wurtzite GaN and AlN; …) are built at their experimental lattice parameters and labelled "
        "like every other crystal. They are known crystals of dataset v2, read here from the labels "
        "(`data/labels/`), not from this version's packed file. Each one is kept, or excluded for one of a closed "
        f"list of reasons, at most {MAX_NAMED_EXCLUDED} of the {len(status)} (`tests/test_canonical_crystals.py`): "
        + "; ".join(f"*{k}*: {v}" for k, v in EXCLUSION_REASONS.items()) + ".\n")
    rows = []
    for (formula, proto), v in status.items():
        why = EXCLUSION_REASONS.get(v["reason"], v["reason"] or "")
        lo = v.get("min_freq_cm1")
        shown = {"labelled": "stable", "not labelled": "not labelled yet"}.get(v["status"], v["status"])
        rows.append([f"{formula} ({proto})", shown, why, "" if lo is None else _fmt(lo if abs(lo) >= 0.05 else 0.0, 1),
                     "" if v.get("max_freq_cm1") is None else _fmt(v["max_freq_cm1"], 0)])
    add(_md_table(["crystal", "label (v2 rules)", "reason", "lowest mode (cm⁻¹)", "highest mode (cm⁻¹)"], rows,
                  "lllrr") + "\n")
    return L


def section_experiment(f: Facts) -> list[str]:
    """6 (continued): the labels against measured phonon frequencies (utils.datagen.experiment)."""
    from utils.datagen import experiment
    try:
        doc = experiment.read_results()
    except FileNotFoundError:
        return ["No comparison with experiment is stored (`python -m utils.datagen experiment`).\n"]
    s = doc["summary"]
    L: list[str] = []
    add = L.append
    add("**Against experiment.** The highest phonon frequency of elemental crystals measured by inelastic neutron "
        f"scattering (Raman for diamond), as compiled by {doc['compilation']}; the original measurement of each row "
        "is named in `data/reference/measured_phonons.csv`. The label's value is the highest frequency on its q-mesh, "
        "which contains Γ and the zone-boundary points where these maxima lie; only labels that pass the stability "
        "rule are compared (bcc Fe, unstable without spin, is not). The labels are those of the known crystals of "
        "dataset v2 (`data/labels/`). Data: `data/reference/labels_vs_experiment.json` "
        "(`python -m utils.datagen experiment`).\n")
    rows = [[f"{r['formula']} ({r['prototype']})", r["point"], _fmt(r["measured_cm1"], 0),
             _fmt(r["uncertainty_cm1"], 0), "not labelled" if r["label_cm1"] is None else _fmt(r["label_cm1"], 0),
             "" if r["ratio"] is None else f"{r['ratio']:.2f}"] for r in doc["rows"]]
    add(_md_table(["crystal", "where", "measured ω_max (cm⁻¹)", "±", "label ω_max (cm⁻¹)", "label / measured"],
                  rows, "llrrrr") + "\n")
    if s.get("n"):
        soft = sorted((r for r in doc["rows"] if r["ratio"] is not None), key=lambda r: r["ratio"])
        stiff = [r for r in soft if r["ratio"] > 1.0]
        add(f"Reading: the median label is {_fmt(100 * (1 - s['median_ratio']), 0)} % below the measured highest "
            f"frequency (ratio {s['min_ratio']:.2f}–{s['max_ratio']:.2f} over {s['n']} crystals); "
            f"{s['n_soft_10pct']} of {s['n']} are soft by more than 10 %, the softest "
            + ", ".join(f"{r['formula']} ({r['ratio']:.2f})" for r in soft[:4])
            + (". Not all are soft: " + ", ".join(f"{r['formula']} ({r['ratio']:.2f})" for r in stiff)
               + " come out stiffer than measured." if stiff else ".")
            + " The measurements are at 80–300 K and the labels harmonic at 0 K, which accounts for a few per cent "
            "at most (thermal expansion softens the measured modes, so it does not explain soft labels). The DFT "
            "comparison above finds the labels close to PBE; the two reference sets differ (compounds there, "
            "elements here), so the gap between them is not a measurement of the functional's share. A model "
            "trained on these labels learns their softness: compare its predictions with experiment through this "
            "table, not as if the labels were measured spectra.\n")
    return L


SECTIONS = (
    section_header,
    section_at_a_glance,
    section_motivation,
    section_composition,
    section_structures,
    section_relaxation,
    section_outcomes,
    section_stability,
    section_light_elements,
    section_isolated_atoms,
    section_rare_elements,
    section_convergence,
    section_named_crystals,
    section_v2_rules,
    section_cost,
    section_limits,
    section_dft_comparison,
    section_experiment,
    section_original_data,
    section_files,
    section_uses,
    section_licence,
    section_maintenance,
)


def build_datasheet(readme: Path = DATA_README, figures: Path = FIGURES, reference: Path = REFERENCE_JSON,
                    candidates: bool = True, data_dir: Path | None = None) -> dict:
    """Write the datasheet (every section of ``SECTIONS``, in order) to ``readme`` and its figures to ``figures``."""
    import matplotlib
    matplotlib.use("Agg")

    t0 = time.perf_counter()
    f = gather(data_dir, reference, candidates)
    ds, meta, ref, allowed, n = f.ds, f.meta, f.ref, f.allowed, f.n
    figures.mkdir(parents=True, exist_ok=True)
    figure_elements(ds, allowed, figures / "data_elements.png")
    figure_atoms(ds, figures / "data_atoms_per_cell.png")
    figure_max_freq(ds, meta, figures / "data_max_frequency.png")
    if ref:
        figure_dft(ref, figures / "data_dft_comparison.png")
    L = [piece for section in SECTIONS for piece in section(f)]
    text = "\n".join(L).rstrip() + "\n"
    readme.write_text(text)
    dt = time.perf_counter() - t0
    print(f"wrote {readme.relative_to(ROOT) if readme.is_relative_to(ROOT) else readme} for {ds.version} "
          f"({n} materials, sha256 {ds.sha256[:12]}) and figures/data_*.png in {dt:.1f} s")
    return dict(version=ds.version, sha256=ds.sha256, seconds=dt)


def read_datasheet_tag(readme: Path = DATA_README) -> dict | None:
    """The {version, sha256, ...} a datasheet was generated from, or None if absent."""
    import re
    if not readme.exists():
        return None
    m = re.search(rf"<!-- {MARKER}: (\{{.*?\}}) -->", readme.read_text())
    return json.loads(m.group(1)) if m else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--no-candidates", action="store_true", help="do not count the candidate pool")
    parser.add_argument("--data-dir", type=Path, default=None, help="packed data (default: data/)")
    parser.add_argument("--out", type=Path, default=DATA_README, help="datasheet path (default: data/README.md)")
    parser.add_argument("--figures", type=Path, default=FIGURES, help="figure folder (default: figures/)")
    sub = parser.add_subparsers(dest="cmd")
    r = sub.add_parser("reference", help="recompute data/reference/dft_comparison.json")
    r.add_argument("--phonopy-repo", type=Path, required=True, help="a clone (or bare git dir) of phonopy")
    r.add_argument("--only", nargs="*", help="crystal names (default: all)")
    r.add_argument("--out", type=Path, default=REFERENCE_JSON, help="default: data/reference/dft_comparison.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    if args.cmd == "reference":
        compute_reference(args.phonopy_repo, out=args.out, names=args.only)
        return 0
    build_datasheet(readme=args.out, figures=args.figures, candidates=not args.no_candidates, data_dir=args.data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
