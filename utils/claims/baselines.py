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

Where the dataset has a known-crystal benchmark split (v2 on), every run is scored on it too, with the same metrics
and the median W₁ (``runs[…]["benchmark"]``, ``summary_benchmark``), and ``verdicts`` states for both sets whether the
e3nn model beats each simpler method by the series' 2σ rule (:func:`utils.claims.stats.verdict`).

**The shipped ensemble.** The shipped checkpoint is the mean of the e3nn networks of seeds 0, 1, 2
(:class:`utils.model.EnsembleNetwork`), the same networks as this file's ``e3nn`` runs (checked: same seeds, same
test metrics). :func:`score_ensemble` scores it on both sets (``ensemble["all"]``) and, to have a spread for the
2σ rule, every ensemble of 2 of its members (``ensemble["pairs"]``: mean ± std over the 3 pairs);
``ensemble["verdicts"]`` compares the ensembles of 2 with each simpler method (an ensemble of all three is expected
to do at least as well as one of two, and does on both sets here).

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
import itertools
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..model import ModelConfig, PeriodicNetwork, count_parameters
from ..spectra import dos_metrics, wasserstein_cm1
from ..train import TrainConfig, predict, split_graphs, train
from .models import CompositionConfig, CompositionMLP, mean_dos_baseline
from .pool import map_unordered
from .results import ResultsFile, read_results
from .stats import mean_std, verdict

