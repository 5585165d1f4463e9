"""Convergence check of the labelling settings: the dataset's settings against ≥ 10 Å supercells and a 24³ q-mesh.

Both runs start from the same relaxed structure (stored in the record) and the same potential, so the difference is
the supercell size (force-constant range) and the q-point sampling alone. Writes the two DoS of each material to
data/reference/label_convergence_raw.json.gz; `scripts/datasheet.py` turns them into the datasheet's table
(Wasserstein distance, error of the 51-point target, ω_max and C_V(300 K) changes, cost ratio).

    python -m utils.datagen converge --n 16 --workers 16 --device cuda   # the stored check: 31 s on one GPU
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

from .._io import atomic_write_bytes
from . import store
from ._worker import calculator, init_worker, package_versions
from .label import LabelSettings

RAW = Path(__file__).resolve().parents[2] / "data" / "reference" / "label_convergence_raw.json.gz"
# one material per family, spread over cell sizes (1–28 atoms) and bonding types
FAMILIES = ["fcc", "hcp", "diamond", "rocksalt", "zincblende", "wurtzite", "cesium_chloride", "cadmium_iodide",
            "perovskite", "half_heusler", "rutile", "chalcopyrite", "spinel", "pyrochlore", "olivine", "A15"]


def reference_settings(base: LabelSettings | None = None) -> LabelSettings:
    """The converged reference: every supercell vector ≥ 10 Å, a fixed 24×24×24 Γ-centred q-mesh."""
    base = base or LabelSettings()
    return dataclasses.replace(base, supercell_min_length_A=10.0, mesh_length_A=1e6, mesh_max=24,
                               max_atoms_supercell=1000)


def pick(records, n: int) -> list[dict]:
    """The first stable material (by id) of each family in FAMILIES, up to n of them."""
    by_family: dict[str, dict] = {}
    for rec in sorted((r for r in records if r.get("stable") and r.get("set", "main") == "main"),
                      key=lambda r: r["id"]):
        by_family.setdefault(rec["prototype"], rec)
    return [by_family[f] for f in FAMILIES if f in by_family][:n]


def _phonons(job: tuple[dict, str, dict]) -> dict:
    from .label import atoms_from_lists, dos_from_phonopy, force_constants
    rec, name, settings_d = job
    settings = LabelSettings(**settings_d)
    atoms = atoms_from_lists(rec["structure"])
    t0 = time.perf_counter()
    phonon, info = force_constants(atoms, calculator(), settings)
    t1 = time.perf_counter()
    dos = dos_from_phonopy(phonon, atoms.get_chemical_symbols(), settings)
    t2 = time.perf_counter()
    return dict(id=rec["id"], formula=rec["formula"], prototype=rec["prototype"], n_atoms=len(atoms), run=name,
                supercell=info["supercell"], n_atoms_supercell=info["n_atoms_supercell"],
                n_displacements=info["n_displacements"], mesh=dos["mesh"], imaginary_weight=dos["imaginary_weight"],
                max_freq_cm1=dos["max_freq_cm1"], dos=dos["dos"], fine_dos=dos["fine_dos"],
                seconds=dict(forces=round(t1 - t0, 2), dos=round(t2 - t1, 2)))


def cmd_converge(args) -> int:
    from tqdm import tqdm
    recs = pick(store.iter_records(args.out), args.n)
    base = LabelSettings()
    runs = {"dataset": base, "reference": reference_settings(base)}
    jobs = [(r, name, dataclasses.asdict(s)) for r in recs for name, s in runs.items()]
    print(f"{len(recs)} materials × {len(runs)} settings on {args.workers} worker(s) ({args.device})", flush=True)
    ctx = mp.get_context("spawn")
    results = []
    with ctx.Pool(args.workers, initializer=init_worker, initargs=(args.calculator, args.device)) as pool:
        for res in tqdm(pool.imap_unordered(_phonons, jobs), total=len(jobs), file=sys.stdout, mininterval=5):
            results.append(res)
    out = dict(labeller=args.calculator, device=args.device, versions=package_versions(args.calculator),
               settings={k: dataclasses.asdict(v) for k, v in runs.items()},
               results=sorted(results, key=lambda r: (r["id"], r["run"])))
    atomic_write_bytes(args.file, gzip.compress(json.dumps(out).encode("utf-8")))
    print(f"wrote {len(results)} runs to {args.file.name}")
    return 0


def convergence_summary(path: Path | None = None) -> dict | None:
    """Rows of the settings-convergence check (dataset settings vs ≥ 10 Å supercells + 24³ mesh), per material:
    W₁ of the fine DoS (cm⁻¹), MSE of the 51-point target, relative ω_max and C_V(300 K) changes, supercell atoms
    ratio; with their medians/maxima. None when ``path`` (default ``RAW``) does not exist. Read by the datasheet."""
    import numpy as np

    from ..spectra import wasserstein_cm1
    from ..thermo import heat_capacity
    from .label import FINE_GRID_CM1
    path = path or RAW
    if not path.exists():
        return None
    with gzip.open(path, "rt") as fh:
        doc = json.load(fh)
    runs: dict = {}
    for r in doc["results"]:
        runs.setdefault(r["id"], {})[r["run"]] = r
    rows = []
    for mid, pair in sorted(runs.items(), key=lambda kv: (kv[1]["dataset"]["n_atoms"], kv[0])):
        a, b = pair["dataset"], pair["reference"]
        fa, fb = np.asarray(a["fine_dos"]), np.asarray(b["fine_dos"])
        cv = [float(heat_capacity(FINE_GRID_CM1, f, 300.0)) for f in (fa, fb)]
        rows.append(dict(id=mid, formula=a["formula"], n_atoms=a["n_atoms"],
                         supercells=f"{'×'.join(map(str, a['supercell']))} → {'×'.join(map(str, b['supercell']))}",
                         mesh="×".join(map(str, a["mesh"])), w1=float(wasserstein_cm1(FINE_GRID_CM1, fa, fb)),
                         mse=float(np.mean((np.asarray(a["dos"]) - np.asarray(b["dos"])) ** 2)),
                         dwmax=a["max_freq_cm1"] / b["max_freq_cm1"] - 1.0, dcv=cv[0] / cv[1] - 1.0,
                         ratio_atoms=b["n_atoms_supercell"] / a["n_atoms_supercell"]))
    return dict(rows=rows, median_w1=float(np.median([r["w1"] for r in rows])), max_w1=max(r["w1"] for r in rows),
                median_mse=float(np.median([r["mse"] for r in rows])), max_mse=max(r["mse"] for r in rows),
                max_dwmax=max(abs(r["dwmax"]) for r in rows), max_ratio_atoms=max(r["ratio_atoms"] for r in rows))
