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

Command line: ``python scripts/baselines.py --seeds 0 1 2 --epochs 60``.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ._io import atomic_write_json
from .model import NORMALIZATION_EPS, ModelConfig, PeriodicNetwork, count_parameters
from .spectra import dos_metrics
from .train import TrainConfig, average_num_neighbors, graphs_from_dataset, predict, train

__all__ = [
    "METHODS", "METRICS", "DEFAULT_OUT", "BaselineError", "CompositionConfig", "CompositionMLP",
    "mean_dos_baseline", "run_baselines", "load_baselines", "summarize", "format_table",
]

ROOT = Path(__file__).resolve().parents[1]
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


# ---------------------------------------------------------------------------------------- mean DoS
def mean_dos_baseline(train_dos: np.ndarray, normalize: bool = True) -> np.ndarray:
    """The mean of the training spectra, divided by its maximum: one DoS predicted for every material.

    Args:
        train_dos: (n_train, n_grid) max-normalized training DoS.
        normalize: divide the mean by its maximum (default), so that the prediction obeys the same
            constraint as the networks' outputs (non-negative, maximum 1). ``False`` returns the plain
            mean, the constant with the lowest training MSE.
    Returns:
        (n_grid,) float64 array; ``np.tile(mean, (n, 1))`` predicts n materials.

    Example::

        >>> mean_dos_baseline(np.array([[0.0, 1.0], [1.0, 0.5]]))
        array([0.66666667, 1.        ])
    """
    train_dos = np.asarray(train_dos, dtype=float)
    if train_dos.ndim != 2 or len(train_dos) == 0:
        raise ValueError(f"train_dos must be a non-empty (n_train, n_grid) array, got shape {train_dos.shape}.")
    mean = train_dos.mean(axis=0)  # (n_grid,)
    return mean / max(float(mean.max()), NORMALIZATION_EPS) if normalize else mean


# ---------------------------------------------------------------------------------- composition MLP
@dataclasses.dataclass
class CompositionConfig:
    """Hyper-parameters of :class:`CompositionMLP` (JSON-friendly via ``to_dict``).

    in_dim: elements (118); em_dim: width of the embedding (as the e3nn model's); hidden: widths of the
    hidden layers; out_dim: DoS grid points; weighting: ``"mass"`` (input Σ_Z c_Z m_Z e_Z, the mean of the
    e3nn model's node inputs ``x`` over the atoms) or ``"plain"`` (the fractional composition c_Z).
    """
    in_dim: int = 118
    em_dim: int = 64
    hidden: tuple[int, ...] = (128, 128)
    out_dim: int = 51
    weighting: str = "mass"

    def __post_init__(self) -> None:
        if self.weighting not in ("mass", "plain"):
            raise ValueError(f"weighting must be 'mass' or 'plain', got {self.weighting!r}.")
        self.hidden = tuple(int(h) for h in self.hidden)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["hidden"] = list(self.hidden)
        return values