__all__ = [
    "METHODS", "METRICS", "DEFAULT_OUT", "BaselineError", "run_baselines", "load_baselines", "summarize",
    "format_table", "score_ensemble", "format_ensemble",
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


def summarize(runs: dict, split: str = "test") -> dict:
    """Per method and metric on ``split`` ('test' or 'benchmark'): mean, standard deviation (ddof=1; 0 for a single
    run) and number of runs; on the benchmark also the median W₁ (``median_wasserstein_cm1``)."""
    summary: dict = {}
    metrics = list(METRICS) + (["median_wasserstein_cm1"] if split == "benchmark" else [])
    for method in METHODS:
        done = [r for r in runs.values() if r["method"] == method and split in r]
        if not done:
            continue
        summary[method] = {}
        for metric in metrics:
            values = np.array([r[split][metric] for r in done], dtype=float)
            summary[method][metric] = dict(mean=float(values.mean()),
                                           std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                                           n=int(len(values)))
    return summary


def format_table(results: dict, split: str = "test") -> str:
    """Plain-text table of the summary (metrics on ``split``, mean ± std over seeds) of a results dict."""
    formats = {"mse": ".4f", "mae": ".4f", "r2": ".3f", "wasserstein_cm1": ".1f", "cv300_rel_error_pct": ".2f"}
    labels = dict(METRICS)
    if split == "benchmark":
        formats["median_wasserstein_cm1"] = ".1f"
        labels["median_wasserstein_cm1"] = ("median W₁", "cm⁻¹")
    header = f"{'method':<27}" + "".join(
        f"{(label + (f' ({unit})' if unit else '')):^22}" for label, unit in labels.values()) + "  runs"
    lines = [header, "-" * len(header)]
    summary = results["summary"] if split == "test" else results.get("summary_benchmark", {})
    for method, label in METHODS.items():
        stats = summary.get(method)
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
    if len(dataset.split("benchmark")):
        idx["benchmark"] = dataset.split("benchmark")
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
    target = {name: np.stack([g.y[0].numpy() for g in graphs[name]]) for name in idx}
    scored = {name: target[name] for name in SCORED if name in target}

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
        record("mean_dos", dict(method="mean_dos", seed=None, **_scores(freq, scored, {k: tile(len(v)) for k, v in scored.items()}),
                                valid_mse=float(np.mean((tile(len(target["valid"])) - target["valid"]) ** 2)),
                                epochs_run=0, best_epoch=None, n_params=0, wall_s=time.perf_counter() - t0))
    planned = {f"{m}/seed{int(seed)}": (m, int(seed)) for seed in seeds for m in METHODS
               if m in methods and m != "mean_dos"}
    jobs = [(key, *planned[key], train_config, model_config, composition_config) for key in store.todo(planned)]
    local = lambda job: _run_job(job, graphs, freq, scored)  # noqa: E731
    for job, run in map_unordered(local, jobs, workers, remote=_run_job_in_worker, initializer=_init_worker,
                                  initargs=(dataset, model_config, idx, freq), error=BaselineError):
        record(job[0], run)
    return results


_WORKER: dict = {}


def _init_worker(dataset, model_config: ModelConfig, idx: dict, freq) -> None:
    """A worker process of ``workers > 1``: build the same graphs as the parent (deterministic)."""
    graphs, _ = split_graphs(dataset, model_config, idx)
    _WORKER.update(graphs=graphs, freq=freq,
                   scored={k: np.stack([g.y[0].numpy() for g in graphs[k]]) for k in SCORED if k in graphs})


def _run_job_in_worker(job: tuple) -> dict:
    return _run_job(job, _WORKER["graphs"], _WORKER["freq"], _WORKER["scored"])


SCORED = ("test", "benchmark")   # the sets every run is scored on (the benchmark where the dataset has one)


def _scores(freq, targets: dict, preds: dict) -> dict:
    """``{set: dos_metrics}`` for each scored set; the benchmark adds the median W₁ (its headline metric)."""
    out = {}
    for name, target in targets.items():
        out[name] = dos_metrics(freq, target, preds[name])
        if name == "benchmark":
            out[name]["median_wasserstein_cm1"] = float(np.median(wasserstein_cm1(freq, target, preds[name])))
    return out


def _run_job(job: tuple, graphs: dict, freq, scored: dict) -> dict:
    """Train one ``(key, method, seed, train_config, model_config, composition_config)`` and score it on the test
    split (and the benchmark split where there is one)."""
    _, method, seed, train_config, model_config, composition_config = job
    t0 = time.perf_counter()
    model, history = _train_network(method, seed, graphs, train_config, model_config, composition_config)
    wall_s = time.perf_counter() - t0
    preds = {name: predict(model, graphs[name]) for name in scored}
    return dict(method=method, seed=seed, **_scores(freq, scored, preds),
                valid_mse=float(min(history["valid_loss"])), epochs_run=len(history["epoch"]),
                best_epoch=int(history["best_epoch"]), n_params=count_parameters(model), wall_s=wall_s)


def verdicts(results: dict) -> dict:
    """Does the e3nn model beat each simpler method? Per scored set and metric (MSE; W₁ — the median on the
    benchmark, the mean on the test split), :func:`utils.claims.stats.verdict` of "e3nn is lower" (2σ rule). The
    mean DoS has no seeds and no spread: against it the e3nn spread alone sets σ."""
    out: dict = {}
    for split, summary in (("test", results.get("summary") or {}), ("benchmark", results.get("summary_benchmark") or {})):
        if "e3nn" not in summary:
            continue
        w = "median_wasserstein_cm1" if split == "benchmark" else "wasserstein_cm1"
        for other in ("mean_dos", "composition", "e3nn_lmax0"):
            if other not in summary:
                continue
            for metric in ("mse", w):
                ref = dict(summary[other][metric], n=max(summary[other][metric]["n"], 2))   # mean DoS: exact, no spread
                out.setdefault(split, {}).setdefault(other, {})[metric] = verdict(summary["e3nn"][metric], ref)
    return out


def _refresh_summary(results: dict) -> None:
    results["summary"] = summarize(results["runs"])
    if any("benchmark" in r for r in results["runs"].values()):
        results["summary_benchmark"] = summarize(results["runs"], "benchmark")
    results["verdicts"] = verdicts(results)


# -------------------------------------------------------------------------------------- the shipped ensemble
def score_ensemble(results: dict, dataset, checkpoint=None) -> dict | None:
    """Score an ensemble checkpoint (default: the shipped one) whose members are this results file's ``e3nn`` runs:
    the ensemble of all members and every ensemble of 2, on the test split and the benchmark, with 2σ verdicts of
    the ensembles of 2 against each simpler method. Returns the ``ensemble`` entry (also stored in ``results``), or
    None when the checkpoint is a single network.

    Raises ``BaselineError`` when a member is not the e3nn run of its seed in ``results`` (other data or budget).
    """
    from ..checkpoint import DEFAULT_CHECKPOINT, is_ensemble, load_checkpoint
    from ..train import graphs_from_dataset
    from .search import ensemble_mean

    checkpoint = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    if not is_ensemble(checkpoint):
        return None
    model, meta = load_checkpoint(checkpoint, dataset=dataset)        # same dataset version and sha256
    seeds = [m["train_config"]["seed"] for m in meta["members_meta"]]
    for seed, member in zip(seeds, meta["members_meta"]):
        run = results["runs"].get(f"e3nn/seed{seed}")
        if run is None or not np.isclose(run["test"]["mse"], member["metrics"]["test"]["mse"], rtol=0, atol=1e-9):
            raise BaselineError(f"{checkpoint}: member seed {seed} is not the e3nn/seed{seed} run of these baselines "
                                "(other data, budget or code): rerun the baselines (python -m utils.claims baselines "
                                "--restart) or retrain the ensemble with the same settings")
    freq = np.asarray(dataset.freq_cm1, float)
    graphs = {name: graphs_from_dataset(dataset, dataset.split(name), float(model.config.r_max))
              for name in SCORED if len(dataset.split(name))}
    targets = {name: np.stack([g.y[0].numpy() for g in gs]) for name, gs in graphs.items()}
    preds = {name: [predict(member, gs) for member in model.members] for name, gs in graphs.items()}

    def scores(members) -> dict:     # the ensemble's prediction as the search and EnsembleNetwork define it
        return _scores(freq, targets, {name: ensemble_mean([p[m] for m in members]) for name, p in preds.items()})

    every = scores(range(len(seeds)))
    pair_scores = [scores(pair) for pair in itertools.combinations(range(len(seeds)), 2)]
    pairs = {name: {metric: mean_std(s[name][metric] for s in pair_scores) for metric in every[name] if metric != "n"}
             for name in every}
    summaries = {"test": results.get("summary") or {}, "benchmark": results.get("summary_benchmark") or {}}
    out_verdicts: dict = {}
    for split in pairs:
        w = "median_wasserstein_cm1" if split == "benchmark" else "wasserstein_cm1"
        for other in ("mean_dos", "composition", "e3nn_lmax0", "e3nn"):
            if other in summaries[split]:
                for metric in ("mse", w):
                    ref = summaries[split][other][metric]
                    ref = dict(ref, n=max(ref["n"], 2))                  # mean DoS: exact, no spread
                    out_verdicts.setdefault(split, {}).setdefault(other, {})[metric] = verdict(pairs[split][metric], ref)
    entry = dict(checkpoint=checkpoint.name, seeds=seeds, all=every, pairs=pairs, verdicts=out_verdicts)
    results["ensemble"] = entry
    return entry


def format_ensemble(results: dict) -> str:
    """The ``ensemble`` entry as text: the ensemble of all members and the ensembles of 2, on both sets, and the
    verdicts of the ensembles of 2 against each single method."""
    ens = results.get("ensemble")
    if not ens:
        return ""
    lines = []
    for split in ens["all"]:
        w = "median_wasserstein_cm1" if split == "benchmark" else "wasserstein_cm1"
        a, p = ens["all"][split], ens["pairs"][split]
        lines.append(f"{split}: ensemble of {len(ens['seeds'])} (seeds {ens['seeds']}) MSE {a['mse']:.4f}, "
                     f"{'median ' if split == 'benchmark' else ''}W₁ {a[w]:.1f} cm⁻¹; ensembles of 2: MSE "
                     f"{p['mse']['mean']:.4f} ± {p['mse']['std']:.4f}, W₁ {p[w]['mean']:.1f} ± {p[w]['std']:.1f} cm⁻¹")
        for other, by_metric in ens["verdicts"].get(split, {}).items():
            lines.append(f"  ensembles of 2 lower than {other}? " + ", ".join(
                f"{m} {v['outcome']} (Δ {v['diff']:.4g}, 2σ {2 * v['sigma']:.2g})" for m, v in by_metric.items()))
    return "\n".join(lines)
