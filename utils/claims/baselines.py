"""Baselines for the phonon-DoS network: what does the e3nn model buy over simpler predictors?

Four methods, evaluated on the dataset's own train/valid/test split with the same training budget
(one :class:`utils.train.TrainConfig`: epochs, batch size, AdamW learning rate and weight decay,
exponential decay) and the same test metrics (:func:`utils.spectra.dos_metrics`):

==================  ==========================================================================================
``mean_dos``        the mean training DoS, max-normalized, predicted for every material (no inputs at all;
                    seed-independent, evaluated once)
``composition``     :class:`CompositionMLP`: an MLP on the mass-weighted fractional composition — everything
                    the e3nn model sees *except* the geometry (which atoms sit where)
``e3nn_lmax0``      :class:`utils.model.PeriodicNetwork` with ``lmax=0``: only scalar (rotation-invariant)
                    features and edge lengths, no directions
``e3nn``            :class:`utils.model.PeriodicNetwork` with the series' defaults (``lmax=1``)
==================  ==========================================================================================

:func:`run_baselines` trains every (method, seed) pair, writes the results to a JSON file after each run
(atomically) and skips the runs already there, so an interrupted run continues where it stopped.

Example::

    >>> from utils.data import load_dataset
    >>> from utils.train import TrainConfig
    >>> results = run_baselines(load_dataset(), seeds=(0, 1, 2), train_config=TrainConfig(epochs=60))  # doctest: +SKIP
    >>> print(format_table(results))                                                                  # doctest: +SKIP

Command line: ``python -m utils.claims baselines --seeds 0 1 2 --epochs 60``.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..model import ModelConfig, PeriodicNetwork, count_parameters
from ..spectra import dos_metrics
from ..train import TrainConfig, predict, split_graphs, train
from .models import CompositionConfig, CompositionMLP, mean_dos_baseline
from .pool import map_unordered
from .results import ResultsFile, read_results

__all__ = [
    "METHODS", "METRICS", "DEFAULT_OUT", "BaselineError", "run_baselines", "load_baselines", "summarize",
    "format_table",
]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "data" / "experiments" / "baselines.json"
FORMAT_VERSION = 1
METHODS = {  # key → label, in order from the simplest to the full model
    "mean_dos": "mean training DoS",
    "composition": "composition-only MLP",
    "e3nn_lmax0": "e3nn, l_max = 0",
    "e3nn": "e3nn (default, l_max = 1)",
}
METRICS = {  # key of utils.spectra.dos_metrics → (label, unit)
    "mse": ("MSE", ""),
    "mae": ("MAE", ""),
    "r2": ("R²", ""),
    "wasserstein_cm1": ("W₁", "cm⁻¹"),
    "cv300_rel_error_pct": ("|ΔC_V(300 K)|/C_V", "%"),
}


class BaselineError(ValueError):
    """An existing results file that does not match the requested experiment (data, budget, models)."""


# ------------------------------------------------------------------------------------------ results
BASELINES_COMMAND = "python -m utils.claims baselines"   # the command line that makes a results file


def load_baselines(path: str | Path = DEFAULT_OUT) -> dict:
    """Read a results file of :func:`run_baselines` (a dict; see there for the keys)."""
    return read_results(path, FORMAT_VERSION, BaselineError, what="baseline results", command=BASELINES_COMMAND)


def summarize(runs: dict) -> dict:
    """Per method and metric: mean, standard deviation (ddof=1; 0 for a single run) and number of runs."""
    summary: dict = {}
    for method in METHODS:
        done = [r for r in runs.values() if r["method"] == method]
        if not done:
            continue
        summary[method] = {}
        for metric in METRICS:
            values = np.array([r["test"][metric] for r in done], dtype=float)
            summary[method][metric] = dict(mean=float(values.mean()),
                                           std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                                           n=int(len(values)))
    return summary


def format_table(results: dict) -> str:
    """Plain-text table of the summary (test metrics, mean ± std over seeds) of a results dict."""
    formats = {"mse": ".4f", "mae": ".4f", "r2": ".3f", "wasserstein_cm1": ".1f", "cv300_rel_error_pct": ".2f"}
    header = f"{'method':<27}" + "".join(
        f"{(label + (f' ({unit})' if unit else '')):^22}" for label, unit in METRICS.values()) + "  runs"
    lines = [header, "-" * len(header)]
    for method, label in METHODS.items():
        stats = results["summary"].get(method)
        if not stats:
            continue
        cells = "".join(f"{format(stats[m]['mean'], f):>12} ± {format(stats[m]['std'], f):<7}" for m, f in formats.items())
        lines.append(f"{label:<27}{cells}  {stats['mse']['n']:>4}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- runs
def _experiment_key(dataset, train_config: TrainConfig, model_config: ModelConfig,
                    composition_config: CompositionConfig) -> dict:
    """What must match for stored runs to be reused (the seed, thread count and time limit excluded)."""
    budget = {k: v for k, v in train_config.to_dict().items() if k not in ("seed", "threads", "max_minutes")}
    return dict(dataset=dict(version=dataset.version, sha256=dataset.sha256, n=len(dataset),
                             split_sizes=dataset.split_sizes()),
                train_config=budget, model_config=model_config.to_dict(),
                composition_config=composition_config.to_dict())


def _train_network(method: str, seed: int, graphs: dict, train_config: TrainConfig,
                   model_config: ModelConfig, composition_config: CompositionConfig):
    torch.manual_seed(seed)
    if method == "composition":
        model = CompositionMLP(composition_config)
    elif method == "e3nn_lmax0":
        model = PeriodicNetwork(dataclasses.replace(model_config, lmax=0))
    elif method == "e3nn":
        model = PeriodicNetwork(model_config)
    else:
        raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
    history = train(model, graphs["train"], graphs["valid"], dataclasses.replace(train_config, seed=seed))
    return model, history


def run_baselines(dataset=None, seeds: Sequence[int] = (0, 1, 2), train_config: TrainConfig | None = None,
                  model_config: ModelConfig | None = None, composition_config: CompositionConfig | None = None,
                  out: str | Path | None = DEFAULT_OUT, methods: Sequence[str] = tuple(METHODS),
                  restart: bool = False, log: Callable[[str], None] | None = print, workers: int = 1) -> dict:
    """Train and evaluate every (method, seed) on the dataset's split; write and return the results.

    Args:
        dataset: a :class:`utils.data.PhononDataset` (default: ``load_dataset()``, the latest embedded set).
        seeds: seeds of the trained methods (weights' initialisation and batch order); ``mean_dos`` is
            seed-independent and evaluated once.
        train_config: the one training budget used for every network (its ``seed`` is replaced by each
            seed). Default: ``TrainConfig()``, as ``utils.train.fit_default``.
        model_config: e3nn hyper-parameters (default ``ModelConfig()``); ``e3nn_lmax0`` uses it with
            ``lmax=0``. ``num_neighbors`` and ``out_dim`` are set from the training graphs, as in
            ``fit_default``.
        composition_config: hyper-parameters of :class:`CompositionMLP` (``out_dim`` set from the data).
        out: JSON file (default ``data/experiments/baselines.json``), rewritten atomically after each run;
            runs already in it are skipped. ``None``: keep the results in memory only.
        methods: subset of :data:`METHODS` keys.
        restart: discard an existing ``out`` that was made with other data, budget or hyper-parameters
            (otherwise that raises :class:`BaselineError`).
        log: called with one line per finished run (``None``: silent).
        workers: runs trained at once, each in a spawned process (:func:`utils.claims.pool.map_unordered`);
            the seeded results equal those of ``workers=1``.

    Returns:
        dict with ``format_version``, ``experiment`` (dataset version/sha256/split sizes, training budget,
        model configs), ``seeds``, ``methods`` (labels), ``runs`` (``"<method>/seed<s>"`` → method, seed,
        ``test`` metrics of :func:`utils.spectra.dos_metrics`, ``valid_mse``, ``epochs_run``, ``best_epoch``,
        ``n_params``, ``wall_s``) and ``summary`` (:func:`summarize`).
    """
    from ..data import load_dataset

    dataset = dataset if dataset is not None else load_dataset()
    train_config = train_config or TrainConfig()
    composition_config = dataclasses.replace(composition_config or CompositionConfig(),
                                             out_dim=len(dataset.freq_cm1))
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    idx = {name: dataset.split(name) for name in ("train", "valid", "test")}
    if len(idx["train"]) == 0 or len(idx["valid"]) == 0 or len(idx["test"]) == 0:
        raise ValueError(f"the dataset needs train, valid and test materials, has {dataset.split_sizes()}")
    graphs, model_config = split_graphs(dataset, model_config or ModelConfig(), idx)   # num_neighbors, out_dim

    experiment = _experiment_key(dataset, train_config, model_config, composition_config)
    store = ResultsFile(out, dict(format_version=FORMAT_VERSION, experiment=experiment, seeds=[], methods={}, runs={},
                                  summary={}),
                        restart=restart, error=BaselineError, before_write=_refresh_summary,
                        what="baseline results", command=BASELINES_COMMAND)
    results = store.results
    results["seeds"] = sorted(set(results["seeds"]) | {int(s) for s in seeds})
    results["methods"] = {m: METHODS[m] for m in METHODS if m in set(methods) | {r["method"] for r in results["runs"].values()}}

    freq = np.asarray(dataset.freq_cm1, float)
    target = {name: np.stack([g.y[0].numpy() for g in graphs[name]]) for name in ("train", "valid", "test")}

    def record(key: str, run: dict) -> None:
        store.record(key, run)
        if log:
            m = run["test"]
            log(f"{key:<22} test MSE {m['mse']:.4f}  MAE {m['mae']:.4f}  R² {m['r2']:.3f}  "
                f"W₁ {m['wasserstein_cm1']:.1f} cm⁻¹  ΔC_V {m['cv300_rel_error_pct']:.2f} %  "
                f"({run['epochs_run']} epochs, {run['wall_s']:.0f} s)")

    if "mean_dos" in methods and store.todo(["mean_dos"]):
        t0 = time.perf_counter()
        mean = mean_dos_baseline(target["train"])
        tile = lambda n: np.tile(mean, (n, 1))  # noqa: E731
        record("mean_dos", dict(method="mean_dos", seed=None, test=dos_metrics(freq, target["test"], tile(len(target["test"]))),
                                valid_mse=float(np.mean((tile(len(target["valid"])) - target["valid"]) ** 2)),
                                epochs_run=0, best_epoch=None, n_params=0, wall_s=time.perf_counter() - t0))
    planned = {f"{m}/seed{int(seed)}": (m, int(seed)) for seed in seeds for m in METHODS
               if m in methods and m != "mean_dos"}
    jobs = [(key, *planned[key], train_config, model_config, composition_config) for key in store.todo(planned)]
    local = lambda job: _run_job(job, graphs, freq, target["test"])  # noqa: E731
    for job, run in map_unordered(local, jobs, workers, remote=_run_job_in_worker, initializer=_init_worker,
                                  initargs=(dataset, model_config, idx, freq), error=BaselineError):
        record(job[0], run)
    return results


_WORKER: dict = {}


def _init_worker(dataset, model_config: ModelConfig, idx: dict, freq) -> None:
    """A worker process of ``workers > 1``: build the same graphs as the parent (deterministic)."""
    graphs, _ = split_graphs(dataset, model_config, idx)
    _WORKER.update(graphs=graphs, freq=freq, target=np.stack([g.y[0].numpy() for g in graphs["test"]]))


def _run_job_in_worker(job: tuple) -> dict:
    return _run_job(job, _WORKER["graphs"], _WORKER["freq"], _WORKER["target"])


def _run_job(job: tuple, graphs: dict, freq, test_target) -> dict:
    """Train one ``(key, method, seed, train_config, model_config, composition_config)`` and score it on test."""
    _, method, seed, train_config, model_config, composition_config = job
    t0 = time.perf_counter()
    model, history = _train_network(method, seed, graphs, train_config, model_config, composition_config)
    wall_s = time.perf_counter() - t0
    return dict(method=method, seed=seed, test=dos_metrics(freq, test_target, predict(model, graphs["test"])),
                valid_mse=float(min(history["valid_loss"])), epochs_run=len(history["epoch"]),
                best_epoch=int(history["best_epoch"]), n_params=count_parameters(model), wall_s=wall_s)


def _refresh_summary(results: dict) -> None:
    results["summary"] = summarize(results["runs"])
