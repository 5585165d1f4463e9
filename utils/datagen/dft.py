"""The labels against DFT: phonon DoS from the DFT force sets that ship with phonopy's examples (BSD-3-Clause) next
to the dataset's labelling path for the same crystals; writes ``data/reference/dft_comparison.json``, which the
datasheet (``scripts/datasheet.py``, section 6) reads.

    python scripts/datasheet.py reference --phonopy-repo /path/to/phonopy(.git)   # ~2 min; needs sevenn + phonopy

For each crystal of ``REFERENCE_CRYSTALS``: the DFT DoS from the example's force sets with the labeller's own q-mesh
density, grids and broadening (:func:`utils.datagen.label.dos_from_phonopy`, no non-analytical correction;
:func:`dft_phonopy`), the same crystal through the dataset's path (``label_atoms`` with SevenNet-l3i5: relax, then
finite displacements), and the potential on the example's own cell and displacements
(:func:`potential_on_dft_setup`, which separates the potential's error from the protocol's). Stored: the Wasserstein
distance, the highest- and mean-frequency ratios, C_V(300 K) and both DoS curves.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["REFERENCE_JSON", "PHONOPY_URL", "REFERENCE_CRYSTALS", "dft_phonopy", "potential_on_dft_setup",
           "compute_reference", "write_json_compact"]

REFERENCE_JSON = Path(__file__).resolve().parents[2] / "data" / "reference" / "dft_comparison.json"
PHONOPY_URL = "https://github.com/phonopy/phonopy"

# The phonopy examples used as DFT references: VASP force sets of small, dynamically stable crystals that the
# dataset's rules would keep (no magnetism, no high pressure, all modes below 1000 cm^-1).
REFERENCE_CRYSTALS = [
    dict(name="NaCl", path="example/NaCl", kind="rocksalt, ionic"),
    dict(name="MgO", path="example/MgO", kind="rocksalt, ionic"),
    dict(name="LiF", path="example/LiF-nosym", kind="rocksalt, ionic", supercell=[2, 2, 2], nosym=True),
    dict(name="Si", path="example/Si", kind="diamond, covalent", vasprun="vasprun.xml"),
    dict(name="ZnO", path="example/ZnO", kind="wurtzite, polar semiconductor"),
    dict(name="SnO2", path="example/SnO2", kind="rutile, oxide"),
    dict(name="MgB2", path="example/MgB2", kind="AlB2 type, metal"),
]


def _git(gitdir: Path, *args: str, binary: bool = False):
    out = subprocess.run(["git", f"--git-dir={gitdir}", *args], check=True, capture_output=True)
    return out.stdout if binary else out.stdout.decode()


def _resolve_gitdir(repo: Path) -> Path:
    repo = Path(repo)
    return repo / ".git" if (repo / ".git").is_dir() else repo


def _vasp_info(text: str) -> dict:
    """DFT code and functional read from a vasprun.xml (GGA tag + POTCAR titles)."""
    import re
    out = {}
    m = re.search(r'name="version"[^>]*>\s*([^<]+?)\s*<', text)
    if m:
        out["code"] = f"VASP {m.group(1).strip()}"
    gga = re.search(r'name="GGA"[^>]*>\s*([^<]*?)\s*<', text)
    gga = gga.group(1).strip() if gga else "--"
    paw_pbe = "PAW_PBE" in text
    named = {"PS": "PBEsol", "PE": "PBE", "91": "PW91", "RP": "RPBE", "AM": "AM05"}
    if gga in named:
        out["functional"] = named[gga]
    elif gga in ("--", "") and paw_pbe:
        out["functional"] = "PBE"
    elif gga in ("--", ""):
        out["functional"] = "LDA"
    else:
        out["functional"] = f"GGA tag {gga}"
    enc = re.search(r'name="ENCUT"[^>]*>\s*([0-9.]+)', text)
    if enc:
        out["encut_eV"] = float(enc.group(1))
    return out


def _first_vasprun_text(gitdir: Path, commit: str, path: str, names: list[str]) -> str | None:
    import io
    import lzma
    import tarfile
    for n in names:
        if n.startswith("vasprun") and not n.endswith((".xz", ".lzma")):
            return _git(gitdir, "show", f"{commit}:{path}/{n}", binary=True).decode(errors="ignore")
    for n in names:
        if n.startswith("vasprun") and n.endswith(".tar.lzma"):
            data = lzma.decompress(_git(gitdir, "show", f"{commit}:{path}/{n}", binary=True))
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                for m in sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name):
                    if "vasprun" in m.name:
                        return tar.extractfile(m).read().decode(errors="ignore")
    return None


def dft_phonopy(spec: dict, work: Path, nac: bool = False):
    """phonopy object with the example's DFT force constants, and a description of the calculation.

    nac=False (the comparison): no non-analytical correction. nac=True: with the example's BORN file (only to
    measure how much the missing LO-TO splitting changes the DoS).
    """
    import phonopy

    common = dict(is_nac=nac, log_level=0)
    if nac and not spec.get("nosym"):
        common["born_filename"] = str(work / "BORN")
    if spec.get("nosym"):
        ph = phonopy.load(supercell_matrix=spec["supercell"], primitive_matrix="auto",
                          unitcell_filename=str(work / "POSCAR-unitcell"),
                          force_sets_filename=str(work / "FORCE_SETS"), is_symmetry=False, is_compact_fc=False,
                          is_nac=False, log_level=0)
        if nac:     # a --nosym BORN lists every atom of the unit cell: pick those of the primitive cell
            lines = [ln.split() for ln in (work / "BORN").read_text().splitlines() if ln.strip()]
            factor = float(lines[0][0]) if len(lines[0]) == 1 else None
            rows = np.array([[float(x) for x in ln] for ln in lines[1 if factor else 0:]])
            sc = ph.supercell
            unit_index = [sc.u2u_map[int(sc.s2u_map[i])] for i in ph.primitive.p2s_map]
            born = rows[1:][unit_index].reshape(-1, 3, 3)
            ph.nac_params = dict(born=born, dielectric=rows[0].reshape(3, 3),
                                 **({"factor": factor} if factor else {}))
    elif spec.get("vasprun"):
        from phonopy.interface.vasp import parse_set_of_forces
        ph = phonopy.load(str(work / "phonopy_disp.yaml"), produce_fc=False, **common)
        forces = parse_set_of_forces(len(ph.supercell), [str(work / spec["vasprun"])], verbose=False)
        forces = forces["forces"] if isinstance(forces, dict) else forces
        ph.forces = np.asarray(forces, float).reshape(-1, len(ph.supercell), 3)
        ph.produce_force_constants()
        ph.symmetrize_force_constants()
    else:
        ph = phonopy.load(str(work / "phonopy_disp.yaml"), force_sets_filename=str(work / "FORCE_SETS"), **common)
    n_disp = len(ph.dataset["first_atoms"]) if "first_atoms" in (ph.dataset or {}) else None
    return ph, dict(supercell_matrix=np.asarray(ph.supercell_matrix).tolist(), n_atoms_supercell=len(ph.supercell),
                    n_displacements=n_disp)


def potential_on_dft_setup(ph, calc, nosym: bool = False):
    """The example's own unit cell, supercell and displacements, with forces from the potential instead of DFT.

    Compared with the DFT DoS this isolates the potential's force-constant error (no relaxation, same supercell);
    compared with the label it shows what the labelling protocol (relaxed volume, its own supercell) adds.
    """
    import copy

    from ase import Atoms
    from phonopy import Phonopy

    pot = Phonopy(ph.unitcell, supercell_matrix=ph.supercell_matrix, primitive_matrix=ph.primitive_matrix,
                  symprec=ph.symmetry.tolerance)
    if nosym:       # the example displaced every atom (48 supercells): the symmetry-reduced set is equivalent
        amp = float(np.linalg.norm(ph.dataset["first_atoms"][0]["displacement"]))
        pot.generate_displacements(distance=amp)
    else:
        pot.dataset = copy.deepcopy(ph.dataset)
    forces = []
    for disp in pot.supercells_with_displacements:
        sup = Atoms(disp.symbols, cell=disp.cell, scaled_positions=disp.scaled_positions, pbc=True)
        sup.calc = calc
        f = sup.get_forces()
        forces.append(f - f.mean(axis=0))
    pot.forces = np.array(forces)
    pot.produce_force_constants()
    pot.symmetrize_force_constants()
    return pot


def _trim(a: np.ndarray, b: np.ndarray, rel: float = 1e-5) -> int:
    """Number of fine-grid points to keep: up to the last point where either curve exceeds rel × its max."""
    big = (a > rel * a.max()) | (b > rel * b.max())
    return int(np.flatnonzero(big).max()) + 2 if big.any() else len(a)


def write_json_compact(path: Path, doc) -> None:
    """JSON with one item per line, but lists of numbers on one line (keeps the curves small and diffable)."""
    import re
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    text = re.sub(r"\[\s*([-0-9.eE+,\s]+?)\s*\]", lambda m: "[" + ",".join(m.group(1).split()).replace(",,", ",") + "]",
                  text)
    path.write_text(text + "\n")


def compute_reference(phonopy_repo: Path, out: Path = REFERENCE_JSON, names: list[str] | None = None) -> dict:
    """Compute the comparison for the crystals ``names`` (default: all of ``REFERENCE_CRYSTALS``) from a clone (or
    bare git dir) of phonopy, write it to ``out`` (:func:`write_json_compact`) and return it."""
    import warnings
    from importlib.metadata import version

    warnings.filterwarnings("ignore")
    import torch
    torch.set_num_threads(1)                    # like the labelling workers
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from ..spectra import wasserstein_cm1
    from ..thermo import heat_capacity
    from ._worker import make_calculator
    from .label import FINE_GRID_CM1, LabelSettings, dos_from_phonopy, label_atoms

    gitdir = _resolve_gitdir(phonopy_repo)
    commit = _git(gitdir, "rev-parse", "HEAD").strip()
    commit_date = _git(gitdir, "log", "-1", "--format=%cI", commit).strip()
    license_text = _git(gitdir, "show", f"{commit}:LICENSE")
    settings = LabelSettings()
    t0 = time.perf_counter()
    calc = make_calculator("7net-l3i5")
    crystals = []
    for spec in REFERENCE_CRYSTALS:
        if names and spec["name"] not in names:
            continue
        tree = [ln.split(None, 3) for ln in _git(gitdir, "ls-tree", commit, spec["path"] + "/").splitlines()]
        files = {Path(t[3]).name: t[2] for t in tree}          # name -> git blob sha
        used = [n for n in ("phonopy_disp.yaml", "POSCAR-unitcell", "FORCE_SETS", "BORN", spec.get("vasprun"))
                if n in files]
        if spec.get("nosym"):
            used = [n for n in used if n != "phonopy_disp.yaml"]
        elif spec.get("vasprun"):
            used = [n for n in used if n not in ("FORCE_SETS", "POSCAR-unitcell")]
        else:
            used = [n for n in used if n != "POSCAR-unitcell"]
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for n in used:
                (work / n).write_bytes(_git(gitdir, "show", f"{commit}:{spec['path']}/{n}", binary=True))
            td = time.perf_counter()
            ph, dft_calc = dft_phonopy(spec, work)
            dft = dos_from_phonopy(ph, list(ph.primitive.symbols), settings)
            t_dft = time.perf_counter() - td
            nac_effect = None
            if "BORN" in used:      # how much would LO-TO splitting change the DFT DoS? (not used in the labels)
                try:
                    ph_nac, _ = dft_phonopy(spec, work, nac=True)
                    d_nac = dos_from_phonopy(ph_nac, list(ph_nac.primitive.symbols), settings)
                    nac_effect = dict(
                        max_freq_cm1_with_nac=round(d_nac["max_freq_cm1"], 2),
                        wasserstein_cm1_nac_vs_no_nac=round(float(wasserstein_cm1(
                            FINE_GRID_CM1, np.asarray(d_nac["fine_dos"]), np.asarray(dft["fine_dos"]))), 3))
                except Exception as exc:
                    nac_effect = dict(error=f"{type(exc).__name__}: {exc}")
            tp = time.perf_counter()
            pot = potential_on_dft_setup(ph, calc, nosym=bool(spec.get("nosym")))
            d_pot = dos_from_phonopy(pot, list(pot.primitive.symbols), settings)
            f_pot = np.asarray(d_pot["fine_dos"])
            t_pot = time.perf_counter() - tp
            unit = ph.unitcell
            prim_vol_dft = float(abs(np.linalg.det(ph.primitive.cell))) / len(ph.primitive)
        vinfo = _first_vasprun_text(gitdir, commit, spec["path"], list(files))
        vinfo = _vasp_info(vinfo) if vinfo else {}
        # the dataset's path: a primitive standard cell (pymatgen find_primitive), relaxed by the potential
        s = Structure(unit.cell, list(unit.symbols), unit.scaled_positions)
        prim = SpacegroupAnalyzer(s, symprec=1e-3).find_primitive()
        tl = time.perf_counter()
        lab = label_atoms(AseAtomsAdaptor.get_atoms(prim), calc, settings)
        t_label = time.perf_counter() - tl
        f_dft, f_lab = np.asarray(dft["fine_dos"]), np.asarray(lab["fine_dos"])
        lab_cell = np.asarray(lab["structure"]["cell"])
        vol_lab = float(abs(np.linalg.det(lab_cell))) / len(lab["structure"]["numbers"])
        cv_dft = float(heat_capacity(FINE_GRID_CM1, f_dft, 300.0))
        cv_lab = float(heat_capacity(FINE_GRID_CM1, f_lab, 300.0))

        def mean_freq(g):
            return float(np.trapezoid(g * FINE_GRID_CM1, FINE_GRID_CM1) / np.trapezoid(g, FINE_GRID_CM1))
        n_keep = _trim(f_dft, f_lab)
        rec = dict(
            name=spec["name"], formula=prim.composition.reduced_formula, kind=spec["kind"],
            example=f"{spec['path']}", files={n: files[n] for n in used},
            born_charges_in_example="BORN" in files, nac_effect=nac_effect,
            dft=dict(**vinfo, **dft_calc, mesh=dft["mesh"], nac="not applied (no LO-TO splitting, as in the labels)",
                     n_atoms_primitive=len(ph.primitive), volume_per_atom_A3=round(prim_vol_dft, 4),
                     max_freq_cm1=round(dft["max_freq_cm1"], 2), min_freq_cm1=round(dft["min_freq_cm1"], 2),
                     imaginary_weight=dft["imaginary_weight"], seconds=round(t_dft, 2)),
            label=dict(labeller="7net-l3i5", supercell=lab["phonons"]["supercell"],
                       n_atoms_supercell=lab["phonons"]["n_atoms_supercell"],
                       n_displacements=lab["phonons"]["n_displacements"], mesh=lab["mesh"],
                       relax_steps=lab["relax"]["steps"], volume_change_on_relax=round(lab["relax"]["volume_change"], 5),
                       volume_per_atom_A3=round(vol_lab, 4), max_freq_cm1=round(lab["max_freq_cm1"], 2),
                       min_freq_cm1=round(lab["min_freq_cm1"], 2), imaginary_weight=lab["imaginary_weight"],
                       seconds=lab["seconds"], wall_s=round(t_label, 2)),
            metrics=dict(
                wasserstein_cm1=round(float(wasserstein_cm1(FINE_GRID_CM1, f_dft, f_lab)), 3),
                max_freq_ratio=round(lab["max_freq_cm1"] / dft["max_freq_cm1"], 4),
                mean_freq_dft_cm1=round(mean_freq(f_dft), 2), mean_freq_label_cm1=round(mean_freq(f_lab), 2),
                mean_freq_ratio=round(mean_freq(f_lab) / mean_freq(f_dft), 4),
                volume_ratio=round(vol_lab / prim_vol_dft, 4),
                cv300_dft_J_molK=round(cv_dft, 4), cv300_label_J_molK=round(cv_lab, 4),
                cv300_diff_J_molK=round(cv_lab - cv_dft, 4),
                cv300_rel_diff_pct=round(100 * (cv_lab - cv_dft) / cv_dft, 3)),
            potential_on_dft_setup=dict(
                description="SevenNet-l3i5 forces on the example's own cell, supercell and displacements "
                            "(symmetry-reduced displacements of the same amplitude for a --nosym example)",
                max_freq_cm1=round(d_pot["max_freq_cm1"], 2),
                max_freq_ratio_vs_dft=round(d_pot["max_freq_cm1"] / dft["max_freq_cm1"], 4),
                mean_freq_ratio_vs_dft=round(mean_freq(f_pot) / mean_freq(f_dft), 4),
                wasserstein_cm1_vs_dft=round(float(wasserstein_cm1(FINE_GRID_CM1, f_dft, f_pot)), 3),
                wasserstein_cm1_vs_label=round(float(wasserstein_cm1(FINE_GRID_CM1, f_lab, f_pot)), 3),
                imaginary_weight=d_pot["imaginary_weight"], seconds=round(t_pot, 2)),
            fine_dos=dict(n_points=n_keep, dft=[round(float(v), 5) for v in f_dft[:n_keep]],
                          label=[round(float(v), 5) for v in f_lab[:n_keep]]),
        )
        crystals.append(rec)
        m = rec["metrics"]
        print(f"{spec['name']:5s} W1 {m['wasserstein_cm1']:6.1f} cm-1  ω_max ratio {m['max_freq_ratio']:.3f}  "
              f"ΔC_V {m['cv300_diff_J_molK']:+.3f} J/molK  (DFT {t_dft:.1f} s, label {t_label:.1f} s)", flush=True)
    versions = {}
    for pkg in ("phonopy", "sevenn", "torch", "ase", "pymatgen", "numpy"):
        try:
            versions[pkg] = version(pkg)
        except Exception:
            pass
    doc = dict(
        description="DFT (phonopy example force sets) vs SevenNet-l3i5 labels of the same crystals, computed by "
                    "`python scripts/datasheet.py reference`. Both DoS: utils.datagen.label.dos_from_phonopy with "
                    "the labeller's LabelSettings (length-based q-mesh, Gaussian broadening), no non-analytical "
                    "(LO-TO) correction. The DFT calculations keep the supercells of the examples; the labels use "
                    "the dataset's supercells (every lattice vector >= supercell_min_length_A) after relaxing the "
                    "example's primitive cell with the potential.",
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source=dict(repository=PHONOPY_URL, commit=commit, commit_date=commit_date,
                    license="BSD-3-Clause", copyright="Copyright (c) 2014-2024, Phonopy. All rights reserved.",
                    attribution="DFT force sets and structures from the phonopy examples "
                                f"({PHONOPY_URL}/tree/{commit}/example), BSD-3-Clause; the DoS in this file are "
                                "computed from them.",
                    license_text=license_text),
        settings={k: getattr(settings, k) for k in settings.__dataclass_fields__},
        versions=versions,
        metrics_doc=dict(
            wasserstein_cm1="W1 = ∫|CDF_label − CDF_DFT| dω between the unit-area fine DoS (utils.train.wasserstein_cm1)",
            max_freq_ratio="highest mode frequency on the q-mesh, label / DFT",
            mean_freq_ratio="first moment of the unit-area DoS, label / DFT",
            volume_ratio="volume per atom, relaxed by the potential / the example's DFT cell",
            cv300="harmonic C_V(300 K) per mole of atoms (utils.thermo.heat_capacity), J/(mol K); diff = label − DFT"),
        fine_grid=dict(start_cm1=0.0, step_cm1=2.0, normalization="integral = 3N modes per primitive cell",
                       note="curves are truncated after n_points (the rest is zero), rounded to 1e-5"),
        seconds_total=round(time.perf_counter() - t0, 1),
        crystals=crystals,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_compact(out, doc)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) in {doc['seconds_total']} s")
    return doc
