"""Dataset v2's generator: the known-crystal table, the E–V pre-scan, the stability and hull rules, the benchmark."""
from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from utils.datagen import benchmark as B
from utils.datagen.filters import MIN_FREQ_CM1, dynamically_stable, ground_states, hull_energies
from utils.datagen.known import CLASSES, build_known, read_table
from utils.datagen.label import LabelSettings, label_atoms, scan_volume
from utils.datagen.prototypes import PROTOTYPES

ROOT = Path(__file__).resolve().parents[1]


def test_table_rows_are_well_formed():
    rows = read_table()
    assert len(rows) >= 300
    assert {r["cls"] for r in rows} <= set(CLASSES)
    assert all(r["prototype"] in PROTOTYPES for r in rows)
    for r in rows:
        roles = {role for role, _ in PROTOTYPES[r["prototype"]][2]}
        assert set(r["mapping"]) == roles, r
        assert 2.0 < r["a_A"] < 12.0, r
    keys = [(r["prototype"], tuple(sorted(r["mapping"].items()))) for r in rows]
    assert len(keys) == len(set(keys)), [k for k, c in Counter(keys).items() if c > 1]


def test_elemental_rows_agree_with_ase_reference_states():
    """Cross-check of the table against ase's reference states where they overlap (3 %: RT vs low-T values)."""
    from ase.data import atomic_numbers, reference_states
    n = 0
    for r in read_table():
        if len(r["mapping"]) != 1:
            continue
        sym = r["mapping"]["A"]
        ref = reference_states[atomic_numbers[sym]]
        if ref and ref.get("symmetry") == r["prototype"]:
            assert r["a_A"] == pytest.approx(ref["a"], rel=0.03), (sym, r["a_A"], ref["a"])
            if r["c_A"]:
                assert r["c_A"] / r["a_A"] == pytest.approx(ref["c/a"], rel=0.03), sym
            n += 1
    assert n >= 25


@pytest.mark.parametrize("proto, mapping, a, c, b", [
    ("rocksalt", dict(A="Na", X="Cl"), 5.64, None, None),
    ("wurtzite", dict(A="Ga", X="N"), 3.19, 5.19, None),
    ("triphylite", dict(A="Li", B="Fe", C="P", X="O"), 10.33, 4.69, 6.01),
    ("tetradymite", dict(A="Bi", X="Te"), 4.39, 30.50, None),
    ("anti_La2O3", dict(A="Mg", B="Mg", X="Sb"), 4.57, 7.23, None),
    ("corundum", dict(A="Al", X="O"), 4.76, 12.99, None),
])
def test_known_structures_have_their_space_group_and_volume(proto, mapping, a, c, b):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
    s = build_known(proto, mapping, a, c, b)
    assert SpacegroupAnalyzer(s, symprec=1e-3).get_space_group_number() == PROTOTYPES[proto][0]
    assert s.lattice.abc[0] > 0.5 * min(a, c or a)
    if proto == "rocksalt":
        assert s.volume / len(s) == pytest.approx(5.64 ** 3 / 8, rel=1e-6)   # 22.4 Å³/atom, experiment


def test_volume_scan_finds_the_potential_minimum():
    """EMT Cu started 30 % too dense: the pre-scan moves it near the minimum, relaxation changes it by < 5 %."""
    atoms = bulk("Cu", "fcc", a=3.61 * 0.7 ** (1 / 3))
    atoms.calc = EMT()
    info = scan_volume(atoms, EMT(), LabelSettings.fast())
    assert info["chosen_factor"] > 1.2
    rec = label_atoms(bulk("Cu", "fcc", a=3.61 * 0.7 ** (1 / 3)), EMT(), LabelSettings.fast(), volume_scan=True)
    assert abs(rec["relax"]["volume_change"]) < 0.05
    assert np.isfinite(rec["energy_per_atom_eV"]) and rec["relax"]["volume_scan"]["factors"][0] == 0.70


def test_dynamic_stability_rule():
    assert dynamically_stable(dict(imaginary_weight=0.0, min_freq_cm1=-2.0))
    assert not dynamically_stable(dict(imaginary_weight=0.005, min_freq_cm1=MIN_FREQ_CM1 - 1))
    assert not dynamically_stable(dict(imaginary_weight=0.02, min_freq_cm1=-5.0))
    assert not dynamically_stable(dict(imaginary_weight=0.0))


