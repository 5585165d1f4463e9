"""Training loop, metrics, checkpoints (round trip, mismatches) and training on your own data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk

from utils.graphs import structure_to_graph
from utils.model import ModelConfig, PeriodicNetwork
from utils.train import (CheckpointError, TrainConfig, dos_metrics, load_checkpoint, meta_sha256, predict,
                         save_checkpoint, train, wasserstein_cm1)

ROOT = Path(__file__).resolve().parents[1]
GRID = np.linspace(0, 1000, 51)
TINY = dict(em_dim=8, mul=4, lmax=1, layers=1, radial_neurons=16, num_basis=6)


def _gauss(center, width=60.0):
    g = np.exp(-0.5 * ((GRID - center) / width) ** 2)
    return g / g.max()


def _tiny_set():
    crystals = [(bulk("NaCl", "rocksalt", a=5.64), 200.0), (bulk("Si", "diamond", a=5.43), 450.0),
                (bulk("Cu", "fcc", a=3.61), 230.0), (bulk("MgO", "rocksalt", a=4.21), 600.0)]
    return [structure_to_graph(a, r_max=4.0, dos=_gauss(c)) for a, c in crystals]


def test_training_overfits_a_tiny_set():
    torch.manual_seed(0)
    graphs = _tiny_set()
    model = PeriodicNetwork(ModelConfig(**dict(TINY, em_dim=16, mul=8, layers=2), num_neighbors=8.0))
    hist = train(model, graphs, graphs, TrainConfig(epochs=60, batch_size=4, lr=1e-2, weight_decay=0.0, gamma=1.0))
    assert hist["train_loss"][0] / min(hist["train_loss"]) >= 10, hist["train_loss"][::20]
    assert all(np.isfinite(hist["valid_loss"]))


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    graphs = _tiny_set()
    torch.manual_seed(0)
    model = PeriodicNetwork(ModelConfig(**TINY, num_neighbors=8.0))
    # a learning rate of ~0: the validation loss cannot improve after epoch 0, so training must stop at epoch 3
    hist = train(model, graphs, graphs, TrainConfig(epochs=50, batch_size=4, lr=1e-12, gamma=1.0, patience=3))
    assert hist["stopped"] == "patience" and hist["epoch"][-1] - hist["best_epoch"] == 3 and len(hist["epoch"]) < 50
    full = train(PeriodicNetwork(ModelConfig(**TINY, num_neighbors=8.0)), graphs, graphs,
                 TrainConfig(epochs=6, batch_size=4, lr=1e-12, gamma=1.0, patience=None))
    assert len(full["epoch"]) == 6 and "stopped" not in full


def test_checkpoint_round_trip_is_exact(tmp_path):
    torch.manual_seed(1)
    graphs = _tiny_set()
    model = PeriodicNetwork(ModelConfig(**TINY, num_neighbors=8.0))
    train(model, graphs, graphs, TrainConfig(epochs=3, batch_size=2))
    save_checkpoint(tmp_path, model, extra=dict(dataset=dict(version="vT", sha256="abc")))
    loaded, meta = load_checkpoint(tmp_path)
    np.testing.assert_array_equal(predict(model, graphs), predict(loaded, graphs))
    assert meta["model_config"]["em_dim"] == 8 and meta["dataset"]["version"] == "vT"


def test_checkpoint_mismatches_are_named(tmp_path):
    model = PeriodicNetwork(ModelConfig(**TINY))
    save_checkpoint(tmp_path, model, extra=dict(dataset=dict(version="v0", sha256="a" * 64)))
    with pytest.raises(CheckpointError, match="trained on dataset v0"):
        load_checkpoint(tmp_path, dataset=type("D", (), dict(version="v1", sha256="b" * 64))())
    meta = json.loads((tmp_path / "model.json").read_text())
    other = dict(meta, encoding=dict(meta["encoding"], x="onehot"))
    (tmp_path / "model.json").write_text(json.dumps(dict(other, meta_sha256=meta_sha256(other))))   # consistent
    with pytest.raises(CheckpointError, match="encoding"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with open(tmp_path / "model.pt", "ab") as fh:
        fh.write(b"corrupt")
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nowhere")


def test_checkpoint_with_other_architecture_is_refused(tmp_path):
    model = PeriodicNetwork(ModelConfig(**TINY))
    save_checkpoint(tmp_path, model)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["model_config"]["em_dim"] = 12
    (tmp_path / "model.json").write_text(json.dumps(dict(meta, meta_sha256=meta_sha256(meta))))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path)


def test_metrics_on_known_cases():
    a = np.stack([_gauss(300), _gauss(500)])
    m = dos_metrics(GRID, a, a)
    assert m["mse"] == 0 and m["r2"] == 1 and m["wasserstein_cm1"] == pytest.approx(0, abs=1e-9)
    # shifting a narrow peak by 100 cm⁻¹ moves the distribution by 100 cm⁻¹
    assert wasserstein_cm1(GRID, _gauss(300, 20), _gauss(400, 20)) == pytest.approx(100, rel=0.02)


def _user_json(path: Path) -> Path:
    items = []
    for i, (sym, kind, a, centre) in enumerate([("NaCl", "rocksalt", 5.64, 200), ("Si", "diamond", 5.43, 450),
                                                ("Cu", "fcc", 3.61, 230), ("MgO", "rocksalt", 4.21, 600),
                                                ("Ge", "diamond", 5.66, 280), ("Al", "fcc", 4.05, 300)]):
        at = bulk(sym, kind, a=a)
        freq = np.linspace(0, 1200, 241)            # another grid: resampled to the model's
        dos = 3 * len(at) * np.exp(-0.5 * ((freq - centre) / 50) ** 2)
        items.append(dict(id=f"m{i}", structure=dict(cell=at.cell[:].tolist(), species=at.get_chemical_symbols(),
                                                     frac_coords=at.get_scaled_positions().tolist()),
                          freq_cm1=freq.tolist(), dos=dos.tolist(), split="train"))
    items[4]["split"], items[5]["split"] = "valid", "test"
    path.write_text(json.dumps(dict(materials=items)))
    return path


def test_train_on_your_own_data_cli(tmp_path):
    data = _user_json(tmp_path / "my.json")
    out = tmp_path / "ckpt"
    env = dict(os.environ, TQDM_DISABLE="1")
    res = subprocess.run([sys.executable, "-m", "utils.train", "--data", str(data), "--out", str(out), "--epochs", "2"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(metrics) == {"train", "valid", "test"}
    model, meta = load_checkpoint(out)
    assert meta["dataset"]["version"] == "user" and meta["dataset"]["split_sizes"] == {"train": 4, "valid": 1, "test": 1}


def test_train_on_bad_data_gives_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(materials=[dict(id="x", structure=dict(cell=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                                                                             species=["Xx"], frac_coords=[[0, 0, 0]]),
                                                   freq_cm1=[0, 1], dos=[0, 1])])))
    res = subprocess.run([sys.executable, "-m", "utils.train", "--data", str(bad), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 2
    assert "bad.json material 0 ('x')" in res.stderr and "Traceback" not in res.stderr
