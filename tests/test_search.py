"""utils.claims.search: one hyper-parameter search, by validation, resumable (tiny synthetic dataset)."""
import json

import numpy as np
import pytest

from test_baselines import BUDGET, TINY_MODEL, FakeDataset
from utils.claims import search


@pytest.fixture(scope="module")
def variants():
    return ["default", "narrow", "r_max_5"]


@pytest.fixture(scope="module")
def first(tmp_path_factory, variants):
    out = tmp_path_factory.mktemp("search") / "search.json"
    res = search.run_search(FakeDataset(), variants=variants, seeds=(0, 1), train_config=BUDGET,
                            model_config=TINY_MODEL, out=out, log=None)
    return out, res


def test_every_variant_and_seed_is_trained_and_scored_on_validation(first, variants):
    out, res = first
    assert sorted(res["runs"]) == sorted(f"{v}/seed{s}" for v in variants for s in (0, 1))
    narrow = res["runs"]["narrow/seed0"]
    assert res["experiment"]["variants"]["narrow"][0] == dict(em_dim=32, mul=16)   # absolute settings
    assert narrow["n_params"] != res["runs"]["default/seed0"]["n_params"]
    assert np.asarray(narrow["valid_prediction"]).shape == (2, 51)            # the 2 validation crystals
    s = res["summary"]
    assert set(s) == set(variants) and all(s[v]["valid_mse"]["n"] == 2 for v in variants)
    assert "ensemble" in s["default"] and s["default"]["ensemble"]["mse"] >= 0
    assert "vs_default" in s["narrow"] and "vs_default" not in s["default"]
    assert res["chosen"] in variants
    assert json.loads(out.read_text())["chosen"] == res["chosen"]


def test_a_rerun_trains_nothing_and_other_settings_are_refused(first, variants):
    out, res = first
    before = out.read_text()
    again = search.run_search(FakeDataset(), variants=variants, seeds=(0, 1), train_config=BUDGET,
                              model_config=TINY_MODEL, out=out, log=None)
    assert again["runs"] == res["runs"] and json.loads(before)["runs"] == json.loads(out.read_text())["runs"]
    with pytest.raises(search.SearchError, match="another experiment"):
        search.run_search(FakeDataset(), variants=variants, seeds=(0, 1), train_config=BUDGET,
                          model_config=TINY_MODEL.__class__(em_dim=4, mul=2, radial_neurons=8, num_basis=4),
                          out=out, log=None)


def test_choose_follows_the_two_sigma_rule():
    def row(mean, std):
        return dict(valid_mse=dict(mean=mean, std=std, n=3))
    summary = dict(default=row(0.020, 0.001), a=row(0.015, 0.001), b=row(0.019, 0.002))
    for name in ("a", "b"):
        summary[name]["vs_default"] = search.verdict(summary[name]["valid_mse"], summary["default"]["valid_mse"])
    assert search.choose(dict(summary=summary)) == "a"
    summary["a"]["vs_default"]["outcome"] = "inconclusive"
    assert search.choose(dict(summary=summary)) == "default"


def test_unknown_variant_is_refused():
    with pytest.raises(search.SearchError, match="unknown variants"):
        search.run_search(FakeDataset(), variants=["wider"], out=None, log=None)


def test_two_worker_processes_give_the_same_runs_as_one(first, tmp_path):
    """--workers 2 trains the same seeded runs in two processes: the stored results equal the sequential ones."""
    _, res = first
    par = search.run_search(FakeDataset(), variants=["default", "narrow"], seeds=(0, 1), train_config=BUDGET,
                            model_config=TINY_MODEL, out=tmp_path / "par.json", log=None, workers=2)
    for key, run in par["runs"].items():
        seq = res["runs"][key]
        assert run["valid"] == seq["valid"] and run["valid_prediction"] == seq["valid_prediction"], key
        assert run["best_epoch"] == seq["best_epoch"] and run["n_params"] == seq["n_params"]
    assert json.loads((tmp_path / "par.json").read_text())["runs"].keys() == par["runs"].keys()


@pytest.mark.parametrize("command", ["search", "baselines"])
def test_data_dir_names_the_folder_the_dataset_is_read_from(tmp_path, capsys, command):
    """--data-dir reads a version packed outside data/ (e.g. one frozen for its search before it is shipped)."""
    from utils.claims.cli import main
    (tmp_path / "versions.json").write_text(json.dumps({"v7": {"phonon_dos_v7.npz": "0" * 64}}))
    assert main([command, "--data-dir", str(tmp_path), "--version", "v7"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "phonon_dos_v7.npz") in err and "missing" in err


def test_readme_and_checkpoint_follow_the_stored_search():
    """README § The shipped model quotes data/experiments/search.json, and the shipped checkpoint uses its choice."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    res = search.load_search()
    shipped = root / "checkpoints" / "default"
    ensemble = (shipped / "ensemble.json").exists()
    assert ensemble == res["chosen_ensemble"], "the search decides whether the shipped model is an ensemble"
    meta = json.loads((shipped / ("ensemble.json" if ensemble else "model.json")).read_text())
    assert res["experiment"]["dataset"]["sha256"] == meta["dataset"]["sha256"]
    model_changes, train_changes = search.VARIANTS[res["chosen"]]
    assert all(meta["model_config"][k] == v for k, v in model_changes.items())
    assert all(meta["train_config"][k] == v for k, v in train_changes.items())
    if ensemble:                                                   # the ensemble of the search's seeds
        assert meta["seeds"] == res["seeds"]
    readme = (root / "README.md").read_text()
    assert f"chosen: **{res['chosen']}**" in readme
    for name, row in res["summary"].items():
        line = next(x for x in readme.splitlines() if x.startswith(f"| {name} |"))
        assert f"{row['valid_mse']['mean']:.4f} ± {row['valid_mse']['std']:.4f}" in line, line
        assert row.get("vs_default", {}).get("outcome", "—") in line, line
        pairs = row.get("ensemble_of_2_mse")
        if pairs:
            assert f"{pairs['mean']:.4f} ± {pairs['std']:.4f}" in line and f"{row['ensemble']['mse']:.4f}" in line, line
            assert row["ensemble_of_2_vs_single"]["outcome"] in line, line
    default = res["summary"]["default"]
    assert (f"{default['ensemble_renormalized']['mse']:.4f} vs {default['ensemble']['mse']:.4f}" in readme) == \
        (default["ensemble_renormalized"]["mse"] > default["ensemble"]["mse"])   # why the mean is not renormalized
