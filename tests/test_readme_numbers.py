"""Numbers that the README and the notebooks both state come from one results file and cannot drift.

Single sources: the shipped checkpoint's ``checkpoints/default/ensemble.json`` and its members' ``model.json``
(training histories and test metrics, printed by notebook 03) and ``data/experiments/baselines.json`` (README table). Notebook texts do not
repeat measured run times (they point to the README), so those have one home.
"""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SOURCES = {p.name: p.read_text() for p in sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))}   # not _template.py


SHIPPED = ROOT / "checkpoints" / "default"


@pytest.fixture(scope="module")
def meta():
    """The shipped checkpoint's description: ``ensemble.json`` (the ensemble's metrics) or a single ``model.json``."""
    ensemble = SHIPPED / "ensemble.json"
    return json.loads((ensemble if ensemble.exists() else SHIPPED / "model.json").read_text())


@pytest.fixture(scope="module")
def members(meta):
    """The description of each network: an ensemble's members, or the one network."""
    if "members" not in meta:
        return [meta]
    return [json.loads((SHIPPED / m["path"] / "model.json").read_text()) for m in meta["members"]]


def test_best_epoch_and_training_time_match_checkpoint(members):
    first = members[0]["history"]
    best = first["best_epoch"] + 1                 # history counts from 0; README and notebook 03 from 1
    assert f"best validation loss came at epoch {best}, counting from 1" in README
    assert "epoch {best + 1}" in SOURCES["03_model_and_training.py"]   # notebook 03 prints the same count
    seconds = [round(m["history"]["seconds"][-1]) for m in members]
    assert len(re.findall(rf"\b{seconds[0]} s\b", README)) >= 2, f"README must state the training time {seconds[0]} s"
    for s in seconds[1:]:
        assert re.search(rf"\b{s} s\b", README), f"README must state the members' training time {s} s"
    if len(members) > 1:
        others = [m["history"]["best_epoch"] + 1 for m in members[1:]]
        assert f"best epochs {' and '.join(map(str, others))}" in " ".join(README.split())
    other = {int(x) for x in re.findall(r"\b(\d{3}) s measured", README)}
    assert other <= {seconds[0]}, f"README states training times {other}, checkpoint took {seconds[0]} s"


def test_shipped_checkpoint_row_matches_metrics(meta):
    t = meta["metrics"]["test"]
    row = next(line for line in README.splitlines() if line.startswith("| **shipped checkpoint**"))
    for value in (f"{t['mse']:.4f}", f"{t['mae']:.3f}", f"{t['r2']:.2f}", f"{t['wasserstein_cm1']:.1f}",
                  f"{t['cv300_rel_error_pct']:.1f} %"):
        assert f"**{value}**" in row, (value, row)
    assert f"Test set ({t['n']} materials)" in README


README_ROWS = {"mean_dos": "| mean training DoS |", "composition": "| composition only (MLP) |",
               "e3nn_lmax0": "| e3nn, l_max = 0 (invariant) |", "e3nn": "| e3nn, l_max = 1 (default) |"}


def test_baseline_rows_match_results_file():
    summary = json.loads((ROOT / "data" / "experiments" / "baselines.json").read_text())["summary"]
    for method, start in README_ROWS.items():
        row = next(line for line in README.splitlines() if line.startswith(start))
        st = summary[method]
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        spread = lambda m, f: f" ± {st[m]['std']:{f}}" if st[m]["n"] > 1 else ""  # noqa: E731
        assert cells == [f"{st['mse']['mean']:.4f}{spread('mse', '.4f')}", f"{st['mae']['mean']:.3f}",
                         f"{st['r2']['mean']:.2f}", f"{st['wasserstein_cm1']['mean']:.1f}{spread('wasserstein_cm1', '.1f')}",
                         f"{st['cv300_rel_error_pct']['mean']:.1f} %"], (method, row)


def test_lmax_verdict_numbers_match_results_file():
    summary = json.loads((ROOT / "data" / "experiments" / "baselines.json").read_text())["summary"]
    full, inv = summary["e3nn"]["mse"], summary["e3nn_lmax0"]["mse"]
    gap, two_sigma = inv["mean"] - full["mean"], 2 * (full["std"] ** 2 + inv["std"] ** 2) ** 0.5
    assert f"(ΔMSE {gap:.4f} vs 2σ {two_sigma:.4f})" in README
    assert ("by less than twice the combined seed spread" in README) == (abs(gap) <= two_sigma)


def test_notebooks_do_not_restate_measured_run_times():
    # measured wall times live in the README only; a notebook that states one drifts silently
    pattern = re.compile(r"(make experiments|retrain\w*|TRAIN=1)[^\n]{0,60}?[≈~]?\s*\b\d+\s*(min|minutes|s)\b")
    for name, text in SOURCES.items():
        hits = [m.group(0) for m in pattern.finditer(text)]
        assert not hits, f"{name} states a run time: {hits}; point to the README instead"


def test_every_baseline_mse_is_in_readme():
    summary = json.loads((ROOT / "data" / "experiments" / "baselines.json").read_text())["summary"]
    for method, stats in summary.items():
        assert f"{stats['mse']['mean']:.4f}" in README, (method, stats["mse"]["mean"])


def test_seed0_retrain_sentence_matches_results_file(members):
    runs = json.loads((ROOT / "data" / "experiments" / "baselines.json").read_text())["runs"]
    seed0, shipped = runs["e3nn/seed0"]["test"]["mse"], members[0]["metrics"]["test"]["mse"]
    if f"{seed0:.4f}" == f"{shipped:.4f}":      # seed 0 reproduces the checkpoint: no sentence about a difference
        assert "ends at test MSE" not in README
        return
    assert f"ends at test MSE {seed0:.4f}, not\n{shipped:.4f}" in README or \
        f"ends at test MSE {seed0:.4f}, not {shipped:.4f}" in README


def test_ensemble_rows_match_results_file(meta):
    """The README's rows for the ensembles of 2 and the shipped ensemble come from baselines.json's ``ensemble``."""
    ens = json.loads((ROOT / "data" / "experiments" / "baselines.json").read_text()).get("ensemble")
    if "members" not in meta:
        assert ens is None or ens["seeds"] != meta.get("seeds")
        return
    assert ens["seeds"] == meta["seeds"]
    assert abs(ens["all"]["test"]["mse"] - meta["metrics"]["test"]["mse"]) < 1e-9     # the same ensemble
    p, b = ens["pairs"]["test"], ens["pairs"]["benchmark"]
    row = next(line for line in README.splitlines() if line.startswith("| e3nn, ensembles of 2 seeds |"))
    assert f"{p['mse']['mean']:.4f} ± {p['mse']['std']:.4f}" in row and f"{p['wasserstein_cm1']['mean']:.1f}" in row, row
    row = next(line for line in README.splitlines() if line.startswith("| e3nn, ensembles of 2 seeds |")
               and f"{b['mse']['mean']:.4f}" in line)
    assert f"{b['median_wasserstein_cm1']['mean']:.1f} ± {b['median_wasserstein_cm1']['std']:.1f}" in row, row
    for split, rows in ens["verdicts"].items():
        for other in ("mean_dos", "composition"):
            for metric, v in rows[other].items():
                assert v["outcome"] == "held", (split, other, metric, v)   # what the README says below the tables
