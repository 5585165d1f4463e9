"""The labelling pipeline end to end (relax → phonopy → DoS) with ase's EMT potential on Al and Cu."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from utils.datagen.label import COARSE_GRID_CM1, FINE_GRID_CM1, LabelError, LabelSettings, label_atoms, supercell_matrix
from utils.datagen.prototypes import PROTOTYPES, build
from utils.datagen.runner import atomic_write_text, done_ids, iter_records

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def al_record():
    return label_atoms(bulk("Al", "fcc", a=4.1), EMT(), LabelSettings.fast())


def test_al_record_is_physical(al_record):
    rec = al_record
    assert rec["imaginary_weight"] == 0.0
    assert len(rec["dos"]) == len(COARSE_GRID_CM1) and max(rec["dos"]) == pytest.approx(1.0)
    # the fine DoS holds 3N modes (1 atom → 3), up to the Gaussian tail cut at ω = 0
    assert np.trapezoid(rec["fine_dos"], FINE_GRID_CM1) == pytest.approx(3.0, rel=0.01)
    # EMT aluminium: the highest mode lies between 250 and 400 cm⁻¹ (experiment: ~ 320 cm⁻¹)
    assert 250 < rec["max_freq_cm1"] < 400
    assert set(rec["fine_pdos"]) == {"Al"}
    assert rec["relax"]["residual_force_eV_A"] < 0.01


def test_partial_dos_add_up_to_total():
    rec = label_atoms(_cu3au(), EMT(), LabelSettings.fast())
    total = np.asarray(rec["fine_dos"])
    summed = sum(np.asarray(v) for v in rec["fine_pdos"].values())
    np.testing.assert_allclose(summed, total, atol=1e-6 * total.max())
    assert set(rec["fine_pdos"]) == {"Cu", "Au"}
    # each element holds 3 modes per atom (1 Au, 3 Cu), and the heavy Au sits lower in frequency than Cu
    au, cu = np.asarray(rec["fine_pdos"]["Au"]), np.asarray(rec["fine_pdos"]["Cu"])
    assert np.trapezoid(au, FINE_GRID_CM1) == pytest.approx(3.0, rel=0.02)
    assert np.trapezoid(cu, FINE_GRID_CM1) == pytest.approx(9.0, rel=0.02)
    mean_freq = lambda g: np.trapezoid(FINE_GRID_CM1 * g, FINE_GRID_CM1) / np.trapezoid(g, FINE_GRID_CM1)
    assert mean_freq(au) < mean_freq(cu)


def _cu3au():
    from ase import Atoms
    a = 3.75
    return Atoms("AuCu3", scaled_positions=[(0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0)], cell=[a, a, a], pbc=True)


def test_volume_change_is_rejected():
    atoms = bulk("Cu", "fcc", a=3.61 * 1.4)   # 2.7× the volume: relaxing collapses it by ~63 % (limit ±50 %)
    with pytest.raises(LabelError, match="volume changed"):
        label_atoms(atoms, EMT(), LabelSettings.fast())


def test_supercell_matrix_reaches_min_length():
    cell = np.array([[3.0, 0, 0], [0, 4.5, 0], [0, 0, 9.0]])
    sc = supercell_matrix(cell, 8.0)
    assert np.diag(sc).tolist() == [3, 2, 1]


@pytest.mark.slow   # ~20 s: one build + symmetry analysis per prototype
def test_prototypes_build_with_right_space_group():
    """Every prototype, decorated with its first seed (no substitution search: that is what made this test slow),
    builds in its own space group without overlapping atoms."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from utils.datagen.prototypes import IONIC_SEEDS, METALLIC
    seen = {proto: dict(mapping=seeds[0]) for proto, seeds in IONIC_SEEDS.items()}
    for proto, lists in METALLIC.items():
        roles = sorted({r for r, _ in PROTOTYPES[proto][2]})
        seen.setdefault(proto, dict(mapping=dict(zip(roles, lists[0]))))
    # the three prototypes that only known crystals use (utils/datagen/known_crystals.csv) have no seed
    assert set(PROTOTYPES) - set(seen) == {"anti_La2O3", "tetradymite", "triphylite"}
    for proto, c in seen.items():
        s = build(proto, c["mapping"])
        assert SpacegroupAnalyzer(s, symprec=1e-2).get_space_group_number() == PROTOTYPES[proto][0], proto
        assert min(s.distance_matrix[np.triu_indices(len(s), 1)], default=9) > 1.0, proto


