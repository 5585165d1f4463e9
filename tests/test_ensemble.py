"""Ensembles: the mean of several networks (utils.model.EnsembleNetwork), trained and saved with
``python -m utils.train --seeds`` (utils.train.fit_ensemble) and loaded like one checkpoint."""
import json
import shutil

import numpy as np
import pytest
import torch
from ase.build import bulk
from test_train import _user_json

from utils import predict as P
from utils.checkpoint import ENSEMBLE_FILE, CheckpointError, load_checkpoint, meta_sha256
from utils.graphs import structure_to_graph
from utils.model import EnsembleNetwork, PeriodicNetwork
from utils.train import TrainConfig, TrainingError, _check_output, fit_ensemble


def _members(n=3):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        out.append(PeriodicNetwork(em_dim=8, mul=4, num_neighbors=12.0).eval())
    return out


def test_an_ensemble_predicts_the_mean_of_its_members_and_its_per_atom_outputs_add_up():
    graph = structure_to_graph(bulk("NaCl", "rocksalt", a=5.64) * (2, 1, 1))
    members = _members()
    ensemble = EnsembleNetwork(members).eval()
    with torch.no_grad():
        total, per_atom = ensemble(graph, return_per_atom=True)
        each = torch.stack([m(graph) for m in members])
    assert torch.allclose(total, each.mean(0), atol=1e-6)              # the plain mean (see EnsembleNetwork)
    assert float(total.max()) <= 1 + 1e-6
    assert not torch.allclose(each[0], each[1])                       # the members differ: a real average
    assert torch.allclose(per_atom.mean(0), total[0], atol=1e-6)      # partial DoS still sum to the total
    with pytest.raises(ValueError, match="members\\[0\\]"):
        ensemble(graph, return_features=True)


def test_a_batch_of_crystals_gives_what_each_crystal_gives_alone():
    from torch_geometric.data import Batch

    graphs = [structure_to_graph(bulk("NaCl", "rocksalt", a=5.64)), structure_to_graph(bulk("Si", "diamond", a=5.43)),
              structure_to_graph(bulk("Cu", "fcc", a=3.61))]
    ensemble = EnsembleNetwork(_members(2)).eval()
    with torch.no_grad():
        total, per_atom = ensemble(Batch.from_data_list(graphs), return_per_atom=True)
        alone = [ensemble(g, return_per_atom=True) for g in graphs]
    assert torch.allclose(total, torch.cat([a[0] for a in alone]), atol=1e-6)
    assert torch.allclose(per_atom, torch.cat([a[1] for a in alone]), atol=1e-6)


def test_members_of_an_ensemble_must_share_one_config():
    with pytest.raises(ValueError, match="share one ModelConfig"):
        EnsembleNetwork([PeriodicNetwork(em_dim=8, mul=4, num_neighbors=12.0),
                         PeriodicNetwork(em_dim=8, mul=4, num_neighbors=12.0, r_max=5.0)])


@pytest.fixture(scope="module")
def ensemble_dir(tmp_path_factory):
    """Two seeds of the default network, 1 epoch each on 6 small crystals (≈ 15 s)."""
    tmp = tmp_path_factory.mktemp("ensemble")
    data = _user_json(tmp / "my.json")
    out = tmp / "ens"
    metrics = fit_ensemble(out, seeds=[0, 1], train_config=TrainConfig(epochs=1, batch_size=2), data_json=str(data))
    return out, data, metrics


def test_fit_ensemble_writes_members_and_an_ensemble_that_loads_as_one_model(ensemble_dir):
    out, _, metrics = ensemble_dir
    assert sorted(p.name for p in out.iterdir()) == [ENSEMBLE_FILE, "seed0", "seed1"]
    model, meta = load_checkpoint(out)
    assert isinstance(model, EnsembleNetwork) and len(model.members) == 2
    assert meta["seeds"] == [0, 1] and [m["seed"] for m in meta["members"]] == [0, 1]
    assert meta["metrics"] == metrics and set(metrics) == {"train", "valid", "test"}
    assert [m["train_config"]["seed"] for m in meta["members_meta"]] == [0, 1]
    # the stored metrics are those of the mean prediction, not of a member
    member_mse = [m["metrics"]["train"]["mse"] for m in meta["members_meta"]]
    assert metrics["train"]["mse"] not in member_mse
    # predict_structures takes the ensemble like one network
    (result,) = P.predict_structures([bulk("NaCl", "rocksalt", a=5.64)], model, meta)
    assert sum(result["pdos"].values()) == pytest.approx(result["dos"], abs=1e-5)


