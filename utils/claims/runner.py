"""Run the plan of ``utils.claims.plan``: train every run, evaluate it, time predictions; the results file and its
resumption are ``utils.claims.results``'s, the summaries ``utils.claims.report``'s.

:func:`run_claims` writes ``data/experiments/claims_<budget>.json`` atomically after each run and skips the runs
already there; with ``workers > 1`` runs train in spawned processes (each rebuilds the same :class:`RunContext`:
graphs, splits and hold-out groups are deterministic), with results identical to a serial call.

Example::

    >>> results = run_claims(budget="tiny")            # doctest: +SKIP
    >>> from utils.claims import format_scorecard
    >>> print(format_scorecard(results))              # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import platform
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from .._env import progress_disabled
from ..model import ModelConfig, PeriodicNetwork, count_parameters
from ..spectra import dos_metrics, wasserstein_cm1
from ..train import graphs_from_dataset, predict, split_graphs, train
from .models import CompositionMLP, NonEquivariantNetwork
from .plan import (CLAIMS, FORMAT_VERSION, MODELS, Budget, ClaimsError, RunSpec, choose_holdout_groups, get_budget,
                   plan_runs, results_path)
from .pool import map_unordered
from .report import summarize
from .results import ResultsFile, read_results, rounded
from .rotations import RandomRotation, rotated_predictions

__all__ = ["build_model", "RunContext", "run_claims", "load_claims", "calibrate"]


def build_model(model: str, budget: Budget, num_neighbors: float, out_dim: int) -> nn.Module:
    """A new model of kind ``model`` (:data:`utils.claims.plan.MODELS`) with the sizes of ``budget``, fitted to the
    data (``num_neighbors`` z of the training graphs, ``out_dim`` grid points); weights from torch's generator."""
    base = dataclasses.replace(budget.model, num_neighbors=num_neighbors, out_dim=out_dim)
    noneq = dataclasses.replace(budget.noneq, num_neighbors=num_neighbors, out_dim=out_dim, r_max=base.r_max)
    if model == "e3nn":
        return PeriodicNetwork(dataclasses.replace(base, node_input="mass"))
    if model == "e3nn_onehot":
        return PeriodicNetwork(dataclasses.replace(base, node_input="onehot"))
    if model == "e3nn_lmax0":
        return PeriodicNetwork(dataclasses.replace(base, lmax=0, node_input="mass"))
    if model == "composition":
        return CompositionMLP(dataclasses.replace(budget.composition, out_dim=out_dim))
    if model == "noneq":
        return NonEquivariantNetwork(noneq)
    if model == "noneq_aug":
        return RandomRotation(NonEquivariantNetwork(noneq))
    raise ClaimsError(f"unknown model {model!r}; choose from {list(MODELS)}")


def _reinitialize(model: nn.Module) -> nn.Module:
    """Draw fresh initial weights from torch's global generator with the constructors' distributions:
    ``reset_parameters()`` where a module has it (``nn.Linear``, ``nn.LayerNorm``), N(0, 1) otherwise (e3nn's
    tensor-product and radial-network weights are initialized with ``torch.randn``)."""
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if not own:
            continue
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        else:
            with torch.no_grad():
                for parameter in own:
                    parameter.normal_()
    return model


class _ModelFactory:
    """Builds each kind of model once and hands out re-initialized deep copies: building an e3nn network
    (code generation, normalization constants) takes ~1–2 s, more than training it in the tiny budget."""

    def __init__(self, budget: Budget, num_neighbors: float, out_dim: int) -> None:
        self.args = (budget, num_neighbors, out_dim)
        self.templates: dict[str, nn.Module] = {}

    def __call__(self, model: str, seed: int) -> nn.Module:
        import copy

        if model not in self.templates:
            torch.manual_seed(seed)
            self.templates[model] = build_model(model, *self.args)
        torch.manual_seed(seed)
        return _reinitialize(copy.deepcopy(self.templates[model]))


def _config_of(model: nn.Module) -> dict:
    return model.config.to_dict()