@pytest.mark.slow   # 11–15 s: a labelling run with 2 worker processes
def test_runner_end_to_end_with_emt(tmp_path):
    """The real command: two workers, Al and Cu labelled, a failing element logged, rerun skips all."""
    from pymatgen.core import Lattice, Structure

    tasks = [dict(id=f"fcc-{el}", prototype="fcc", structure=Structure(Lattice.cubic(a), [el] * 4,
                  [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]]).get_primitive_structure())
             for el, a in [("Al", 4.05), ("Cu", 3.61), ("Fe", 3.6)]]   # EMT has no Fe → logged failure
    script = (
        "import sys, argparse; from pathlib import Path; import utils.datagen.cli as r\n"
        "import utils.datagen.prototypes as p; from pymatgen.core import Structure; import json\n"
        f"tasks = json.loads({json.dumps(json.dumps([dict(t, structure=t['structure'].as_dict()) for t in tasks]))})\n"
        "p.alloy_references = lambda: [dict(t, structure=Structure.from_dict(t['structure'])) for t in tasks]\n"
        "sys.exit(r.main(argparse.ArgumentParser()))\n")
    cmd = [sys.executable, "-c", script, "label", "--calculator", "emt", "--workers", "2", "--set", "alloys",
           "--fast", "--out", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "2 labelled, 2 stable, 1 failed" in out.stdout
    failed = json.loads((tmp_path / "failed" / "fcc-Fe.json").read_text())
    assert "EMT" in failed["reason"] and failed["ok"] is False
    recs = {r["id"]: r for r in iter_records(tmp_path)}
    assert set(recs) == {"fcc-Al", "fcc-Cu"} and all(r["stable"] for r in recs.values())
    prov = recs["fcc-Al"]["provenance"]
    assert prov["labeller"] == "emt" and "phonopy" in prov["versions"]
    assert str(tmp_path) not in json.dumps(recs)   # no local paths in records
    # resumable: a rerun finds nothing to do
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "0 materials to label" in again.stdout
    # packing moves pending + failed into one shard; ids stay known
    subprocess.run([sys.executable, "-m", "utils.datagen", "pack-shard", "--out", str(tmp_path)], check=True,
                   cwd=ROOT, capture_output=True)
    assert not list((tmp_path / "pending").glob("*.json"))
    with gzip.open(next((tmp_path / "shards").glob("*.jsonl.gz")), "rt") as fh:
        assert len(fh.read().strip().splitlines()) == 3
    assert done_ids(tmp_path) == {"fcc-Al", "fcc-Cu", "fcc-Fe"}


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_text(path, "old")

    with pytest.raises(TypeError):
        atomic_write_text(path, 123)   # write() of a non-str fails midway
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


@pytest.mark.slow   # 12–14 s: labels pre-built tasks in a subprocess
def test_prebuilt_tasks_label_without_pymatgen(tmp_path):
    """`export-tasks` output (plain lists) labels through `label --tasks` with pymatgen unimportable."""
    from pymatgen.core import Lattice, Structure

    from utils.datagen.runner import _prebuild

    cands = [dict(id=f"fcc-{el}", prototype="fcc", mapping={"A": el}, score=1.0,
                  structure=Structure(Lattice.cubic(a), [el] * 4, [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]]))
             for el, a in [("Al", 4.05), ("Cu", 3.61)]]
    tasks = [_prebuild(c) for c in cands]
    assert all("structure" not in t and len(t["atoms"]["numbers"]) == 4 for t in tasks)   # as given: 4 atoms
    assert tasks[0]["formula"] == "Al"
    tasks.append(dict(id="bad-1", prototype="fcc", mapping={}, score=0.0, build_error="ValueError: no radius"))
    path = tmp_path / "tasks.json.gz"
    path.write_bytes(gzip.compress(json.dumps(tasks).encode()))
    blocker = tmp_path / "block" / "pymatgen"   # on PYTHONPATH first: any pymatgen import fails, workers too
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('pymatgen blocked by the test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocker.parent), str(ROOT)]))
    cmd = [sys.executable, "-m", "utils.datagen", "label", "--calculator", "emt", "--workers", "1", "--fast",
           "--tasks", str(path), "--time-limit", "600", "--out", str(tmp_path / "out")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "2 labelled, 2 stable, 1 failed" in out.stdout
    failed = json.loads((tmp_path / "out" / "failed" / "bad-1.json").read_text())
    assert "could not build" in failed["reason"] and "no radius" in failed["reason"]
    # --time-limit: the material that finished when the limit passed is kept, the rest is left for a rerun
    cut = [*cmd[:-2], "--out", str(tmp_path / "cut")]
    cut[cut.index("--time-limit") + 1] = "0.001"
    out = subprocess.run(cut, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert out.returncode == 0 and "time limit" in out.stdout and "2 left for a rerun" in out.stdout, out.stdout[-500:]
    assert len(done_ids(tmp_path / "cut")) == 1
    recs = {r["id"]: r for r in iter_records(tmp_path / "out")}
    assert recs["fcc-Al"]["formula"] == "Al" and recs["fcc-Al"]["provenance"]["device"] == "cpu"


def test_every_packed_version_names_its_candidate_threshold():
    """The datasheet states each version's pool from THRESHOLD_BY_VERSION; a later version's threshold is never
    higher, so its pool holds every earlier candidate (the pool grows as the threshold falls)."""
    from utils.data import DATA_DIR, VERSIONS_FILE
    from utils.datagen.prototypes import THRESHOLD, THRESHOLD_BY_VERSION
    packed = json.loads((DATA_DIR / VERSIONS_FILE).read_text())
    assert set(packed) - {"format_version"} <= set(THRESHOLD_BY_VERSION), packed.keys()
    ordered = [THRESHOLD_BY_VERSION[v] for v in sorted(THRESHOLD_BY_VERSION, key=lambda v: int(v[1:]))]
    assert ordered == sorted(ordered, reverse=True) and THRESHOLD == ordered[-1]


def test_rule_families_follow_their_composition_rules():
    """v2's rule-generated families: every half-Heusler obeys the 18- (or Nowotny–Juza 8-) electron count, the
    textbook members are in and a 19-electron one is out; the v1 pool stays without them."""
    from utils.datagen.prototypes import (_VALENCE, ALLOWED, RULE_FAMILIES_BY_VERSION, THRESHOLD_BY_VERSION,
                                          rule_families)
    fam = rule_families()
    hh, t122 = fam["half_heusler"], fam["thorium_chromium_silicide"]
    for x, y, z in hh:
        if x in ("Li", "Na", "K"):
            assert y in ("Mg", "Zn", "Cd") and z in ("N", "P", "As", "Sb", "Bi"), (x, y, z)
        else:
            assert _VALENCE[x] + _VALENCE[y] + _VALENCE[z] == 18, (x, y, z)
    for member in (["Ti", "Ni", "Sn"], ["Zr", "Co", "Sb"], ["Nb", "Fe", "Sb"], ["Sc", "Ni", "Sb"], ["Li", "Zn", "As"]):
        assert member in hh, member
    assert ["Ti", "Ni", "Sb"] not in hh and ["Ti", "Co", "Sn"] not in hh   # 19 and 17 electrons
    assert ["Ce", "Cu", "Si"] in t122 and ["Ba", "Fe", "As"] in t122
    assert ["Gd", "Al"] in fam["laves_C15"] and ["Er", "Co"] in fam["laves_C15"]
    assert all(e in ALLOWED for lists in fam.values() for m in lists for e in m)
    assert all(len({tuple(m) for m in lists}) == len(lists) for lists in fam.values())
    assert set(RULE_FAMILIES_BY_VERSION) == set(THRESHOLD_BY_VERSION)
    flags = [RULE_FAMILIES_BY_VERSION[v] for v in sorted(RULE_FAMILIES_BY_VERSION, key=lambda v: int(v[1:]))]
    assert flags == sorted(flags) and not RULE_FAMILIES_BY_VERSION["v1"]   # once in, the families stay


def test_candidate_list_skips_substituted_copies_of_known_crystals(monkeypatch):
    """A substituted candidate with a known crystal's prototype and elements per role is not labelled twice."""
    from utils.datagen import known, prototypes
    kc = (dict(id="known-NaCl", prototype="rocksalt", mapping={"A": "Na", "X": "Cl"}, origin="known"),
          dict(id="known-mineral", prototype="mineral", mapping=None, origin="known"))
    raw = [dict(prototype="rocksalt", mapping={"A": "Na+", "X": "Cl-"}, score=1.0),
           dict(prototype="rocksalt", mapping={"A": "K+", "X": "Cl-"}, score=0.5),
           dict(prototype="cesium_chloride", mapping={"A": "Na+", "X": "Cl-"}, score=0.1)]
    monkeypatch.setattr(known, "known_candidates", lambda: kc)
    monkeypatch.setattr(prototypes, "raw_candidates", lambda threshold: list(raw))
    ids = [c["id"] for c in known.candidate_list()]
    assert ids[:2] == ["known-NaCl", "known-mineral"] and len(ids) == 4
    assert not any(i.startswith("rocksalt-NaCl") for i in ids)
    assert any(i.startswith("rocksalt-KCl") for i in ids) and any(i.startswith("cesium_chloride-NaCl") for i in ids)


def test_yield_order_uses_wall_times_of_the_device_it_runs_on(tmp_path):
    """A prototype labelled fast on a GPU but slowly on CPU cores goes after a cheap one when labelling on CPU."""
    from utils.datagen.runner import _best_yield_first
    from utils.datagen.store import write_record

    def rec(i, proto, wall, device):
        write_record(tmp_path, dict(id=f"{proto}-{i}", ok=True, prototype=proto, wall_s=wall, stable=True,
                                    provenance=dict(device=device)))
    for i in range(3):
        rec(i, "big", 2.0, "cuda")     # 22-atom cells: cheap on the GPU
        rec(i + 3, "big", 60.0, "cpu")
        rec(i, "small", 5.0, "cpu")
    tasks = [dict(prototype="big"), dict(prototype="small")]
    assert [t["prototype"] for t in _best_yield_first(tasks, tmp_path, "cuda")] == ["big", "small"]
    assert [t["prototype"] for t in _best_yield_first(tasks, tmp_path, "cpu")] == ["small", "big"]
