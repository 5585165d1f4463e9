"""Tests of utils.predict: partial DoS from per-atom outputs, label resampling, alloys (N-hot), the CLI.

Most tests use a tiny checkpoint written to a temporary folder (so they do not depend on the shipped one);
one test uses the shipped checkpoint when it is present. Structure files live in tests/fixtures/predict/.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk
from pymatgen.core import Lattice, Structure

from utils.checkpoint import checkpoint_exists
from utils import predict as P
from utils.data import FINE_FREQ_CM1, FREQ_CM1
from utils.graphs import GraphError, average_neighbors, structure_to_graph
from utils.model import ModelConfig, PeriodicNetwork
from utils.train import DEFAULT_CHECKPOINT, CheckpointError, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "predict"
NACL, SI, MIXED, VACANCY, GARBAGE = (FIXTURES / n for n in
                                     ("NaCl.cif", "Si.POSCAR", "Mg3SbBi_mixed.cif", "NaCl_vacancy.cif", "garbage.cif"))
TRAIN_ELEMENTS = ["Cl", "Mg", "Na", "Sb"]          # Si and Bi are "unseen" for the tiny checkpoint
ATOL = 1e-5                                       # float32 outputs


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A small, briefly trained model saved with utils.train.save_checkpoint (non-zero outputs)."""
    graphs = [structure_to_graph(bulk("NaCl", "rocksalt", a=5.64)), structure_to_graph(bulk("Si", "diamond", a=5.43))]
    torch.manual_seed(0)
    model = PeriodicNetwork(ModelConfig(em_dim=16, mul=4, radial_neurons=16, num_neighbors=average_neighbors(graphs)))
    target = torch.exp(-((torch.tensor(np.array(FREQ_CM1), dtype=torch.float32) - 300.0) / 150.0) ** 2)   # max 1
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    from torch_geometric.loader import DataLoader
    batch = next(iter(DataLoader(graphs, batch_size=2)))
    for _ in range(15):
        loss = torch.nn.functional.mse_loss(model(batch), target.expand(2, -1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(folder, model.eval(), extra=dict(freq_cm1=FREQ_CM1.tolist(), train_elements=TRAIN_ELEMENTS))
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    return P.load_model(tiny_checkpoint)


def run_cli(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "utils.predict", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


# ------------------------------------------------------------------------------------ partial DoS, flags
def test_partial_dos_sum_to_total_on_real_files(tiny):
    model, meta = tiny
    structures = [P.read_structure(p) for p in (NACL, SI, MIXED)]
    results = P.predict_structures(structures, model=model, meta=meta)
    assert [r["formula"] for r in results] == ["NaCl", "Si", "Mg3BiSb"]
    for r in results:
        assert r["dos"].shape == (51,) and np.isclose(r["dos"].max(), 1.0, atol=ATOL)
        np.testing.assert_allclose(sum(r["pdos"].values()), r["dos"], atol=ATOL)
        np.testing.assert_allclose(r["per_atom"].mean(axis=0), r["dos"], atol=ATOL)
        assert np.isclose(sum(r["pdos_weight"].values()), 1.0, atol=1e-6)
        assert np.isclose(sum(r["composition"].values()), 1.0)
        assert 0 < r["cv300_J_per_molK"] < 24.95            # below the Dulong-Petit limit 3R
    nacl, si, mixed = results
    assert sorted(nacl["pdos"]) == ["Cl", "Na"] and list(si["pdos"]) == ["Si"]
    assert (nacl["n_hot"], si["n_hot"], mixed["n_hot"]) == (False, False, True)
    assert mixed["mixed_sites"] == ["Sb0.5Bi0.5", "Sb0.5Bi0.5"]
    assert (nacl["unseen_elements"], si["unseen_elements"], mixed["unseen_elements"]) == ([], ["Si"], ["Bi"])
    # a 50/50 site's output is shared equally between its two elements
    np.testing.assert_allclose(mixed["pdos"]["Sb"], mixed["pdos"]["Bi"], atol=ATOL)


def test_partial_dos_is_supercell_invariant(tiny):
    """The 8-atom conventional NaCl cell and the 2-atom primitive cell give the same partial DoS."""
    model, meta = tiny
    conventional = P.read_structure(NACL)
    primitive = conventional.get_primitive_structure()
    a, b = P.predict_structures([conventional, primitive], model=model, meta=meta)
    assert (a["n_sites"], b["n_sites"]) == (8, 2)
    for el in ("Na", "Cl"):
        np.testing.assert_allclose(a["pdos"][el], b["pdos"][el], atol=1e-4)


def test_ase_atoms_input_and_unknown_train_elements(tiny):
    model, meta = tiny
    (r,) = P.predict_structures([bulk("NaCl", "rocksalt", a=5.64)], model=model, meta=None)
    assert r["unseen_elements"] is None                     # no metadata → unknown, not "none"
    (s,) = P.predict_structures([P.read_structure(NACL)], model=model, meta=meta)
    np.testing.assert_allclose(r["dos"], s["dos"], atol=1e-4)


def test_element_partial_dos_splits_mixed_sites_by_occupancy():
    occ = np.zeros((2, 118))
    occ[0, 11] = 1.0                       # Mg
    occ[1, 50], occ[1, 82] = 0.25, 0.75    # Sb0.25 Bi0.75
    per_atom = np.array([[2.0, 0.0], [0.0, 4.0]])
    pd = P.element_partial_dos(per_atom, occ)
    assert list(pd) == ["Mg", "Sb", "Bi"]
    np.testing.assert_allclose(pd["Sb"], [0.0, 0.5])
    np.testing.assert_allclose(pd["Bi"], [0.0, 1.5])
    np.testing.assert_allclose(sum(pd.values()), per_atom.mean(axis=0))


def test_vacancy_is_refused(tiny):
    model, meta = tiny
    with pytest.raises(GraphError, match="vacancies are not supported"):
        P.predict_structures([P.read_structure(VACANCY)], model=model, meta=meta)


# ----------------------------------------------------------------------------------- labels on the grid
def test_coarse_from_fine_equals_direct_coarse_broadening():
    """σ=5 fine spectrum re-broadened by √(20²−5²) = the σ=20 spectrum sampled on the 51-point grid."""
    rng = np.random.default_rng(0)
    modes = rng.uniform(60, 900, 300)                        # cm⁻¹, away from the grid's ends

    def broadened(grid, sigma):
        return np.exp(-0.5 * ((grid[None] - modes[:, None]) / sigma) ** 2).sum(0) / (sigma * np.sqrt(2 * np.pi))

    fine = broadened(FINE_FREQ_CM1, 5.0)
    coarse = P.coarse_from_fine(FINE_FREQ_CM1, fine)
    direct = broadened(FREQ_CM1, 20.0)
    assert np.abs(coarse - direct).max() < 1e-3 * direct.max()
    rows = P.coarse_from_fine(FINE_FREQ_CM1, np.stack([fine, 2 * fine]))   # rows are independent
    np.testing.assert_allclose(rows[1], 2 * coarse)
    with pytest.raises(ValueError, match="sigma"):
        P.coarse_from_fine(FINE_FREQ_CM1, fine, sigma_fine_cm1=20, sigma_coarse_cm1=5)


def test_label_partial_dos_matches_the_target_of_the_dataset():
    from utils.data import load_dataset
    try:
        ds = load_dataset()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no packed dataset: {exc}")
    for material in list(ds)[:10]:
        total, pdos = P.label_partial_dos(material)
        assert np.isclose(total.max(), 1.0)
        np.testing.assert_allclose(sum(pdos.values()), total, atol=1e-9)
        assert np.abs(total - material.dos).max() < 0.03, material.id
        fractions = P.weight_fractions(FREQ_CM1, pdos)        # sum rule: share of modes = atom fraction
        for el, f in fractions.items():
            assert abs(f - np.mean(np.array(material.symbols) == el)) < 0.03, (material.id, el)


def test_scores_and_baseline():
    f = np.asarray(FREQ_CM1)
    low, high = np.exp(-((f - 150) / 40) ** 2), np.exp(-((f - 450) / 40) ** 2)
    label = {"Bi": low, "O": high}
    perfect = P.partial_dos_scores(f, label, label)
    assert perfect["misassigned"] < 1e-12 and max(perfect["wasserstein_cm1"].values()) < 1e-9
    baseline = P.composition_baseline(low + high, {"Bi": 0.5, "O": 0.5})
    naive = P.partial_dos_scores(f, baseline, label)
    assert 0.45 < naive["misassigned"] < 0.55                   # half the modes on the wrong element
    assert naive["wasserstein_cm1"]["Bi"] > 100                 # the baseline's Bi sits 150 cm⁻¹ too high
    swapped = P.partial_dos_scores(f, {"Bi": high, "O": low}, label)
    assert swapped["misassigned"] > 0.99
    shift_pred, shift_label = naive["mean_freq_shift_cm1"]["Bi"]
    assert abs(shift_pred) < 1e-6 and shift_label < -100
    with pytest.raises(ValueError, match="no predicted partial DoS"):
        P.partial_dos_scores(f, {"Bi": low}, label)


def test_descriptors():
    f = np.asarray(FREQ_CM1)
    g = np.exp(-((f - 310) / 40) ** 2) + 0.5 * np.exp(-((f - 620) / 30) ** 2)
    peaks = P.peak_positions(f, g)
    assert len(peaks) == 2 and abs(peaks[0] - 310) < 3 and abs(peaks[1] - 620) < 3
    assert P.peak_positions(f, np.zeros_like(f)) == []
    assert abs(P.mean_frequency(f, np.exp(-((f - 400) / 50) ** 2)) - 400) < 1e-6


# ---------------------------------------------------------------------------------------------- alloys
def test_virtual_crystal_interpolates_and_mixes():
    mg3sb2 = Structure.from_spacegroup(164, Lattice.hexagonal(4.57, 7.23), ["Mg", "Mg", "Sb"],
                                       [(0, 0, 0), (1 / 3, 2 / 3, 0.63), (1 / 3, 2 / 3, 0.23)])
    mg3bi2 = Structure.from_spacegroup(164, Lattice.hexagonal(4.67, 7.40), ["Mg", "Bi", "Mg"],
                                       [(0, 0, 0), (1 / 3, 2 / 3, 0.24), (1 / 3, 2 / 3, 0.62)])  # other site order
    half = P.virtual_crystal(mg3sb2, mg3bi2, 0.5)
    assert len(half) == 5 and not half.is_ordered
    assert np.isclose(half.lattice.a, 4.62) and np.isclose(half.lattice.c, 7.315)
    mixed = [{str(k): v for k, v in s.species.items()} for s in half if len(s.species) > 1]
    assert mixed == [{"Sb": 0.5, "Bi": 0.5}] * 2
    assert P.virtual_crystal(mg3sb2, mg3bi2, 0.0).composition.reduced_formula == "Mg3Sb2"
    assert P.virtual_crystal(mg3sb2, mg3bi2, 1.0).composition.reduced_formula == "Mg3Bi2"
    g = structure_to_graph(half)                                 # N-hot: Σ occ·mass at Sb and Bi
    row = g.x[g.node_attr[:, 50] > 0][0]
    assert np.isclose(float(row[50]), 0.5 * 121.760, atol=1e-3) and np.isclose(float(row[82]), 0.5 * 208.98, atol=1e-3)
    with pytest.raises(ValueError, match="sites"):
        P.virtual_crystal(mg3sb2, Structure(Lattice.hexagonal(4.6, 7.3), ["Mg"], [[0, 0, 0]]), 0.5)
    with pytest.raises(ValueError, match="x must lie"):
        P.virtual_crystal(mg3sb2, mg3bi2, 1.5)


# --------------------------------------------------------------------------------------------- the CLI
@pytest.mark.slow   # 13–20 s: the CLI in a subprocess, with a figure
def test_cli_summary_json_and_plot(tiny_checkpoint, tmp_path):
    png = tmp_path / "dos.png"
    proc = run_cli(NACL, SI, MIXED, "--checkpoint", tiny_checkpoint, "--json", "--plot", png)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [d["file"] for d in lines] == [str(NACL), str(SI), str(MIXED)]
    for d in lines:
        assert len(d["dos"]) == len(d["freq_cm1"]) == 51
        np.testing.assert_allclose(np.sum([v for v in d["pdos"].values()], axis=0), d["dos"], atol=1e-4)
    assert lines[2]["n_hot"] and lines[2]["mixed_sites"] == ["Sb0.5Bi0.5", "Sb0.5Bi0.5"]
    assert "warning" in proc.stderr and "Si" in proc.stderr and "training set" in proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_inputs_in_one_run(tiny_checkpoint, tmp_path):
    """Every bad file is reported (named, no traceback), the good one is still predicted, exit code 1."""
    proc = run_cli(VACANCY, GARBAGE, tmp_path / "missing.cif", NACL, "--checkpoint", tiny_checkpoint, "--json")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    objects = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(objects) == 4                                   # one JSON object per input file
    assert [("error" in o) for o in objects] == [True, True, True, False]
    assert objects[3]["formula"] == "NaCl"
    err = proc.stderr
    assert f"{VACANCY}" in err and "vacancies are not supported" in err
    assert f"{GARBAGE}" in err and "cannot read" in err
    assert "missing.cif: no such file" in err


@pytest.mark.parametrize("case", ["vacancy", "unreadable", "nonexistent", "folder", "too-large"])
def test_cli_each_bad_input(case, tiny_checkpoint, tmp_path, capsys):
    args = {"vacancy": [VACANCY], "unreadable": [GARBAGE], "nonexistent": [tmp_path / "nope.cif"],
            "folder": [tmp_path], "too-large": [NACL, "--max-atoms", "4"]}[case]
    expected = {"vacancy": "vacancies are not supported", "unreadable": "cannot read a crystal structure",
                "nonexistent": "no such file", "folder": "is a folder", "too-large": "more than --max-atoms 4"}[case]
    code = P.main([*map(str, args), "--checkpoint", str(tiny_checkpoint)])
    out, err = capsys.readouterr()
    assert code == 1
    assert expected in err and str(args[0]) in err
    assert "Traceback" not in err and out == ""


def test_cli_missing_and_corrupt_checkpoint(tmp_path, tiny_checkpoint, capsys):
    proc = run_cli(NACL, "--checkpoint", tmp_path / "nowhere")    # a real process: no traceback
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no checkpoint in" in proc.stderr and "nowhere" in proc.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.pt", "model.json"):
        (broken / name).write_bytes((tiny_checkpoint / name).read_bytes())
    (broken / "model.json").write_text("{not json")
    assert P.main([str(NACL), "--checkpoint", str(broken)]) == 2
    assert "corrupt" in capsys.readouterr().err
    (broken / "model.json").write_bytes((tiny_checkpoint / "model.json").read_bytes())
    (broken / "model.pt").write_bytes(b"garbage")
    assert P.main([str(NACL), "--checkpoint", str(broken)]) == 2
    assert "sha256" in capsys.readouterr().err
    with pytest.raises(CheckpointError):
        P.load_model(tmp_path / "nowhere")


def test_read_structure_falls_back_to_ase(tmp_path):
    import ase.io
    path = tmp_path / "nacl.extxyz"
    ase.io.write(path, bulk("NaCl", "rocksalt", a=5.64), format="extxyz")
    s = P.read_structure(path)
    assert len(s) == 2


def test_shipped_checkpoint_if_present():
    if not checkpoint_exists(DEFAULT_CHECKPOINT):
        pytest.skip("no shipped checkpoint (run `make train`)")
    try:
        model, meta = P.load_model()
    except CheckpointError as exc:
        pytest.skip(f"shipped checkpoint not usable right now: {exc}")
    (r,) = P.predict_structures([P.read_structure(MIXED)], model=model, meta=meta)
    np.testing.assert_allclose(sum(r["pdos"].values()), r["dos"], atol=ATOL)
    assert r["n_hot"] and np.isfinite(r["cv300_J_per_molK"]) and r["unseen_elements"] is not None