class RunContext:
    """Graphs, index sets and targets shared by all runs of one call of :func:`run_claims`."""

    def __init__(self, dataset, budget: Budget, limit: dict | None, alloys):
        self.dataset, self.budget = dataset, budget
        self.freq = np.asarray(dataset.freq_cm1, float)
        idx = {name: np.asarray(dataset.split(name)) for name in ("train", "valid", "test")}
        if limit:
            idx = {name: ix[: int(limit.get(name, len(ix)))] for name, ix in idx.items()}
        if any(len(ix) == 0 for ix in idx.values()):
            raise ClaimsError(f"the experiments need train, valid and test materials; have "
                              f"{ {k: len(v) for k, v in idx.items()} }.")
        self.idx = idx
        self.all_idx = np.sort(np.concatenate(list(idx.values())))
        t0 = time.perf_counter()
        by_split, fitted = split_graphs(dataset, budget.model, idx)   # z of the training graphs
        self.graphs = {int(i): g for name, ix in idx.items() for i, g in zip(ix, by_split[name])}
        self.graph_seconds = time.perf_counter() - t0
        self.num_neighbors = fitted.num_neighbors
        self.alloys = alloys
        self.alloy_graphs = []
        if alloys is not None:
            self.alloy_graphs = graphs_from_dataset(alloys, range(len(alloys)), budget.model.r_max)
        self.new_model = _ModelFactory(budget, self.num_neighbors, len(self.freq))
        self.species = {i: dataset.species(i) for i in self.all_idx.tolist()}
        codes = np.asarray(dataset.split_codes)[self.all_idx]  # (n,) 0 train / 1 valid / 2 test
        self.groups = choose_holdout_groups([self.species[i] for i in self.all_idx.tolist()], codes,
                                            n_groups=budget.n_groups, **budget.holdout)
        for g in self.groups:  # positions in all_idx → dataset indices and ids
            g["materials"] = [int(self.all_idx[j]) for j in g["materials"]]
            g["ids"] = [str(dataset.ids[i]) for i in g["materials"]]

    def target(self, indices) -> np.ndarray:
        return np.stack([self.graphs[int(i)].y[0].numpy() for i in indices]) if len(indices) else np.zeros((0, 51))

    def group(self, name: str) -> dict:
        for g in self.groups:
            if g["name"] == name:
                return g
        raise ClaimsError(f"no hold-out group {name!r} in this data (groups: {[g['name'] for g in self.groups]}).")

    def training_sets(self, spec: RunSpec) -> tuple[np.ndarray, np.ndarray, dict]:
        """(train indices, valid indices, evaluation sets {name: indices}) of a run."""
        train_idx, valid_idx, test_idx = self.idx["train"], self.idx["valid"], self.idx["test"]
        if spec.data == "all":
            return train_idx, valid_idx, dict(test=test_idx, valid=valid_idx)
        kind, _, arg = spec.data.partition(":")
        if kind == "holdout":
            held = np.array(self.group(arg)["materials"], dtype=int)
            keep = lambda ix: np.setdiff1d(ix, held)  # noqa: E731
            return keep(train_idx), keep(valid_idx), dict(heldout=held, test=keep(test_idx))
        if kind == "frac":
            k = max(self.budget.min_train, int(math.ceil(float(arg) * len(train_idx))))
            subset = np.random.default_rng(spec.seed).permutation(train_idx)[: min(k, len(train_idx))]
            return np.sort(subset), valid_idx, dict(test=test_idx)
        raise ClaimsError(f"unknown run data {spec.data!r}")


def _evaluate(ctx: RunContext, model, indices, keep_predictions: bool) -> dict:
    graphs = [ctx.graphs[int(i)] for i in indices]
    target = ctx.target(indices)
    pred = predict(model, graphs)
    out = dict(metrics=dos_metrics(ctx.freq, target, pred), ids=[str(ctx.dataset.ids[int(i)]) for i in indices],
               mse_per_material=rounded(np.mean((pred - target) ** 2, axis=1), 8),
               w1_per_material=rounded(np.atleast_1d(wasserstein_cm1(ctx.freq, target, pred)), 4))
    if keep_predictions:
        out["prediction"] = rounded(pred, 6)
    return out


_WORKER_CTX: "RunContext | None" = None


def _init_claims_worker(args: tuple) -> None:
    global _WORKER_CTX
    import warnings
    warnings.filterwarnings("ignore")
    _WORKER_CTX = RunContext(*args)


def _execute_in_worker(spec: "RunSpec", threads: int | None) -> dict:
    return _execute(_WORKER_CTX, spec, threads)


