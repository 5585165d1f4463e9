"""The shipped checkpoint loads, matches the shipped dataset, and reproduces its stored test metrics.

`make train` retrains it; `RUN_SLOW=1 pytest tests/test_shipped_model.py` checks that a retraining from the
recorded config lands within 5 % of the shipped test metrics (for an ensemble: of its first network) (minutes: 249 s measured for v2 on a shared 2-core
machine; kept out of `make test`, whose pytest part must stay within 3 minutes).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from utils.checkpoint import checkpoint_exists
from utils.data import load_dataset
from utils.train import DEFAULT_CHECKPOINT, dos_metrics, graphs_from_dataset, load_checkpoint, predict

pytestmark = pytest.mark.skipif(not checkpoint_exists(DEFAULT_CHECKPOINT), reason="no shipped checkpoint")


@pytest.fixture(scope="module")
def shipped():
    dataset = load_dataset()
    model, meta = load_checkpoint(DEFAULT_CHECKPOINT, dataset=dataset)
    return dataset, model, meta


def test_checkpoint_records_its_provenance(shipped):
    dataset, model, meta = shipped
    assert meta["dataset"]["version"] == dataset.version and meta["dataset"]["sha256"] == dataset.sha256
    assert meta["model_config"]["num_neighbors"] > 1, "z must come from the training graphs"
    assert set(meta["train_config"]) >= {"epochs", "batch_size", "lr"}
    assert np.allclose(meta["freq_cm1"], dataset.freq_cm1)
    for member in meta.get("members_meta", [meta]):                 # an ensemble: each member, with its own seed
        assert set(member["train_config"]) >= {"epochs", "batch_size", "lr", "seed"}
        assert member["dataset"] == meta["dataset"] and member["model_config"] == meta["model_config"]
    if "members_meta" in meta:
        assert [m["train_config"]["seed"] for m in meta["members_meta"]] == meta["seeds"]
        assert len(set(meta["seeds"])) == len(meta["seeds"]) >= 2


def test_stored_test_metrics_are_reproduced(shipped):
    dataset, model, meta = shipped
    idx = dataset.split("test")
    graphs = graphs_from_dataset(dataset, idx, model.config.r_max)
    got = dos_metrics(dataset.freq_cm1, dataset.dos[idx], predict(model, graphs))
    for key in ("mse", "mae", "r2", "wasserstein_cm1"):
        assert got[key] == pytest.approx(meta["metrics"]["test"][key], rel=1e-4, abs=1e-7), key


@pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="retraining takes minutes; set RUN_SLOW=1")
def test_retraining_reproduces_shipped_metrics(shipped, tmp_path):
    from utils.model import ModelConfig
    from utils.train import TrainConfig, fit_default

    dataset, _, meta = shipped
    meta = meta.get("members_meta", [meta])[0]                       # an ensemble: its first network
    cfg = {k: v for k, v in meta["model_config"].items() if k not in ("num_neighbors", "out_dim")}
    metrics = fit_default(tmp_path, dataset.version, model_config=ModelConfig(**cfg),
                          train_config=TrainConfig(**meta["train_config"]))
    for key in ("mse", "mae", "wasserstein_cm1"):
        assert metrics["test"][key] == pytest.approx(meta["metrics"]["test"][key], rel=0.05), key


def test_predictions_equal_those_of_the_per_atom_tensor_products(shipped):
    """Predictions stored by tests/fixtures/make_shipped_predictions.py before the node-attribute tensor products
    were evaluated once per distinct attribute row (then: e3nn's per-atom evaluation) are reproduced to 1e-6."""
    from pathlib import Path

    import torch

    from utils.graphs import structure_to_graph
    from utils.predict import read_structure

    dataset, model, meta = shipped
    if "members_meta" in meta:                                        # an ensemble: the reference is one network
        model, meta = model.members[0], meta["members_meta"][0]
    fixtures = Path(__file__).parent / "fixtures"
    reference = np.load(fixtures / "shipped_predictions.npz", allow_pickle=False)
    if str(reference["weights_sha256"]) != meta["weights_sha256"]:
        pytest.skip("the shipped checkpoint was retrained after the reference predictions were stored")
    idx = dataset.split("test")[: len(reference["ids"])]
    assert [dataset[int(i)].id for i in idx] == reference["ids"].tolist()
    got = predict(model, graphs_from_dataset(dataset, idx, model.config.r_max))
    np.testing.assert_allclose(got, reference["dos"], atol=1e-6, rtol=0)
    mixed = structure_to_graph(read_structure(fixtures / "predict" / "Mg3SbBi_mixed.cif"), r_max=model.config.r_max)
    with torch.no_grad():
        dos, per_atom = model(mixed, return_per_atom=True)
    np.testing.assert_allclose(dos[0].numpy(), reference["mixed_dos"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(per_atom.numpy(), reference["mixed_per_atom"], atol=1e-6, rtol=0)
