"""Tests of utils.claims.baselines (and its old name utils.baselines) on a tiny synthetic dataset (8 crystals built in memory, a couple of epochs)."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk

from utils.claims import baselines
from utils.claims import (METHODS, BaselineError, CompositionConfig, CompositionMLP, format_table, load_baselines,
                          mean_dos_baseline, run_baselines)
from utils.graphs import structure_to_graph
from utils.model import ModelConfig
from utils.train import TrainConfig, dos_metrics

ROOT = Path(__file__).resolve().parents[1]
FREQ_CM1 = np.linspace(0.0, 1000.0, 51)
TINY_MODEL = ModelConfig(em_dim=8, mul=2, radial_neurons=8, num_basis=4)
TINY_MLP = CompositionConfig(em_dim=8, hidden=(8,))
BUDGET = TrainConfig(epochs=2, batch_size=2)


@dataclasses.dataclass
class FakeMaterial:
    id: str
    formula: str
    structure: object
    dos: np.ndarray


class FakeDataset:
    """The part of utils.data.PhononDataset that run_baselines uses."""

    version, sha256, freq_cm1 = "test", "0" * 64, FREQ_CM1
    names = ("train",) * 4 + ("valid",) * 2 + ("test",) * 2

    def __init__(self):
        crystals = [bulk("NaCl", "rocksalt", a=5.64), bulk("Si", "diamond", a=5.43), bulk("Cu", "fcc", a=3.61),
                    bulk("MgO", "rocksalt", a=4.21), bulk("ZnO", "wurtzite", a=3.25, c=5.21),
                    bulk("Al", "fcc", a=4.05), bulk("KCl", "rocksalt", a=6.29), bulk("GaAs", "zincblende", a=5.65)]
        rng = np.random.default_rng(0)
        self.materials = []
        for i, atoms in enumerate(crystals):
            center, width = rng.uniform(100, 800), rng.uniform(50, 200)
            dos = np.exp(-(((FREQ_CM1 - center) / width) ** 2))
            self.materials.append(FakeMaterial(f"fake-{i}", atoms.get_chemical_formula(), atoms, dos / dos.max()))

    def __len__(self):
        return len(self.materials)

    def __getitem__(self, i):
        return self.materials[int(i)]

    def split(self, name):
        return np.array([i for i, s in enumerate(self.names) if s == name])

    def split_sizes(self):
        return {name: int(len(self.split(name))) for name in ("train", "valid", "test")}


@pytest.fixture(scope="module")
def dataset():
    return FakeDataset()


def run(dataset, out, **kw):
    kw = dict(dict(seeds=(0, 1), train_config=BUDGET, model_config=TINY_MODEL, composition_config=TINY_MLP,
                   out=out, log=None), **kw)
    return run_baselines(dataset, **kw)


@pytest.fixture(scope="module")
def first_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("baselines") / "baselines.json"
    return out, run(dataset, out)


# ------------------------------------------------------------------------------------------ mean DoS
def test_mean_dos_baseline_is_the_normalized_train_mean():
    train = np.random.default_rng(1).uniform(0, 1, size=(5, 51))
    mean = mean_dos_baseline(train)
    np.testing.assert_allclose(mean, train.mean(0) / train.mean(0).max())
    assert mean.max() == pytest.approx(1.0)
    np.testing.assert_allclose(mean_dos_baseline(train, normalize=False), train.mean(0))


@pytest.mark.parametrize("bad", [np.zeros((0, 51)), np.ones(51)])
def test_mean_dos_baseline_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="n_train, n_grid"):
        mean_dos_baseline(bad)


# -------------------------------------------------------------------------------- composition MLP
def test_composition_mlp_output_is_normalized(dataset):
    from torch_geometric.loader import DataLoader

    graphs = [structure_to_graph(m.structure) for m in dataset.materials]
    torch.manual_seed(0)
    model = CompositionMLP(CompositionConfig(hidden=(16, 16)))
    with torch.no_grad():
        out = model(next(iter(DataLoader(graphs, batch_size=len(graphs)))))
    assert out.shape == (len(graphs), 51)
    assert (out >= 0).all()
    np.testing.assert_allclose(out.max(dim=1).values.numpy(), 1.0, atol=1e-6)


def test_composition_mlp_ignores_structure():
    """Two polymorphs of SiC (zincblende, rocksalt) get the same prediction: the model sees no geometry."""
    torch.manual_seed(0)
    model = CompositionMLP()
    with torch.no_grad():
        a = model(structure_to_graph(bulk("SiC", "zincblende", a=4.36)))
        b = model(structure_to_graph(bulk("SiC", "rocksalt", a=4.0)))
    torch.testing.assert_close(a, b)


def test_composition_mlp_weighting():
    graph = structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))
    mass, plain = CompositionMLP(weighting="mass"), CompositionMLP(weighting="plain")
    assert mass.weights[10] == pytest.approx(22.99, abs=0.01)  # Na, Z = 11
    assert torch.all(plain.weights == 1)
    assert (graph.composition * plain.weights).sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="weighting"):
        CompositionConfig(weighting="volume")


# ------------------------------------------------------------------------------------ run_baselines
def test_run_writes_json_with_every_run(first_run, dataset):
    out, results = first_run
    stored = json.loads(out.read_text())
    assert stored == json.loads(json.dumps(results))
    assert set(stored["runs"]) == {"mean_dos"} | {f"{m}/seed{s}" for m in METHODS if m != "mean_dos" for s in (0, 1)}
    assert stored["seeds"] == [0, 1]
    assert list(stored["summary"]) == list(METHODS)
    for method, stats in stored["summary"].items():
        assert stats["mse"]["n"] == (1 if method == "mean_dos" else 2)
        assert set(stats) == set(baselines.METRICS)
    exp = stored["experiment"]
    assert exp["dataset"]["split_sizes"] == {"train": 4, "valid": 2, "test": 2}
    assert exp["train_config"]["epochs"] == 2 and "seed" not in exp["train_config"]
    for key, r in stored["runs"].items():
        assert np.isfinite(r["test"]["mse"]) and r["wall_s"] >= 0
        if key != "mean_dos":
            assert r["epochs_run"] == 2 and r["n_params"] > 0
    assert stored["runs"]["e3nn_lmax0/seed0"]["n_params"] < stored["runs"]["e3nn/seed0"]["n_params"]
    assert "composition-only MLP" in format_table(stored)


def test_mean_dos_run_equals_train_mean(first_run, dataset):
    _, results = first_run
    train = np.stack([dataset[i].dos for i in dataset.split("train")])
    test = np.stack([dataset[i].dos for i in dataset.split("test")])
    mean = train.mean(0) / train.mean(0).max()
    expected = dos_metrics(FREQ_CM1, test, np.tile(mean, (len(test), 1)))
    for metric in baselines.METRICS:
        assert results["runs"]["mean_dos"]["test"][metric] == pytest.approx(expected[metric], rel=1e-5)


def test_second_call_trains_nothing(first_run, dataset, monkeypatch):
    out, results = first_run
    before = out.read_text()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(baselines, "_train_network", no_training)
    again = run(dataset, out)
    assert again["runs"] == json.loads(before)["runs"]
    assert json.loads(out.read_text())["runs"] == json.loads(before)["runs"]


def test_resume_trains_only_missing_runs(first_run, dataset, tmp_path, monkeypatch):
    out = tmp_path / "partial.json"
    partial = json.loads(first_run[0].read_text())
    del partial["runs"]["e3nn/seed1"]
    out.write_text(json.dumps(partial))
    trained = []
    original = baselines._train_network

    def counting(method, seed, *args, **kwargs):
        trained.append((method, seed))
        return original(method, seed, *args, **kwargs)

    monkeypatch.setattr(baselines, "_train_network", counting)
    results = run(dataset, out)
    assert trained == [("e3nn", 1)]
    assert "e3nn/seed1" in results["runs"] and load_baselines(out)["summary"]["e3nn"]["mse"]["n"] == 2


def test_other_budget_is_refused_unless_restart(first_run, dataset, tmp_path):
    out = tmp_path / "b.json"
    out.write_text(first_run[0].read_text())
    with pytest.raises(BaselineError, match="train_config"):
        run(dataset, out, train_config=dataclasses.replace(BUDGET, epochs=1), methods=("mean_dos",))
    results = run(dataset, out, train_config=dataclasses.replace(BUDGET, epochs=1), methods=("mean_dos",),
                  restart=True)
    assert list(results["runs"]) == ["mean_dos"]


def test_unknown_method_is_an_error(dataset):
    with pytest.raises(ValueError, match="unknown methods"):
        run(dataset, None, methods=("knn",))


@pytest.mark.slow   # two fresh interpreters import torch (~10 s each on a busy machine)
def test_cli_help():
    for command in ([sys.executable, "-m", "utils.claims", "baselines", "--help"],
                    [sys.executable, str(ROOT / "scripts" / "baselines.py"), "--help"]):   # the old entry point
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0 and "--max-minutes" in done.stdout, done.stderr


def test_old_module_re_exports_the_baselines():
    import utils.baselines
    for name in utils.baselines.__all__:
        assert getattr(utils.baselines, name) is getattr(baselines, name, None) or name in (
            "CompositionConfig", "CompositionMLP", "mean_dos_baseline")
    assert utils.baselines.CompositionMLP is CompositionMLP


def test_two_worker_processes_give_the_same_runs_as_one(first_run, dataset, tmp_path):
    """workers=2 trains the same seeded runs in spawned processes: the stored test metrics equal the serial ones."""
    _, serial = first_run
    par = run(dataset, tmp_path / "par.json", workers=2)
    assert set(par["runs"]) == set(serial["runs"])
    for key, r in par["runs"].items():
        assert r["test"] == serial["runs"][key]["test"], key
        assert (r["best_epoch"], r["n_params"]) == (serial["runs"][key]["best_epoch"], serial["runs"][key]["n_params"])


class FakeDatasetWithBenchmark(FakeDataset):
    names = ("train",) * 4 + ("valid",) * 2 + ("test", "benchmark")

    def split_sizes(self):
        return {name: int(len(self.split(name))) for name in ("train", "valid", "test", "benchmark")}


def test_a_benchmark_split_is_scored_next_to_the_test_split(tmp_path):
    ds = FakeDatasetWithBenchmark()
    res = run(ds, tmp_path / "b.json", methods=["mean_dos", "e3nn"])
    bench = ds.split("benchmark")
    for run_ in res["runs"].values():
        assert run_["benchmark"]["n"] == len(bench) == 1 and run_["test"]["n"] == 1
        # one material: the median W₁ is that material's W₁, i.e. the mean
        assert run_["benchmark"]["median_wasserstein_cm1"] == pytest.approx(run_["benchmark"]["wasserstein_cm1"])
    assert set(res["summary_benchmark"]) == {"mean_dos", "e3nn"}
    assert set(res["verdicts"]) == {"test", "benchmark"}
    v = res["verdicts"]["benchmark"]["mean_dos"]["median_wasserstein_cm1"]
    assert v["outcome"] in ("held", "inconclusive", "reversed")
    assert "median W₁" in format_table(res, "benchmark")
    assert load_baselines(tmp_path / "b.json")["summary_benchmark"] == res["summary_benchmark"]


def test_without_a_benchmark_split_nothing_is_invented(first_run):
    _, res = first_run
    assert "summary_benchmark" not in res and all("benchmark" not in r for r in res["runs"].values())