def _execute_all(ctx: "RunContext", todo: list, threads: int | None, workers: int, ctx_args: tuple):
    """Yield (spec, record) as runs finish: in this process, or in `workers` spawned processes (each rebuilds
    the same context: graphs, splits and hold-out groups are deterministic)."""
    return map_unordered(lambda spec: _execute(ctx, spec, threads), todo, workers,
                         remote=functools.partial(_execute_in_worker, threads=threads),
                         initializer=_init_claims_worker, initargs=(ctx_args,), error=ClaimsError)


def _execute(ctx: RunContext, spec: RunSpec, threads: int | None) -> dict:
    budget = ctx.budget
    train_idx, valid_idx, eval_sets = ctx.training_sets(spec)
    if len(train_idx) == 0 or len(valid_idx) == 0:
        raise ClaimsError(f"{spec.key}: no training or validation materials left.")
    model = ctx.new_model(spec.model, spec.seed)
    cfg = dataclasses.replace(budget.train, seed=spec.seed, threads=threads)
    t0 = time.perf_counter()
    history = train(model, [ctx.graphs[int(i)] for i in train_idx], [ctx.graphs[int(i)] for i in valid_idx], cfg)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    keep = spec.data == "all" and spec.model == "e3nn"  # ensemble members (experiment 5) need the predictions
    evaluation = {name: _evaluate(ctx, model, ix, keep) for name, ix in eval_sets.items()}
    if keep and spec.model == "e3nn" and ctx.alloy_graphs:
        evaluation["alloys"] = dict(prediction=rounded(predict(model, ctx.alloy_graphs), 6))
    record = dict(model=spec.model, data=spec.data, seed=spec.seed, config=_config_of(model),
                  n_params=count_parameters(model), n_train=int(len(train_idx)), n_valid=int(len(valid_idx)),
                  train_ids=[str(ctx.dataset.ids[int(i)]) for i in train_idx] if spec.data != "all" else "train split",
                  epochs_run=len(history["epoch"]), best_epoch=int(history.get("best_epoch", -1)),
                  valid_mse=float(min(history["valid_loss"])),
                  history=dict(train_loss=rounded(history["train_loss"], 6), valid_loss=rounded(history["valid_loss"], 6)),
                  evaluation=evaluation)
    if spec.data == "all" and spec.model in ("e3nn", "noneq", "noneq_aug"):
        test = ctx.idx["test"]
        rotated = rotated_predictions(model, [ctx.graphs[int(i)] for i in test], budget.n_rotations, seed=0)
        spread = rotated.astype(np.float64).std(axis=1).max(axis=1)  # (n_test,)
        rotated_mse = np.mean((rotated - ctx.target(test)[:, None, :]) ** 2, axis=2)  # (n_test, n_rot)
        record["rotation_spread"] = dict(n_rotations=budget.n_rotations, per_material=rounded(spread, 10),
                                         mean=float(spread.mean()), max=float(spread.max()),
                                         rotated_test_mse=float(rotated_mse.mean()))
    record["timings"] = dict(train_s=round(train_s, 3), eval_s=round(time.perf_counter() - t0, 3),
                             s_per_epoch=round(train_s / max(len(history["epoch"]), 1), 4))
    return record


def _measure_cost(ctx: RunContext, threads: int | None) -> dict:
    """Experiment 4: seconds per material to build graphs and predict, batched, vs the labelling cost."""
    if threads:
        torch.set_num_threads(threads)
    dataset, budget = ctx.dataset, ctx.budget
    indices = ctx.all_idx
    models = dict(experiments=build_model("e3nn", budget, ctx.num_neighbors, len(ctx.freq)),
                  default=PeriodicNetwork(ModelConfig(num_neighbors=ctx.num_neighbors, out_dim=len(ctx.freq))))
    graph_s, predict_s = [], {k: [] for k in models}
    warm = graphs_from_dataset(dataset, indices[:4], budget.model.r_max)
    for model in models.values():  # the first calls of an e3nn model are slower (TorchScript profiling)
        for _ in range(3):
            predict(model, warm, batch_size=64)
    for _ in range(budget.timing_repeats):
        t0 = time.perf_counter()
        graphs = graphs_from_dataset(dataset, indices, budget.model.r_max)
        graph_s.append((time.perf_counter() - t0) / len(indices))
        for name, model in models.items():
            t0 = time.perf_counter()
            predict(model, graphs, batch_size=64)
            predict_s[name].append((time.perf_counter() - t0) / len(indices))
    a = dataset.arrays
    label = {k: np.asarray(a[k], float)[indices] for k in ("seconds_total", "wall_s", "seconds_relax",
                                                               "seconds_forces", "seconds_dos") if k in a}
    n_atoms = np.asarray(a["n_atoms"], float)[indices]
    device = np.asarray(a["label_device"], str)[indices] if "label_device" in a else np.full(len(indices), "cpu")
    return dict(n_materials=int(len(indices)), threads=torch.get_num_threads(), batch_size=64,
                label_device=device.tolist(),
                graph_s_per_material=graph_s, predict_s_per_material=predict_s,
                n_params={k: count_parameters(m) for k, m in models.items()},
                label_s={k: rounded(v, 3) for k, v in label.items()}, n_atoms=n_atoms.astype(int).tolist(),
                labeller=dataset.meta.get("labeller"), cpu=platform.processor() or platform.machine(),
                cpu_count=os.cpu_count())