def test_fit_ensemble_again_keeps_finished_members_and_refuses_without_force(ensemble_dir, capsys):
    out, data, metrics = ensemble_dir
    with pytest.raises(TrainingError, match="already holds an ensemble"):
        fit_ensemble(out, seeds=[0, 1], train_config=TrainConfig(epochs=1, batch_size=2), data_json=str(data))
    weights = {p: p.read_bytes() for p in out.glob("seed*/model.pt")}
    again = fit_ensemble(out, seeds=[0, 1], train_config=TrainConfig(epochs=1, batch_size=2), data_json=str(data),
                         force=True)
    assert "kept" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in out.glob("seed*/model.pt")} == weights   # nothing retrained
    assert again == metrics


def test_a_replaced_member_or_an_edited_ensemble_is_refused(ensemble_dir, tmp_path):
    out, _, _ = ensemble_dir
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "seed1")
    shutil.copytree(copy / "seed0", copy / "seed1")                 # seed 0 passed off as seed 1
    with pytest.raises(CheckpointError, match="not the member"):
        load_checkpoint(copy)
    meta = json.loads((out / ENSEMBLE_FILE).read_text())
    edited = dict(meta, members=[dict(meta["members"][0], path="../elsewhere")])
    edited["meta_sha256"] = meta_sha256(edited)
    (copy / ENSEMBLE_FILE).write_text(json.dumps(edited))
    with pytest.raises(CheckpointError, match="sub-folder"):
        load_checkpoint(copy)
    for members in ([], ["seed0"]):                                 # malformed member lists: a clear error
        broken = dict(meta, members=members)
        broken["meta_sha256"] = meta_sha256(broken)
        (copy / ENSEMBLE_FILE).write_text(json.dumps(broken))
        with pytest.raises(CheckpointError, match="non-empty list"):
            load_checkpoint(copy)
    meta["seeds"] = [5, 6]                                           # edited without a new integrity record
    (copy / ENSEMBLE_FILE).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="modified after it was written"):
        load_checkpoint(copy)


def test_single_training_never_writes_into_an_ensemble_and_members_of_the_shipped_one_are_guarded(ensemble_dir):
    out, _, _ = ensemble_dir
    with pytest.raises(TrainingError, match="holds an ensemble"):
        _check_output(out, resume=False, force=True)
    from utils.checkpoint import DEFAULT_CHECKPOINT
    with pytest.raises(TrainingError, match="shipped checkpoint"):
        _check_output(DEFAULT_CHECKPOINT / "seed1", resume=False, force=False)
    with pytest.raises(TrainingError, match="shipped checkpoint"):
        fit_ensemble(DEFAULT_CHECKPOINT, seeds=[0, 1])
    with pytest.raises(TrainingError, match="at least 2"):
        fit_ensemble(out / "other", seeds=[3, 3])


def test_ensemble_metrics_are_the_metrics_of_the_mean_prediction(ensemble_dir):
    from utils.data import load_user_dataset
    from utils.train import graphs_from_dataset, predict
    from utils.spectra import dos_metrics

    out, data, metrics = ensemble_dir
    model, meta = load_checkpoint(out)
    dataset = load_user_dataset(str(data))
    idx = dataset.split("train")
    graphs = graphs_from_dataset(dataset, idx, model.config.r_max)
    preds = [predict(m, graphs) for m in model.members]
    target = np.stack([g.y[0].numpy() for g in graphs])
    expected = dos_metrics(dataset.freq_cm1, target, np.mean(preds, axis=0))
    assert expected["mse"] == pytest.approx(metrics["train"]["mse"], rel=1e-5)
