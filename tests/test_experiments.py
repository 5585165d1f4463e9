"""Tests of utils.claims (plan, runner, report, stats, rotations): the claim experiments of notebook 07 on a few real materials with a tiny budget.

One module-scoped run of every experiment (12 training materials, 2 seeds, 1–2 epochs; ~20–40 s on 2 busy cores),
then checks of the file it writes, the reuse of shared runs, resuming, and the pure helpers (statistics,
rotations, hold-out groups).
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import utils.experiments
from utils.claims import runner
from utils.claims import (BUDGETS, CLAIMS, ROTATION_TOL, ClaimsError, NonEquivariantNetwork, RandomRotation,
                          RunSpec, choose_holdout_groups, format_scorecard, load_claims, mean_std, plan_runs,
                          random_rotations, rotate_graph, rotation_spread, run_claims, scorecard, spearman, verdict)
from utils.graphs import structure_to_graph
from utils.model import PeriodicNetwork

ROOT = Path(__file__).resolve().parents[1]
LIMIT = dict(train=12, valid=3, test=4)
TEST_BUDGET = dataclasses.replace(
    BUDGETS["tiny"], name="test", seeds=(0, 1), ensemble_size=3, n_groups=1, fractions=(0.5, 1.0), n_rotations=4,
    train=dataclasses.replace(BUDGETS["tiny"].train, epochs=1), timing_repeats=1)


@pytest.fixture(scope="module")
def dataset():
    from utils.data import load_dataset
    return load_dataset()


@pytest.fixture(scope="module")
def first_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("claims") / "claims_test.json"
    results = run_claims(dataset, budget=TEST_BUDGET, out=out, limit=LIMIT, alloys=None, log=None, progress=False)
    return out, results


# ------------------------------------------------------------------------------------------ statistics
def test_verdict_follows_the_two_sigma_rule():
    a, b = dict(mean=1.0, std=0.1, n=3), dict(mean=1.3, std=0.1, n=3)   # Δ = 0.3 > 2·√0.02 ≈ 0.283
    assert verdict(a, b)["outcome"] == "held"
    assert verdict(b, a)["outcome"] == "reversed"
    assert verdict(a, dict(b, mean=1.25))["outcome"] == "inconclusive"
    assert verdict(dict(a, n=1), b)["outcome"] == "untestable"
    assert verdict(a, b)["sigma"] == pytest.approx(np.hypot(0.1, 0.1))


def test_mean_std_and_spearman():
    assert mean_std([1.0, 3.0]) == dict(mean=2.0, std=pytest.approx(np.sqrt(2)), n=2)
    assert mean_std([5.0])["std"] == 0.0
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)          # monotone → 1
    assert spearman(x, -x ** 3) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [3, 4, 5]) == pytest.approx(np.sqrt(3) / 2)  # ties get average ranks
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))
    from scipy.stats import spearmanr
    y = rng.integers(0, 5, size=50)                                # many ties on one side
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_old_module_re_exports_the_claims():
    """``utils.experiments`` (the name before ``utils.claims``) still hands out the same objects."""
    import utils.claims
    for name in utils.experiments.__all__:
        assert getattr(utils.experiments, name) is getattr(utils.claims, name, None) or name.startswith("summarize_")


# ------------------------------------------------------------------------------------------- rotations
def test_random_rotations_are_proper_rotations():
    rotations = random_rotations(100, torch.Generator().manual_seed(0), dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    torch.testing.assert_close(rotations @ rotations.transpose(1, 2), eye)
    torch.testing.assert_close(torch.linalg.det(rotations), torch.ones(100, dtype=torch.float64))
    # uniform on SO(3): the mean of R is 0 (±3/√n)
    assert rotations.mean(0).abs().max() < 0.3


def test_rotate_graph_keeps_lengths_and_rotates_lattice(triclinic):
    graph = structure_to_graph(triclinic)
    rotation = random_rotations(1, torch.Generator().manual_seed(3))[0]
    rotated = rotate_graph(graph, rotation)
    torch.testing.assert_close(rotated.edge_vec.norm(dim=1), graph.edge_vec.norm(dim=1))
    torch.testing.assert_close(rotated.lattice[0], graph.lattice[0] @ rotation.T)
    assert not torch.allclose(rotated.edge_vec, graph.edge_vec)
    assert graph.edge_vec is not rotated.edge_vec                     # the input graph is left alone


def test_e3nn_is_invariant_and_the_mlp_is_not(triclinic, zno):
    graphs = [structure_to_graph(triclinic), structure_to_graph(zno)]
    torch.manual_seed(0)
    e3nn_spread = rotation_spread(PeriodicNetwork(em_dim=8, mul=4, radial_neurons=8, num_neighbors=12.0), graphs, 8)
    mlp_spread = rotation_spread(NonEquivariantNetwork(hidden=16, num_neighbors=12.0), graphs, 8)
    assert e3nn_spread.max() <= ROTATION_TOL
    assert mlp_spread.max() > 10 * ROTATION_TOL


def test_random_rotation_wrapper_rotates_only_in_training(zno):
    graph = structure_to_graph(zno)
    torch.manual_seed(0)
    model = RandomRotation(NonEquivariantNetwork(hidden=16, num_neighbors=12.0))
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(model(graph), model.model(graph))
        model.train()
        assert not torch.allclose(model(graph), model.model(graph))
    assert model.config is model.model.config


# --------------------------------------------------------------------------------------- hold-out groups
def test_holdout_groups_are_non_trivial_and_leave_train_and_valid():
    sets = [{"Na", "Cl"}, {"Bi"}, {"Sb", "Bi"}, {"Mg", "O"}, {"Fe"}, {"Cu", "Sb"}, {"Na", "Br"}, {"K", "Cl"},
            {"Fe", "O"}, {"Pb", "Te"}]
    codes = [0, 0, 2, 0, 1, 0, 2, 1, 0, 0]
    groups = choose_holdout_groups(sets, codes, n_groups=3, target_fraction=0.2, min_materials=2, max_fraction=0.4)
    assert [g["name"] for g in groups] == ["heavy_p_block", "tm_3d", "alkali_alkaline_earth"]
    for g in groups:
        held = set(g["materials"])
        assert held == {i for i, s in enumerate(sets) if s & set(g["elements"])}
        assert 2 <= len(held) <= 4
        rest = [codes[i] for i in range(len(sets)) if i not in held]
        assert 0 in rest and 1 in rest
    # small data: no group reaches min_materials → an empty list, not an error
    assert choose_holdout_groups(sets[:3], codes[:3], min_materials=5) == []


# ------------------------------------------------------------------------------------------------- plan
def test_plan_shares_runs_between_experiments():
    budget = BUDGETS["full"]
    plan = plan_runs(budget, [dict(name="a"), dict(name="b")])
    keys = {e: {s.key for s in specs} for e, specs in plan.items()}
    assert keys[2] & keys[1] == {RunSpec("e3nn", "all", s).key for s in budget.seeds}   # e3nn reused
    assert {RunSpec("e3nn", "all", s).key for s in budget.seeds} <= keys[3]              # 100 % point reused
    assert {RunSpec("e3nn", "all", s).key for s in budget.seeds} <= keys[5]              # ensemble members
    assert len(budget.seeds) >= 3 and budget.ensemble_size >= 5
    assert budget.fractions == (0.1, 0.25, 0.5, 1.0) and budget.n_rotations == 20
    with pytest.raises(ClaimsError, match="unknown experiment"):
        plan_runs(budget, [], [6])


def test_budgets_compare_models_of_similar_size():
    from utils.claims.runner import build_model
    from utils.model import count_parameters

    for budget in BUDGETS.values():
        n = {m: count_parameters(build_model(m, budget, 12.0, 51)) for m in ("e3nn", "noneq")}
        assert 0.67 < n["noneq"] / n["e3nn"] < 1.5, (budget.name, n)


# ------------------------------------------------------------------------------------------------- runs
def test_results_file_has_every_run_and_summary(first_run):
    out, results = first_run
    stored = json.loads(out.read_text())
    assert stored["runs"].keys() == results["runs"].keys()
    expected = {s.key for specs in plan_runs(TEST_BUDGET, stored["groups"]).values() for s in specs}
    assert set(stored["runs"]) == expected
    assert set(stored["summaries"]) == {"1", "2", "3", "4", "5"}
    assert stored["experiment"]["budget"]["note"] and stored["experiment"]["dataset"]["limit"] == LIMIT
    for key, run in stored["runs"].items():
        assert run["epochs_run"] == 1 and run["n_params"] > 0 and run["timings"]["train_s"] >= 0
        assert np.isfinite(run["evaluation"]["test"]["metrics"]["mse"]), key
    text = format_scorecard(stored)
    assert all(f"claim {c}" in text for c in CLAIMS)


def test_holdout_runs_never_see_the_held_out_elements(first_run, dataset):
    _, results = first_run
    assert results["groups"], "the limited data should still give one hold-out group"
    group = results["groups"][0]
    run = results["runs"][RunSpec("e3nn", f"holdout:{group['name']}", 0).key]
    seen = {el for mid in run["train_ids"] for el in dataset[mid].species}
    assert not seen & set(group["elements"])
    assert run["evaluation"]["heldout"]["ids"] == group["ids"]
    assert not set(run["evaluation"]["test"]["ids"]) & set(group["ids"])


def test_experiment_summaries_are_consistent(first_run):
    _, results = first_run
    s = results["summaries"]
    assert s["2"]["models"]["e3nn"]["spread_max"] <= ROTATION_TOL        # the claim's assert
    assert s["2"]["e3nn_invariant"]
    assert [p["fraction"] for p in s["3"]["points"]] == [0.5, 1.0]
    assert s["3"]["points"][0]["n_train"] == 6 and s["3"]["points"][1]["n_train"] == 12
    assert s["4"]["label_s"]["median"] > 0 and s["4"]["ratio_median_label_to_predict"] > 0
    assert s["5"]["n_members"] == 3 and len(s["5"]["sets"]["test"]["spread"]) == LIMIT["test"]
    assert all(r["outcome"] in ("held", "not held", "reversed", "inconclusive", "untestable")
               for r in scorecard(results))


def test_second_call_trains_nothing(first_run, dataset, monkeypatch):
    out, results = first_run

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(runner, "_execute", no_training)
    again = run_claims(dataset, budget=TEST_BUDGET, out=out, limit=LIMIT, alloys=None, log=None, progress=False)
    assert again["runs"] == json.loads(json.dumps(results["runs"]))


def test_resume_trains_only_the_missing_run_and_reproduces_it(first_run, dataset, tmp_path, monkeypatch):
    out = tmp_path / "partial.json"
    partial = json.loads(first_run[0].read_text())
    key = RunSpec("noneq_aug", "all", 1).key
    removed = partial["runs"].pop(key)
    out.write_text(json.dumps(partial))
    trained = []
    original = runner._execute

    def counting(ctx, spec, threads):
        trained.append(spec.key)
        return original(ctx, spec, threads)

    monkeypatch.setattr(runner, "_execute", counting)
    results = run_claims(dataset, budget=TEST_BUDGET, out=out, limit=LIMIT, alloys=None, log=None, progress=False,
                         only=[2])
    assert trained == [key]
    again = results["runs"][key]["evaluation"]["test"]["metrics"]["mse"]
    assert again == pytest.approx(removed["evaluation"]["test"]["metrics"]["mse"], rel=1e-4)   # seeded
    assert load_claims(out)["runs"].keys() == json.loads(first_run[0].read_text())["runs"].keys()


def test_other_budget_is_refused_unless_restart(first_run, dataset, tmp_path):
    out = tmp_path / "c.json"
    out.write_text(first_run[0].read_text())
    other = dataclasses.replace(TEST_BUDGET, n_rotations=3)
    with pytest.raises(ClaimsError, match="budget"):
        run_claims(dataset, budget=other, out=out, limit=LIMIT, alloys=None, log=None, progress=False, only=[4])
    results = run_claims(dataset, budget=other, out=out, limit=LIMIT, alloys=None, log=None, progress=False,
                         only=[4], restart=True)
    assert results["runs"] == {} and "4" in results["summaries"]


@pytest.mark.slow   # two fresh interpreters import torch (~10 s each on a busy machine)
def test_cli_help_and_unknown_budget():
    for command in ([sys.executable, "-m", "utils.claims", "experiments", "--help"],
                    [sys.executable, str(ROOT / "scripts" / "experiments.py"), "--help"]):   # the old entry point
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0 and "--budget" in done.stdout and "--only" in done.stdout, done.stderr
    from utils.claims.cli import parser

    args = parser().parse_args(["experiments", "--budget", "tiny", "--only", "2", "5"])
    assert (args.command, args.budget, args.only) == ("experiments", "tiny", [2, 5])
    with pytest.raises(SystemExit):
        parser().parse_args(["experiments", "--budget", "huge"])
    with pytest.raises(ClaimsError, match="unknown budget"):
        run_claims(budget="huge", out=None)


def test_two_worker_processes_reproduce_the_serial_runs(first_run, dataset, tmp_path):
    """workers=2: the same runs, the same (seeded) numbers as the serial call, in a fresh results file."""
    out = tmp_path / "claims_workers.json"
    results = run_claims(dataset, budget=TEST_BUDGET, out=out, limit=LIMIT, alloys=None, log=None, progress=False,
                         only=[2], workers=2)
    serial = first_run[1]["runs"]
    assert results["runs"] and set(results["runs"]) <= set(serial)
    for key, run in results["runs"].items():
        assert run["evaluation"]["test"]["metrics"]["mse"] == pytest.approx(
            serial[key]["evaluation"]["test"]["metrics"]["mse"], rel=1e-4), key