class CompositionMLP(nn.Module):
    r"""Composition → DoS, blind to the structure: polymorphs of one formula get the same prediction.

    .. math::
        \hat g = \frac{\mathrm{ReLU}(\mathrm{MLP}(u))}{\max_\omega \mathrm{ReLU}(\mathrm{MLP}(u))}, \qquad
        u = \sum_Z c_Z\, m_Z\, \mathbf e_Z \ \ (\text{weighting="mass"}) \quad\text{or}\quad
        u = \sum_Z c_Z\, \mathbf e_Z \ \ (\text{"plain"}),

    with c_Z the fraction of atoms of element Z (the graph's ``composition``, (1, 118)), m_Z its mass (u)
    and e_Z the Z-th unit vector. The MLP starts like the e3nn model (``Linear(118, em_dim)`` + ReLU), then
    ``hidden`` SiLU layers; the output goes through the same ReLU and division by the maximum.

    Reads ``data.composition`` of a graph or batch (:func:`utils.graphs.structure_to_graph`), so it trains
    with :func:`utils.train.train` and predicts with :func:`utils.train.predict` like the e3nn model.

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> model = CompositionMLP(CompositionConfig(hidden=(32,)))
        >>> model(structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))).shape
        torch.Size([1, 51])
    """

    def __init__(self, config: CompositionConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        self.config = config = dataclasses.replace(config or CompositionConfig(), **overrides)
        from ase.data import atomic_masses

        masses = torch.as_tensor(atomic_masses[1:config.in_dim + 1], dtype=torch.get_default_dtype())  # (118,) u
        self.register_buffer("weights", masses if config.weighting == "mass" else torch.ones_like(masses))
        widths = [config.em_dim, *config.hidden]
        layers: list[nn.Module] = [nn.Linear(config.in_dim, config.em_dim), nn.ReLU()]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(w_in, w_out), nn.SiLU()]
        layers.append(nn.Linear(widths[-1], config.out_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, data) -> torch.Tensor:
        """(n_crystals, out_dim) non-negative DoS with maximum 1 per crystal."""
        u = data.composition * self.weights  # (n_crystals, 118)
        dos = torch.relu(self.mlp(u))  # (n_crystals, out_dim)
        return dos / dos.max(dim=1, keepdim=True).values.clamp_min(NORMALIZATION_EPS)


# ------------------------------------------------------------------------------------------ results
def load_baselines(path: str | Path = DEFAULT_OUT) -> dict:
    """Read a results file of :func:`run_baselines` (a dict; see there for the keys)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no baseline results at {path}: run `python scripts/baselines.py` first.")
    results = json.loads(path.read_text())
    if results.get("format_version") != FORMAT_VERSION:
        raise BaselineError(f"{path}: format {results.get('format_version')}, this code reads {FORMAT_VERSION}; "
                            "rerun `python scripts/baselines.py --restart`.")
    return results


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
                  restart: bool = False, log: Callable[[str], None] | None = print) -> dict:
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

    Returns:
        dict with ``format_version``, ``experiment`` (dataset version/sha256/split sizes, training budget,
        model configs), ``seeds``, ``methods`` (labels), ``runs`` (``"<method>/seed<s>"`` → method, seed,
        ``test`` metrics of :func:`utils.spectra.dos_metrics`, ``valid_mse``, ``epochs_run``, ``best_epoch``,
        ``n_params``, ``wall_s``) and ``summary`` (:func:`summarize`).
    """
    from .data import load_dataset

    dataset = dataset if dataset is not None else load_dataset()
    train_config = train_config or TrainConfig()
    model_config = dataclasses.replace(model_config or ModelConfig())
    composition_config = dataclasses.replace(composition_config or CompositionConfig(),
                                             out_dim=len(dataset.freq_cm1))
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    idx = {name: dataset.split(name) for name in ("train", "valid", "test")}
    if len(idx["train"]) == 0 or len(idx["valid"]) == 0 or len(idx["test"]) == 0:
        raise ValueError(f"the dataset needs train, valid and test materials, has {dataset.split_sizes()}")
    graphs = {name: graphs_from_dataset(dataset, ix, model_config.r_max) for name, ix in idx.items()}
    model_config.num_neighbors = average_num_neighbors(graphs["train"])
    model_config.out_dim = len(dataset.freq_cm1)

    experiment = _experiment_key(dataset, train_config, model_config, composition_config)
    out = Path(out) if out is not None else None
    results = dict(format_version=FORMAT_VERSION, experiment=experiment, seeds=[], methods={}, runs={}, summary={})
    if out is not None and out.exists() and not restart:
        old = load_baselines(out)
        if old.get("experiment") != experiment:
            diff = sorted(k for k in experiment if old.get("experiment", {}).get(k) != experiment[k])
            raise BaselineError(f"{out} holds runs of another experiment (differs in: {', '.join(diff)}); "
                                "pass restart=True (CLI: --restart) to discard them, or choose another `out`.")
        results = old
    results["seeds"] = sorted(set(results["seeds"]) | {int(s) for s in seeds})
    results["methods"] = {m: METHODS[m] for m in METHODS if m in set(methods) | {r["method"] for r in results["runs"].values()}}

    freq = np.asarray(dataset.freq_cm1, float)
    target = {name: np.stack([g.y[0].numpy() for g in graphs[name]]) for name in ("train", "valid", "test")}

    def record(key: str, run: dict) -> None:
        results["runs"][key] = run
        results["summary"] = summarize(results["runs"])
        if out is not None:
            atomic_write_json(results, out)
        if log:
            m = run["test"]
            log(f"{key:<22} test MSE {m['mse']:.4f}  MAE {m['mae']:.4f}  R² {m['r2']:.3f}  "
                f"W₁ {m['wasserstein_cm1']:.1f} cm⁻¹  ΔC_V {m['cv300_rel_error_pct']:.2f} %  "
                f"({run['epochs_run']} epochs, {run['wall_s']:.0f} s)")

    if "mean_dos" in methods and "mean_dos" not in results["runs"]:
        t0 = time.perf_counter()
        mean = mean_dos_baseline(target["train"])
        tile = lambda n: np.tile(mean, (n, 1))  # noqa: E731
        record("mean_dos", dict(method="mean_dos", seed=None, test=dos_metrics(freq, target["test"], tile(len(target["test"]))),
                                valid_mse=float(np.mean((tile(len(target["valid"])) - target["valid"]) ** 2)),
                                epochs_run=0, best_epoch=None, n_params=0, wall_s=time.perf_counter() - t0))
    for seed in seeds:
        for method in (m for m in METHODS if m in methods and m != "mean_dos"):
            key = f"{method}/seed{int(seed)}"
            if key in results["runs"]:
                continue
            t0 = time.perf_counter()
            model, history = _train_network(method, int(seed), graphs, train_config, model_config,
                                             composition_config)
            wall_s = time.perf_counter() - t0
            record(key, dict(method=method, seed=int(seed),
                             test=dos_metrics(freq, target["test"], predict(model, graphs["test"])),
                             valid_mse=float(min(history["valid_loss"])), epochs_run=len(history["epoch"]),
                             best_epoch=int(history["best_epoch"]), n_params=count_parameters(model),
                             wall_s=wall_s))
    return results