def _rec(rid, numbers):
    return dict(id=rid, structure=dict(numbers=numbers))


def test_hull_energies_and_ground_states():
    """A–B toy system: AB on the hull (formation −0.5 eV/atom), A3B 0.2 eV/atom above the AB–A tie line."""
    recs = [_rec("AB", [11, 17]), _rec("A3B", [11, 11, 11, 17]), _rec("AB-poly", [11, 17])]
    energies = {"AB": -0.5, "A3B": -0.25 + 0.2, "AB-poly": -0.4}
    refs = {"Na": 0.0, "Cl": 0.0}
    eh = hull_energies(recs, energies, refs)
    assert eh["AB"] == pytest.approx(0.0, abs=1e-9)
    assert eh["A3B"] == pytest.approx(0.2, abs=1e-9)
    assert eh["AB-poly"] == pytest.approx(0.1, abs=1e-9)
    assert ground_states(recs, energies) == {"AB", "A3B"}
    # a second copy of the same crystal (1e-6 eV/atom apart) is a ground state too; a polymorph 2 meV up is not
    twins = recs + [_rec("AB-twin", [11, 17]), _rec("AB-near", [11, 17])]
    assert ground_states(twins, dict(energies, **{"AB-twin": -0.5 + 1e-6, "AB-near": -0.498})) == {"AB", "AB-twin", "A3B"}
    assert "X" not in hull_energies([_rec("X", [8])], {"X": -1.0}, refs)   # no reference for O: left out


def test_benchmark_selection_meets_quotas_and_names():
    from pymatgen.core import Composition

    from utils.datagen.prototypes import build_counts
    rows = read_table()
    cands = []
    for r in rows:   # the formula from the roles' site counts (building 400 structures would take minutes)
        counts: dict = {}
        for role, n in build_counts(r["prototype"]).items():
            counts[r["mapping"][role]] = counts.get(r["mapping"][role], 0) + n
        formula = Composition(counts).reduced_formula
        cands.append(dict(id=f"known-{formula}-{r['prototype']}", origin="known", formula=formula,
                          prototype=r["prototype"], bond_class=r["cls"], source="wyckoff-1963",
                          name=f"{formula} ({r['prototype']})"))
    cands.append(dict(id="known-TiO2-anatase", origin="known", formula="TiO2", prototype="mineral:Anatase",
                      bond_class="ionic", source="robocrys-mineral-db", name="Anatase"))
    members = B.select(cands, seed=0)
    assert len(members) >= 60
    counts = Counter(m["bond_class"] for m in members)
    assert all(counts[c] >= q for c, q in B.QUOTAS.items()), counts
    assert sum(m["named"] for m in members) == 20
    assert len({m["formula"] for m in members}) == len(members)   # one polymorph per composition


def test_committed_membership_file_is_consistent():
    members, sha = B.read_membership()
    assert len(members) >= 60 and len(sha) == 64
    named = {(m["formula"], m["prototype"]) for m in members if m["named"]}
    assert named == set(B.NAMED)
    counts = Counter(m["bond_class"] for m in members)
    assert all(counts[c] >= q for c, q in B.QUOTAS.items()), counts


