"""One hyper-parameter search for the shipped network, chosen by validation with several seeds.

The network the series ships overfits: on dataset v1 its training loss falls to ~0.0006 while the validation loss
stays near 0.018, flat from epoch ~15, with 2.46 M parameters for ~1,000 training crystals. This search varies one
thing at a time from the shipped configuration — weight decay, width, depth, the cutoff r_max — every variant
trained with the same seeds and the same budget (epochs and wall time: the shipped model's), and compares them on
the **validation** split only; the test split and the known-crystal benchmark are never looked at, so they stay
honest measures of the chosen model.

* **Early stopping** is part of every run: training keeps the weights of the best validation loss
  (:func:`utils.train.train`), and each run records the epoch where that was, against the epochs it ran.
* **Ensembles**: each variant's seeds also vote — the mean of their validation predictions, as
  :class:`utils.model.EnsembleNetwork` predicts, is scored too (and the mean normalized to maximum 1 again, the
  alternative not taken); and so is every pair of seeds, which gives
  a spread, so that "an ensemble beats one network" is tested by the same 2σ rule. If it holds for the chosen
  variant, the shipped checkpoint is the ensemble of its seeds (``chosen_ensemble``).
* **Dropout** is not among the variants: the e3nn gated convolutions have no dropout layer, and a dropout on the
  equivariant features would have to drop whole irreps to stay equivariant; weight decay and width are the
  regularizers tried.

A variant replaces the default only if its mean validation MSE is lower by more than twice the combined seed
spread (:func:`utils.claims.stats.verdict`, the series' 2σ rule); otherwise the default stays.

    python -m utils.claims search                    # → data/experiments/search.json (resumable)
    python -m utils.claims search --variants default narrow --seeds 0 1 2 --epochs 60
    python -m utils.claims search --workers 2        # two runs at once, one process and one thread each

Each finished run is written at once (:class:`utils.claims.results.ResultsFile`), so an interrupted search
continues where it stopped.
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
from ..spectra import dos_metrics
from ..train import TrainConfig, predict, split_graphs, train
from .pool import map_unordered
from .results import ResultsFile, rounded
from .stats import mean_std, verdict

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "data" / "experiments" / "search.json"
FORMAT_VERSION = 1
COMMAND = "python -m utils.claims search"

#: name → (changes to ModelConfig, changes to TrainConfig), one thing at a time from the shipped configuration
VARIANTS: dict[str, tuple[dict, dict]] = {
    "default": ({}, {}),
    "weight_decay_0.3": ({}, dict(weight_decay=0.3)),
    "weight_decay_1": ({}, dict(weight_decay=1.0)),
    "narrow": (dict(em_dim=32, mul=16), {}),
    "narrow_weight_decay_0.3": (dict(em_dim=32, mul=16), dict(weight_decay=0.3)),
    "three_layers_narrow": (dict(em_dim=32, mul=16, layers=3), {}),
    "r_max_5": (dict(r_max=5.0), {}),
}

__all__ = ["DEFAULT_OUT", "VARIANTS", "SearchError", "choose", "choose_ensemble", "ensemble_mean", "load_search",
           "run_search", "summarize"]


class SearchError(ValueError):
    """A results file of another search (data, budget, variants' definitions), or an unknown variant."""


def load_search(path: str | Path = DEFAULT_OUT) -> dict:
    """The stored search results; a clear error if missing or of another format."""
    from .results import read_results
    return read_results(path, FORMAT_VERSION, SearchError, "search results", COMMAND)


def summarize(results: dict) -> dict:
    """Per variant: validation MSE and W₁ (mean ± std over seeds), the ensemble's, best epochs, parameters; and
    each variant's verdict against the default (``held``: better by more than 2σ)."""
    out: dict[str, dict] = {}
    for name in results["variants"]:
        runs = [r for r in results["runs"].values() if r["variant"] == name]
        if not runs:
            continue
        row = dict(n=len(runs), valid_mse=mean_std(r["valid"]["mse"] for r in runs),
                   valid_wasserstein_cm1=mean_std(r["valid"]["wasserstein_cm1"] for r in runs),
                   train_loss_at_best=mean_std(r["train_loss_at_best"] for r in runs),
                   best_epoch=[r["best_epoch"] for r in runs], epochs_run=[r["epochs_run"] for r in runs],
                   n_params=runs[0]["n_params"], wall_s=mean_std(r["wall_s"] for r in runs))
        if len(runs) > 1 and all("valid_prediction" in r for r in runs):
            freq, target = np.asarray(results["freq_cm1"], float), np.asarray(results["valid_target"], float)
            predictions = [np.asarray(r["valid_prediction"], float) for r in runs]
            ens = dos_metrics(freq, target, ensemble_mean(predictions))
            again = dos_metrics(freq, target, ensemble_mean(predictions, renormalize=True))
            row["ensemble"] = dict(mse=ens["mse"], wasserstein_cm1=ens["wasserstein_cm1"], n_members=len(runs))
            row["ensemble_renormalized"] = dict(mse=again["mse"], wasserstein_cm1=again["wasserstein_cm1"])
            if len(runs) > 2:   # every pair of seeds as an ensemble of 2: a spread, so the 2σ rule applies
                pairs = [dos_metrics(freq, target, ensemble_mean([predictions[a], predictions[b]]))["mse"]
                         for a, b in itertools.combinations(range(len(runs)), 2)]
                row["ensemble_of_2_mse"] = mean_std(pairs)
                row["ensemble_of_2_vs_single"] = verdict(row["ensemble_of_2_mse"], row["valid_mse"])
        out[name] = row
    if "default" in out:
        for name, row in out.items():
            if name != "default":
                row["vs_default"] = verdict(row["valid_mse"], out["default"]["valid_mse"])
    return out


def ensemble_mean(predictions, renormalize: bool = False) -> np.ndarray:
    """The prediction of an ensemble from its members' (each (n, grid), maximum 1 per row): their mean, as
    :class:`utils.model.EnsembleNetwork` predicts; with ``renormalize``, scaled to maximum 1 per row again (the
    alternative the search scores too).

    Example::

        >>> ensemble_mean([np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])]).tolist()
        [[0.5, 0.5]]
        >>> ensemble_mean([np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])], renormalize=True).tolist()
        [[1.0, 1.0]]
    """
    mean = np.mean(np.asarray(predictions, float), axis=0)
    return mean / np.maximum(mean.max(axis=-1, keepdims=True), 1e-8) if renormalize else mean


def choose(results: dict) -> str:
    """The variant to retrain with: the one with the lowest mean validation MSE among those that beat the default
    by the 2σ rule, else ``"default"``."""
    summary = results.get("summary") or summarize(results)
    winners = [n for n, r in summary.items() if r.get("vs_default", {}).get("outcome") == "held"]
    return min(winners, key=lambda n: summary[n]["valid_mse"]["mean"]) if winners else "default"


def choose_ensemble(results: dict) -> bool:
    """Whether to ship the chosen variant as the ensemble of its seeds: when its ensembles of 2 beat its single
    networks by the 2σ rule (an ensemble of all seeds is then expected to do at least as well)."""
    summary = results.get("summary") or summarize(results)
    row = summary.get(choose(results), {})
    return row.get("ensemble_of_2_vs_single", {}).get("outcome") == "held"


def _refresh(results: dict) -> None:
    results["summary"] = summarize(results)
    results["chosen"] = choose(results)
    results["chosen_ensemble"] = choose_ensemble(results)


def run_search(dataset=None, variants: Sequence[str] = tuple(VARIANTS), seeds: Sequence[int] = (0, 1, 2),
               train_config: TrainConfig | None = None, model_config: ModelConfig | None = None,
               out: str | Path | None = DEFAULT_OUT, restart: bool = False,
               log: Callable[[str], None] | None = print, workers: int = 1) -> dict:
    """Train every (variant, seed) on the dataset's train split, score it on the valid split, write and return
    the results (``runs``, ``summary``, ``chosen``). Runs already stored in ``out`` are skipped.

    Args:
        dataset: a :class:`utils.data.PhononDataset` (default: the latest embedded version).
        variants: names of :data:`VARIANTS`.
        seeds: weight initialisation and batch order; the same seeds for every variant.
        train_config: the budget of every run (epochs, batch, learning rate, ``max_minutes``); default the shipped
            model's ``TrainConfig()``. A variant's changes (e.g. weight decay) are applied on top.
        model_config: the base architecture (default ``ModelConfig()``, the shipped one).
        out: results JSON (``None``: memory only); restart: discard a stored search of other settings.
        workers: runs trained at once, each in its own process with ``train_config.threads`` torch threads
            (default 1). The runs are independent and each is seeded, so the results equal those of
            ``workers=1``; only the order in which they finish differs.
    """
    from ..data import load_dataset

    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SearchError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    dataset = dataset if dataset is not None else load_dataset()
    train_config = train_config or TrainConfig()
    model_config = model_config or ModelConfig()
    idx = {name: dataset.split(name) for name in ("train", "valid")}
    if not len(idx["train"]) or not len(idx["valid"]):
        raise SearchError(f"the search needs train and valid materials; the dataset has {dataset.split_sizes()}")
    experiment = dict(dataset=dict(version=dataset.version, sha256=dataset.sha256, n_train=int(len(idx["train"])),
                                   n_valid=int(len(idx["valid"]))),
                      train_config=train_config.to_dict(), model_config=dataclasses.asdict(model_config),
                      variants={n: [VARIANTS[n][0], VARIANTS[n][1]] for n in variants})
    freq = np.asarray(dataset.freq_cm1, float)
    target = np.stack([dataset[int(i)].dos for i in idx["valid"]])
    store = ResultsFile(out, dict(format_version=FORMAT_VERSION, experiment=experiment, variants=list(variants),
                                  seeds=[int(s) for s in seeds], freq_cm1=rounded(freq), valid_target=rounded(target),
                                  runs={}, summary={}, chosen=None),
                        restart=restart, error=SearchError, before_write=_refresh, what="search results",
                        command=COMMAND)
    planned = {f"{v}/seed{int(s)}": (v, int(s)) for v in variants for s in seeds}
    todo = [(key, *planned[key]) for key in store.todo(planned)]

    def record(key: str, run: dict) -> None:
        store.record(key, run)
        if log:
            log(f"{key:<32} valid MSE {run['valid']['mse']:.4f}  W₁ {run['valid']['wasserstein_cm1']:.1f} cm⁻¹  "
                f"best epoch {run['best_epoch'] + 1} of {run['epochs_run']}  ({run['wall_s']:.0f} s)")

    _init_worker(dataset, idx, freq, target)            # for runs in this process (workers ≤ 1)
    jobs = [(key, name, seed, train_config, model_config) for key, name, seed in todo]
    for job, run in map_unordered(_train_job, jobs, workers, remote=_train_job, initializer=_init_worker,
                                  initargs=(dataset, idx, freq, target), error=SearchError):
        record(job[0], run)
    store.write()
    return store.results


# ------------------------------------------------------------------------------------ one run (in any process)
_WORKER: dict = {}


def _init_worker(dataset, idx, freq, target) -> None:
    """Hold the data of one search in this process (the parent, or each worker process of ``workers > 1``)."""
    _WORKER.clear()
    _WORKER.update(dataset=dataset, idx=idx, freq=freq, target=target, graphs={})


def _train_job(job: tuple) -> dict:
    """One planned run, ``(key, variant, seed, train_config, model_config)``, in the process that holds the data."""
    _, name, seed, train_config, model_config = job
    return _train_one(name, seed, train_config, model_config)


def _train_one(name: str, seed: int, train_config: TrainConfig, model_config: ModelConfig) -> dict:
    """Train variant `name` with `seed` on the held data; its record (validation metrics and predictions)."""
    dataset, idx, freq, target = (_WORKER[k] for k in ("dataset", "idx", "freq", "target"))
    model_changes, train_changes = VARIANTS[name]
    mcfg = dataclasses.replace(model_config, **model_changes)
    if mcfg.r_max not in _WORKER["graphs"]:          # graphs depend on the cutoff only
        _WORKER["graphs"][mcfg.r_max] = split_graphs(dataset, mcfg, idx)
    graphs, fitted = _WORKER["graphs"][mcfg.r_max]   # fitted: z of the training graphs and out_dim only
    fitted = dataclasses.replace(mcfg, num_neighbors=fitted.num_neighbors, out_dim=fitted.out_dim)
    tcfg = dataclasses.replace(train_config, seed=seed, **train_changes)
    torch.manual_seed(seed)
    model = PeriodicNetwork(fitted)
    t0 = time.perf_counter()
    history = train(model, graphs["train"], graphs["valid"], tcfg)
    wall_s = time.perf_counter() - t0
    pred = predict(model, graphs["valid"])
    m = dos_metrics(freq, target, pred)
    best = int(history["best_epoch"])
    return dict(variant=name, seed=seed, valid=dict(mse=m["mse"], wasserstein_cm1=m["wasserstein_cm1"]),
                best_epoch=best, epochs_run=len(history["epoch"]), train_loss_at_best=float(history["train_loss"][best]),
                n_params=count_parameters(model), wall_s=wall_s, valid_prediction=rounded(pred, 5))


def format_table(results: dict) -> str:
    """The search as a text table: validation MSE and W₁ (mean ± std over seeds), the ensemble, the verdict."""
    lines = [f"{'variant':<26}{'params':>10}{'valid MSE':>20}{'W₁ (cm⁻¹)':>16}{'best epoch':>14}  {'vs default':<14}"
             f"{'ensemble of 2':>19}{'of all':>8}  2 vs 1"]
    for name, r in results["summary"].items():
        v = r.get("vs_default", {}).get("outcome", "")
        ens = r.get("ensemble", {}).get("mse")
        pairs = r.get("ensemble_of_2_mse")
        pairs = None if pairs is None else f"{pairs['mean']:.4f} ± {pairs['std']:.4f}"
        lines.append(f"{name:<26}{r['n_params']:>10,}{r['valid_mse']['mean']:>13.4f} ± {r['valid_mse']['std']:.4f}"
                     f"{r['valid_wasserstein_cm1']['mean']:>10.1f} ± {r['valid_wasserstein_cm1']['std']:.1f}"
                     f"{'/'.join(str(e + 1) for e in r['best_epoch']):>14}  {v:<14}"
                     f"{pairs or '':>19}"
                     f"{'' if ens is None else f'{ens:.4f}':>8}"
                     f"  {r.get('ensemble_of_2_vs_single', {}).get('outcome', '')}")
    lines.append(f"chosen: {results['chosen']}")
    return "\n".join(lines)