def _experiment_key(dataset, budget: Budget, limit, alloys) -> dict:
    key = dict(dataset=dict(version=dataset.version, sha256=dataset.sha256, n=len(dataset),
                            split_sizes=dataset.split_sizes(), limit=dict(limit) if limit else None),
               budget=budget.to_dict())
    key["alloys"] = None if alloys is None else dict(version=alloys.version, sha256=alloys.sha256, n=len(alloys))
    return key


CLAIMS_COMMAND = "python -m utils.claims experiments"   # the command line that makes a results file


def load_claims(path: str | Path | None = None) -> dict:
    """Read a results file of :func:`run_claims`. ``path=None``: ``claims_full.json`` if it exists, else
    ``claims_tiny.json`` (in ``data/experiments``)."""
    if path is None:
        full, tiny = results_path("full"), results_path("tiny")
        path = full if full.exists() else tiny
    return read_results(path, FORMAT_VERSION, ClaimsError, what="claim results", command=CLAIMS_COMMAND,
                        how_to_make=f"run `{CLAIMS_COMMAND} --budget tiny` (minutes) or `make experiments` (≈ 45 min)")


def run_claims(dataset=None, budget: str | Budget = "tiny", out: str | Path | None = "auto",
               only: Iterable[int] | None = None, restart: bool = False, limit: dict | None = None,
               alloys="auto", threads: int | None = 1, log: Callable[[str], None] | None = print,
               progress: bool = True, workers: int = 1) -> dict:
    """Run (or resume) the experiments; write and return the results.

    Args:
        dataset: a :class:`utils.data.PhononDataset` (default: the latest embedded set).
        budget: ``"tiny"``, ``"full"`` (:data:`BUDGETS`) or a :class:`Budget`.
        out: results JSON, rewritten atomically after each run; runs already in it are skipped. ``"auto"``:
            ``data/experiments/claims_<budget>.json``; ``None``: in memory only.
        only: experiment numbers to run (default all, 1–5); summaries are written for the complete ones.
        restart: discard an existing ``out`` made with other data or budget (otherwise
            :class:`ClaimsError`).
        limit: at most this many materials per split, e.g. ``dict(train=10, valid=3, test=3)`` (tests).
        alloys: alloy supercells predicted by the ensemble (experiment 5): ``"auto"`` loads
            ``utils.data.load_alloys`` of the dataset's version if there is one; ``None``: none.
        threads: torch threads for training and timing (default 1: these networks are small, and one thread
            per process is faster than two that wait for each other; ``None``: torch's choice).
        log: called with one line per finished run (``None``: silent).
        progress: a tqdm bar over the runs (silenced by ``TQDM_DISABLE=1``).
        workers: training runs at a time, each in its own process with ``threads`` torch threads (2 on a
            2-core machine: twice the throughput of one process; results are identical to a serial call).

    Returns:
        dict: ``format_version``, ``experiment`` (dataset, budget), ``claims``, ``models``, ``groups``
        (hold-out groups), ``sets`` (ids and targets of valid/test/alloys), ``runs`` (key → model, data, seed,
        config, n_params, n_train, epochs_run, best_epoch, valid_mse, history, ``evaluation`` per set:
        metrics of :func:`utils.spectra.dos_metrics`, per-material MSE and W₁, predictions for ``all`` runs;
        ``rotation_spread``; ``timings``), ``measurements`` (``cost``), ``summaries`` (:func:`summarize`).
    """
    from ..data import DataError, load_alloys, load_dataset

    budget = get_budget(budget)
    dataset = dataset if dataset is not None else load_dataset()
    if isinstance(alloys, str) and alloys == "auto":
        try:
            alloys = load_alloys(dataset.version) if getattr(dataset, "source", None) == "embedded" else None
        except (DataError, OSError):
            alloys = None
    experiments = sorted(set(only or CLAIMS))
    ctx = RunContext(dataset, budget, limit, alloys)
    key = _experiment_key(dataset, budget, limit, alloys)
    out = results_path(budget.name) if isinstance(out, str) and out == "auto" else (Path(out) if out else None)
    store = ResultsFile(out, dict(format_version=FORMAT_VERSION, experiment=key,
                                  claims={str(k): v for k, v in CLAIMS.items()}, models=dict(MODELS), groups=[],
                                  sets={}, runs={}, measurements={}, summaries={}),
                        restart=restart, error=ClaimsError, before_write=_refresh_summaries,
                        what="claim results", command=CLAIMS_COMMAND)
    results = store.results
    results["groups"] = ctx.groups
    results["num_neighbors"] = ctx.num_neighbors
    results["sets"] = {name: dict(ids=[str(dataset.ids[int(i)]) for i in ctx.idx[name]],
                                  target=rounded(ctx.target(ctx.idx[name]), 6)) for name in ("valid", "test")}
    if ctx.alloy_graphs:
        results["sets"]["alloys"] = dict(ids=[str(i) for i in alloys.ids],
                                         target=rounded(np.stack([g.y[0].numpy() for g in ctx.alloy_graphs]), 6))
    results["freq_cm1"] = ctx.freq.tolist()

    plan = plan_runs(budget, ctx.groups, experiments)
    todo = store.todo(spec for specs in plan.values() for spec in specs)
    from tqdm.auto import tqdm

    disabled = not progress or progress_disabled()
    bar = tqdm(total=len(todo), desc="claims runs", unit="run", disable=disabled)
    say = (lambda s: tqdm.write(s)) if not disabled else log
    t_start = time.perf_counter()
    for k, (spec, record) in enumerate(_execute_all(ctx, todo, threads, workers,
                                                    (dataset, budget, limit, alloys)), 1):
        store.record(spec.key, record)
        bar.update(1)
        if say:
            m = record["evaluation"]["test"]["metrics"]
            elapsed = time.perf_counter() - t_start
            say(f"[{k}/{len(todo)}] {spec.key:<34} test MSE {m['mse']:.4f}  W₁ {m['wasserstein_cm1']:6.1f} cm⁻¹  "
                f"({record['timings']['train_s']:.0f} s; ETA {elapsed / k * (len(todo) - k) / 60:.0f} min)")
    bar.close()
    if 4 in experiments and "cost" not in results["measurements"]:
        results["measurements"]["cost"] = _measure_cost(ctx, threads)
        if say:
            say("cost measured")
    store.write()
    return results


def _refresh_summaries(results: dict) -> None:
    results["summaries"] = summarize(results)




def calibrate(dataset=None, budget: str | Budget = "full", epochs: int = 2, threads: int | None = 1,
              limit: dict | None = None) -> dict:
    """Seconds per training material and epoch of each kind of model of ``budget`` on this machine (for
    :func:`estimate_seconds`): trains each for ``epochs`` epochs on the training split (validation included)."""
    from ..data import load_dataset

    budget = get_budget(budget)
    dataset = dataset if dataset is not None else load_dataset()
    ctx = RunContext(dataset, budget, limit, None)
    train_graphs = [ctx.graphs[int(i)] for i in ctx.idx["train"]]
    valid_graphs = [ctx.graphs[int(i)] for i in ctx.idx["valid"]]
    out = {}
    for kind in MODELS:
        model = ctx.new_model(kind, 0)
        cfg = dataclasses.replace(budget.train, epochs=epochs, threads=threads)
        t0 = time.perf_counter()
        train(model, train_graphs, valid_graphs, cfg)
        out[kind] = (time.perf_counter() - t0) / (epochs * len(train_graphs) * 1.15)
    return out