def test_membership_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m utils.datagen benchmark"):
        B.read_membership(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a benchmark membership file"):
        B.read_membership(tmp_path / "bad.json")


def test_pack_v2_rules(tmp_path):
    """Benchmark member → split 'benchmark', its polymorph → 'test'; a substituted crystal above the hull, one with a
    mode below −30 cm⁻¹ and a substituted copy of a known crystal are left out, each counted."""
    from test_data import fake_record, write_labels

    from utils import data as D
    from utils.datagen.pack import pack
    chem = [[11, 17], [12, 8], [19, 35], [37, 53], [55, 17], [20, 9, 9], [38, 22, 8, 8], [29], [13], [26, 27],
            [56, 52], [12, 16]]
    recs = [fake_record(f"m{i:02d}", z, origin="substituted", energy_per_atom_eV=-1.0) for i, z in enumerate(chem)]
    recs[0].update(id="known-NaCl", origin="known", name="NaCl (rocksalt)", source="wyckoff-1963", bond_class="ionic")
    poly = fake_record("poly-NaCl", [11, 11, 17, 17], formula="NaCl", origin="substituted", energy_per_atom_eV=-0.95)
    copy = fake_record("copy-MgO", [12, 8], origin="substituted", energy_per_atom_eV=-1.0)
    recs[1].update(origin="known")
    high = fake_record("high-KCl", [19, 17], origin="substituted", energy_per_atom_eV=+0.5)
    soft = fake_record("soft-CaO", [20, 8], origin="substituted", energy_per_atom_eV=-1.0, min_freq_cm1=-80.0)
    labels, out = tmp_path / "labels", tmp_path / "data"
    write_labels(labels, shard_recs=recs + [poly, copy, high, soft])
    refs = {D.symbol(z): dict(energy_per_atom_eV=0.0) for z in range(1, 84)}
    (labels / "references.json").write_text(json.dumps(refs))
    member_file = tmp_path / "bench.json"
    member_file.write_text(json.dumps(dict(members=[dict(id="known-NaCl", formula="NaCl", name="NaCl")])))
    pack("v2", labels_dir=labels, out_dir=out, seed=0, min_materials_per_element=1, benchmark_file=member_file,
           rules="v2")
    ds = D.load_dataset("v2", data_dir=out)
    split = {str(i): D.SPLIT_NAMES[int(s)] for i, s in zip(ds.ids, ds.split_codes)}
    assert split["known-NaCl"] == "benchmark" and split["poly-NaCl"] == "test"
    assert "high-KCl" not in split and "soft-CaO" not in split and "copy-MgO" not in split and "m01" in split
    c = ds.meta["counts"]
    assert c["excluded_above_hull"] == 1 and c["excluded_mode_below_-30_cm1"] == 1 and c["excluded_duplicate_crystal"] == 1
    assert ds.meta["v2"]["benchmark"]["n_packed"] == 1 and len(ds.meta["v2"]["benchmark"]["sha256"]) == 64
    assert ds.summary()["split"]["benchmark"] == 1 and ds.summary()["origin"]["known"] == 2
    assert np.isfinite(ds.arrays["e_above_hull_eV"]).all() and ds.arrays["ground_state"].dtype == bool


def test_pack_v2_needs_references(tmp_path):
    from test_data import fake_record, write_labels

    from utils import data as D
    from utils.datagen.pack import pack
    write_labels(tmp_path / "labels", shard_recs=[fake_record("m0", [11, 17])])
    with pytest.raises(D.DataError, match="python -m utils.datagen references"):
        pack("v2", labels_dir=tmp_path / "labels", out_dir=tmp_path / "data", min_materials_per_element=1,
               rules="v2")


def test_readme_states_the_benchmark_size():
    members, _ = B.read_membership()
    text = (ROOT / "README.md").read_text()
    assert f"{len(members)} members fixed before any training" in text


def test_retry_failed_requeues_matching_failures_and_pack_prefers_the_success(tmp_path):
    import argparse

    from test_data import fake_record, write_labels

    from utils import data as D
    from utils.datagen.pack import pack
    from utils.datagen.runner import _tasks
    labels = tmp_path / "labels"
    vol = fake_record("cand-a", [11, 17], ok=False, reason="volume changed by -30% on relaxation (limit ±25%)")
    slow = fake_record("cand-b", [12, 8], ok=False, reason="timed out after 900 s")
    write_labels(labels, shard_recs=[vol, slow])
    tasks_file = tmp_path / "tasks.json.gz"
    tasks_file.write_bytes(gzip.compress(json.dumps([dict(id="cand-a"), dict(id="cand-b"), dict(id="cand-c")]).encode()))
    args = argparse.Namespace(tasks=tasks_file, out=labels, timeout=60, set="main", max_atoms=30, order="coverage",
                              limit=0, retry_failed=None)
    assert [t["id"] for t in _tasks(args, {})] == ["cand-c"]
    args.retry_failed = "volume changed"
    assert [t["id"] for t in _tasks(args, {})] == ["cand-a", "cand-c"]
    # the material labelled again lands in a later shard: the packer keeps the successful record
    with gzip.open(labels / "shards" / "shard-0001.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(fake_record("cand-a", [11, 17])) + "\n")
    pack("v0", labels_dir=labels, out_dir=tmp_path / "data", min_materials_per_element=1)
    assert D.load_dataset("v0", data_dir=tmp_path / "data").ids.tolist() == ["cand-a"]
