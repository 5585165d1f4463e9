"""The slides' claims put to the test (notebook 07): what equivariance and mass weighting buy.

Five experiments, each with the same split, the same training budget for every model it compares and
≥ 3 seeds (mean ± std over seeds, ``ddof=1``). The direction of every claim is stated in advance
(:data:`CLAIMS`); a claim **holds** when the difference in the stated direction exceeds twice the combined
standard deviation, ``Δ > 2·√(σ_a² + σ_b²)`` (:func:`verdict`); ``reversed`` when it exceeds it the other way;
``inconclusive`` otherwise.

=====  =====================================================================================================
1      *Mass weighting generalizes to unseen elements.* Groups of elements are held out (chosen in code from the
       data, :func:`choose_holdout_groups`): every material containing one of them leaves training and
       validation. The e3nn model with ``node_input='mass'`` and ``'onehot'`` is scored on those materials and
       on the rest of the test split.
2      *No rotation augmentation needed.* :class:`NonEquivariantNetwork` (an MLP on the Cartesian edge vectors,
       similar size) trained with and without :class:`RandomRotation` augmentation vs the e3nn model: test
       error and the spread of predictions over random rotations of each test crystal (:func:`rotation_spread`;
       e3nn's is zero to float precision, ≤ :data:`ROTATION_TOL`).
3      *Works with limited data.* Learning curves (10, 25, 50, 100 % of the training set) of the e3nn model,
       its ``l_max = 0`` variant and :class:`utils.baselines.CompositionMLP`.
4      *Cheap compared with ab-initio labels.* Seconds per material to predict (graph + network, batched) vs
       to label (universal potential + phonopy: the packed ``seconds_total``), and the fitted scaling of the
       labelling cost with the number of atoms next to the slides' O(N⁴) for DFT (a scaling statement only).
5      *An ensemble knows what it does not know.* The spread of ≥ 5 seed models correlates with their error
       (Spearman ρ); inputs whose spread exceeds the 95th percentile of the validation set are flagged as
       out of distribution.
=====  =====================================================================================================

Runs that coincide are trained once (:func:`plan_runs`): the 100 % learning-curve point is the ordinary run,
an ensemble member is a seed run, the e3nn model of experiment 2 is that of experiment 1 without hold-out.
:func:`run_claims` writes ``data/experiments/claims_<budget>.json`` atomically after each run and skips the runs
already there. Budgets (:data:`BUDGETS`): ``tiny`` (minutes: tests, FAST re-runs) and ``full`` (40 epochs;
≈ 45 min with 2 workers on 2 CPU cores for ~1,100 training materials; 33 min measured on v1). Both use smaller
"fast" network sizes than the series' default model (``ModelConfig()``); the sizes are stored in the results file.

Example::

    >>> results = run_claims(budget="tiny")            # doctest: +SKIP
    >>> print(format_scorecard(results))              # doctest: +SKIP

Command line: ``python scripts/experiments.py --budget full`` (``make experiments``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn
from torch_geometric.utils import scatter

from ._env import progress_disabled
from ._io import atomic_write_json
from .baselines import CompositionConfig, CompositionMLP
from .model import NORMALIZATION_EPS, ModelConfig, PeriodicNetwork, count_parameters, smooth_cutoff
from .spectra import dos_metrics, wasserstein_cm1
from .train import TrainConfig, average_num_neighbors, predict, train

__all__ = [
    "CLAIMS", "MODELS", "BUDGETS", "ELEMENT_FAMILIES", "ROTATION_TOL", "DEFAULT_DIR", "ClaimsError", "Budget",
    "NonEquivariantConfig", "NonEquivariantNetwork", "RandomRotation", "random_rotations", "rotate_graph",
    "rotation_spread", "rotated_predictions", "choose_holdout_groups", "RunSpec", "plan_runs", "run_claims", "load_claims",
    "results_path", "mean_std", "verdict", "spearman", "summarize", "scorecard", "format_scorecard",
    "estimate_seconds", "calibrate",
]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "data" / "experiments"
FORMAT_VERSION = 1
ROTATION_TOL = 1e-5  # max spread (std over rotations, max over the grid) of an invariant model's output
OOD_PERCENTILE = 95.0
COST_RATIO = 100.0  # claim 4: prediction at least this many times cheaper per material than labelling

CLAIMS = {  # the direction of each claim, stated before any number is looked at
    1: "Mass-weighted one-hot inputs generalize to unseen elements better than plain one-hot: lower MSE "
       "and W₁ on materials whose elements were held out of training.",
    2: "An equivariant network needs no rotation augmentation: its predictions do not change under rotations "
       "(spread ≤ 1e-5) and its test error is lower than that of a non-equivariant network of similar size, "
       "trained with or without random-rotation augmentation.",
    3: "With limited data the e3nn model learns more from each material: lower test MSE than the l_max = 0 "
       "variant and the composition-only MLP at every training-set size.",
    4: f"Predicting a DoS is at least {COST_RATIO:.0f}× cheaper per material than labelling it (here: universal "
       "potential + phonopy; DFT scales as O(N⁴)).",
    5: "The spread of an ensemble tracks its error: Spearman ρ(spread, error) > 0 on the test set.",
}
MODELS = {  # key → label
    "e3nn": "e3nn, mass-weighted one-hot",
    "e3nn_onehot": "e3nn, plain one-hot",
    "e3nn_lmax0": "e3nn, l_max = 0",
    "composition": "composition-only MLP",
    "noneq": "non-equivariant MLP on edge vectors",
    "noneq_aug": "non-equivariant + rotation augmentation",
}
ELEMENT_FAMILIES = {  # key → (label, elements); hold-out groups are chosen from these in this order
    "heavy_p_block": ("heavy p-block", "In Sn Sb Te I Tl Pb Bi"),
    "tm_3d": ("3d transition metals", "Sc Ti V Cr Mn Fe Co Ni Cu Zn"),
    "tm_4d_5d": ("4d/5d transition metals", "Y Zr Nb Mo Tc Ru Rh Pd Ag Cd Hf Ta W Re Os Ir Pt Au Hg"),
    "lanthanides": ("lanthanides", "La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu"),
    "alkali_alkaline_earth": ("alkali and alkaline-earth metals", "Li Na K Rb Cs Be Mg Ca Sr Ba"),
    "light_anions": ("light anions", "B C N O F"),
}


class ClaimsError(ValueError):
    """A results file that does not match the requested experiment (data, budget), or an unusable setting."""


# ============================================================================ non-equivariant baseline
@dataclasses.dataclass
class NonEquivariantConfig:
    """Hyper-parameters of :class:`NonEquivariantNetwork` (JSON-friendly via ``to_dict``).

    hidden: width of the node features and of both MLPs; layers: message-passing steps; r_max: cutoff (Å,
    as the graphs'); num_neighbors: z (summed messages are divided by √z, as in the e3nn model);
    node_input: ``"mass"`` (the graph's ``x``) or ``"onehot"`` (``node_attr``).
    """
    in_dim: int = 118
    hidden: int = 64
    layers: int = 2
    out_dim: int = 51
    r_max: float = 4.0
    num_neighbors: float = 1.0
    node_input: str = "mass"

    def __post_init__(self) -> None:
        if self.node_input not in ("mass", "onehot"):
            raise ValueError(f"node_input must be 'mass' or 'onehot', got {self.node_input!r}.")
        if not self.num_neighbors > 0:
            raise ValueError(f"num_neighbors must be > 0, got {self.num_neighbors}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class NonEquivariantNetwork(nn.Module):
    r"""Message passing on the raw Cartesian edge vectors: *not* rotation invariant.

    .. math::
        m_{ij} = c(|r_{ij}|/r_\text{max})\,\mathrm{MLP}_m\big([h_j, h_i, \mathrm{MLP}_e(\vec r_{ij})]\big),\qquad
        h_i \leftarrow h_i + \mathrm{MLP}_u\Big(\Big[h_i, \tfrac{1}{\sqrt z}\textstyle\sum_j m_{ij}\Big]\Big)

    with h⁰ = ReLU(Linear(x)) (the mass-weighted one-hot, as the e3nn model), c the smooth cutoff of
    :func:`utils.model.smooth_cutoff`, r⃗_ij the graph's ``edge_vec`` and MLP_e an edge encoder of its three
    raw Cartesian components in Å (3 → hidden → hidden, SiLU); LayerNorm after the embedding and each update. (At
    initialization such a network is already nearly invariant on high-symmetry crystals: a smooth function
    summed over a symmetric neighbour shell loses its low-l, direction-dependent parts. How much it depends
    on the orientation after training is what experiment 2 measures.) Output: Linear → ReLU per atom,
    summed over each crystal's atoms, divided by the crystal's maximum — the e3nn model's output head. The
    three Cartesian components enter an ordinary MLP, so a rotated crystal gets a different prediction unless
    the weights learn otherwise (e.g. from rotation augmentation, :class:`RandomRotation`).

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> model = NonEquivariantNetwork(hidden=16, num_neighbors=18.0)
        >>> model(structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))).shape   # (n_crystals, out_dim)
        torch.Size([1, 51])
    """

    def __init__(self, config: NonEquivariantConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        self.config = config = dataclasses.replace(config or NonEquivariantConfig(), **overrides)
        h = config.hidden
        self.embed = nn.Linear(config.in_dim, h)
        self.edge_mlp = nn.Sequential(nn.Linear(3, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU())
        self.message = nn.ModuleList(
            nn.Sequential(nn.Linear(3 * h, h), nn.SiLU(), nn.Linear(h, h)) for _ in range(config.layers))
        self.update = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * h, h), nn.SiLU(), nn.Linear(h, h)) for _ in range(config.layers))
        self.norm = nn.ModuleList(nn.LayerNorm(h) for _ in range(config.layers + 1))
        self.out = nn.Linear(h, config.out_dim)

    def forward(self, data) -> torch.Tensor:
        """(n_crystals, out_dim) non-negative DoS with maximum 1 per crystal."""
        node_input = data.x if self.config.node_input == "mass" else data.node_attr  # (n, 118)
        h = self.norm[0](torch.relu(self.embed(node_input)))  # (n, hidden)
        n = h.shape[0]
        batch = getattr(data, "batch", None)
        batch = h.new_zeros(n, dtype=torch.long) if batch is None else batch  # (n,)
        src, dst = data.edge_index  # (n_edges,)
        vec = data.edge_vec  # (n_edges, 3), Å
        cutoff = smooth_cutoff(vec.norm(dim=1) / self.config.r_max)[:, None]  # (n_edges, 1)
        edge = self.edge_mlp(vec)  # (n_edges, hidden) from the 3 Cartesian components (Å)
        for message, update, norm in zip(self.message, self.update, self.norm[1:]):
            m = cutoff * message(torch.cat([h[src], h[dst], edge], dim=1))  # (n_edges, hidden)
            agg = scatter(m, dst, dim=0, dim_size=n, reduce="sum") / self.config.num_neighbors ** 0.5
            h = norm(h + update(torch.cat([h, agg], dim=1)))  # (n, hidden)
        per_atom = torch.relu(self.out(h))  # (n, out_dim)
        n_crystals = int(batch.max()) + 1 if n else 0
        dos = scatter(per_atom, batch, dim=0, dim_size=n_crystals, reduce="sum")  # (n_crystals, out_dim)
        return dos / dos.max(dim=1, keepdim=True).values.clamp_min(NORMALIZATION_EPS)


# ================================================================================ rotations
def random_rotations(n: int, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    """n rotation matrices drawn uniformly from SO(3) (Haar measure, via unit quaternions), shape (n, 3, 3).

    Example::

        >>> R = random_rotations(4, torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> bool(torch.allclose(R @ R.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(4, 3, 3)))
        True
        >>> bool(torch.allclose(torch.linalg.det(R), torch.ones(4, dtype=torch.float64)))
        True
    """
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    rotation = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], dim=1).reshape(n, 3, 3)
    return rotation.to(dtype)


def rotate_graph(graph, rotation: torch.Tensor):
    """A copy of ``graph`` with every Cartesian vector rotated: ``edge_vec``, ``pos``, ``lattice`` (rows) → v Rᵀ.

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> g = structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))
        >>> r = rotate_graph(g, random_rotations(1, torch.Generator().manual_seed(0))[0])
        >>> bool(torch.allclose(r.edge_vec.norm(dim=1), g.edge_vec.norm(dim=1), atol=1e-5))
        True
    """
    out = graph.clone()
    rotation = rotation.to(graph.edge_vec.dtype)
    out.edge_vec = graph.edge_vec @ rotation.T  # (n_edges, 3)
    if getattr(graph, "pos", None) is not None:
        out.pos = graph.pos @ rotation.T  # (n, 3)
    if getattr(graph, "lattice", None) is not None:
        out.lattice = graph.lattice @ rotation.T  # (1, 3, 3) rows are lattice vectors
    return out


class RandomRotation(nn.Module):
    """Rotation augmentation: in training mode, rotate ``edge_vec`` of every crystal of a batch by its own
    random rotation (drawn from torch's global generator, so seeded by ``utils.train.train``) at every step;
    in eval mode the wrapped model sees the data unchanged.

    Example::

        >>> model = RandomRotation(NonEquivariantNetwork(hidden=8))
        >>> model.config.hidden
        8
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def forward(self, data) -> torch.Tensor:
        if self.training:
            n_nodes = data.x.shape[0]
            batch = getattr(data, "batch", None)
            batch = data.x.new_zeros(n_nodes, dtype=torch.long) if batch is None else batch
            n_crystals = int(batch.max()) + 1 if n_nodes else 0
            rotations = random_rotations(n_crystals, dtype=data.edge_vec.dtype)  # (n_crystals, 3, 3)
            per_edge = rotations[batch[data.edge_index[1]]]  # (n_edges, 3, 3)
            data = data.clone()
            data.edge_vec = torch.einsum("eij,ej->ei", per_edge, data.edge_vec)  # R v, (n_edges, 3)
        return self.model(data)


@torch.no_grad()
def rotated_predictions(model: nn.Module, graphs: Sequence, n_rotations: int = 20, seed: int = 0,
                        batch_size: int = 64) -> np.ndarray:
    """Predictions for ``n_rotations`` random rotations (seeded) of each graph, shape (n_graphs, n_rotations,
    out_dim)."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for graph in graphs:
        rotations = random_rotations(n_rotations, generator, dtype=graph.edge_vec.dtype)  # (n_rot, 3, 3)
        out.append(predict(model, [rotate_graph(graph, r) for r in rotations], batch_size=batch_size))
    return np.stack(out) if out else np.zeros((0, n_rotations, model.config.out_dim))


def rotation_spread(model: nn.Module, graphs: Sequence, n_rotations: int = 20, seed: int = 0,
                    batch_size: int = 64) -> np.ndarray:
    """How much a model's prediction changes when each crystal is rotated, shape (n_graphs,), dimensionless.

    Each graph is rotated by ``n_rotations`` random rotations (:func:`random_rotations`, seeded); the
    spread of a crystal is the standard deviation (``ddof=0``) over the rotations, maximized over the grid
    (the DoS are max-normalized, so 1 is the scale of the output). An invariant model gives 0 up to float
    round-off (≈ 1e-7 in float32).

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> _ = torch.manual_seed(0)
        >>> g = structure_to_graph(bulk("ZnO", "wurtzite", a=3.25, c=5.21))
        >>> float(rotation_spread(PeriodicNetwork(em_dim=8, mul=4, num_neighbors=12.0), [g])[0]) < 1e-5
        True
    """
    pred = rotated_predictions(model, graphs, n_rotations, seed, batch_size).astype(np.float64)
    return pred.std(axis=1).max(axis=1)  # (n_graphs,)


# ============================================================================ hold-out groups
def choose_holdout_groups(element_sets: Sequence[Iterable[str]], split_codes: Sequence[int], n_groups: int = 3,
                          target_fraction: float = 0.15, min_materials: int = 3, max_fraction: float = 0.3,
                          families: dict | None = None) -> list[dict]:
    """Groups of elements to hold out of training, chosen from the data so that each hold-out set is non-trivial.

    For each family of :data:`ELEMENT_FAMILIES` (in order) the family's elements present in the data are added
    rarest first (ties: lighter first) until the materials containing any of them number at least
    ``max(min_materials, round(target_fraction · n))``; an element is skipped if adding it would hold out more
    than ``max_fraction · n`` materials or leave the validation split (code 1) or the training split (code 0)
    without materials. A family is used if it reaches ``min_materials``; the first ``n_groups`` such families are
    returned. Small data give fewer (or no) groups, never an error.

    Args:
        element_sets: per material, its element symbols.
        split_codes: per material, 0 train / 1 valid / 2 test.
    Returns:
        list of dicts: ``name``, ``label``, ``elements`` (held-out symbols), ``materials`` (indices into
        ``element_sets``, ascending), ``n_materials``.

    Example::

        >>> sets = [{"Na", "Cl"}, {"Bi"}, {"Sb", "Bi"}, {"Mg", "O"}, {"Fe"}, {"Cu"}, {"Na", "Br"}, {"K", "Cl"}]
        >>> [(g["name"], g["elements"], g["materials"]) for g in
        ...  choose_holdout_groups(sets, [0, 0, 2, 0, 1, 0, 2, 1], n_groups=1, min_materials=2)]
        [('heavy_p_block', ['Sb', 'Bi'], [1, 2])]
    """
    from ase.data import atomic_numbers   # symbol → Z

    families = ELEMENT_FAMILIES if families is None else families
    sets = [set(s) for s in element_sets]
    codes = np.asarray(split_codes)
    n = len(sets)
    if len(codes) != n:
        raise ValueError(f"{n} element sets but {len(codes)} split codes.")
    target = max(min_materials, int(round(target_fraction * n)))
    limit = max_fraction * n
    counts: dict[str, int] = {}
    for s in sets:
        for el in s:
            counts[el] = counts.get(el, 0) + 1
    groups = []
    for name, (label, members) in families.items():
        present = sorted((el for el in members.split() if el in counts), key=lambda el: (counts[el], atomic_numbers[el]))
        chosen: list[str] = []
        held: set[int] = set()
        for el in present:
            new = held | {i for i, s in enumerate(sets) if el in s}
            rest = np.setdiff1d(np.arange(n), sorted(new))
            if len(new) > limit or not (codes[rest] == 0).any() or not (codes[rest] == 1).any():
                continue
            chosen.append(el)
            held = new
            if len(held) >= target:
                break
        if len(held) >= min_materials:
            groups.append(dict(name=name, label=label, elements=sorted(chosen, key=atomic_numbers.get),
                               materials=sorted(held), n_materials=len(held)))
        if len(groups) == n_groups:
            break
    return groups


# ==================================================================================== statistics
def mean_std(values: Iterable[float]) -> dict:
    """Mean, standard deviation over seeds (``ddof=1``; 0 for one value) and count.

    Example::

        >>> mean_std([1.0, 2.0, 3.0])
        {'mean': 2.0, 'std': 1.0, 'n': 3}
    """
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return dict(mean=float("nan"), std=float("nan"), n=0)
    return dict(mean=float(v.mean()), std=float(v.std(ddof=1)) if v.size > 1 else 0.0, n=int(v.size))


def verdict(lower: dict, higher: dict) -> dict:
    """Test the claim "``lower`` has the lower mean" with the 2σ rule.

    ``Δ = higher.mean − lower.mean``, ``σ = √(σ_lower² + σ_higher²)``: ``held`` if Δ > 2σ, ``reversed`` if
    Δ < −2σ, ``inconclusive`` otherwise, ``untestable`` with fewer than 2 seeds on either side.

    Example::

        >>> verdict(dict(mean=1.0, std=0.1, n=3), dict(mean=2.0, std=0.1, n=3))["outcome"]
        'held'
        >>> verdict(dict(mean=1.0, std=0.4, n=3), dict(mean=1.5, std=0.4, n=3))["outcome"]
        'inconclusive'
    """
    diff = higher["mean"] - lower["mean"]
    sigma = math.hypot(lower["std"], higher["std"])
    if min(lower["n"], higher["n"]) < 2 or not np.isfinite(diff):
        outcome = "untestable"
    elif diff > 2 * sigma:
        outcome = "held"
    elif diff < -2 * sigma:
        outcome = "reversed"
    else:
        outcome = "inconclusive"
    return dict(diff=float(diff), sigma=float(sigma), z=float(diff / sigma) if sigma > 0 else None,
                outcome=outcome)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n−1 with ties given their average rank."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation: the Pearson correlation of the ranks (ties averaged); NaN if undefined.

    Example::

        >>> spearman([1, 2, 3, 4], [10, 20, 25, 100]), spearman([1, 2, 3], [3, 2, 1])
        (1.0, -1.0)
    """
    rx, ry = _ranks(x), _ranks(y)
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _bootstrap_std(x: np.ndarray, y: np.ndarray, statistic: Callable, n_boot: int = 1000, seed: int = 0) -> float:
    """Standard deviation of ``statistic(x, y)`` over bootstrap resamples of the pairs (NaNs dropped)."""
    rng = np.random.default_rng(seed)
    values = [statistic(x[i], y[i]) for i in rng.integers(0, len(x), size=(n_boot, len(x)))]
    values = np.array([v for v in values if np.isfinite(v)])
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


# ======================================================================================== budgets
@dataclasses.dataclass
class Budget:
    """Everything that fixes an experiment's cost: network sizes, training budget, seeds, repetitions.

    ``model`` is the e3nn network of every e3nn run (``node_input``/``lmax`` replaced per run); every trained
    model gets ``train`` (epochs, batch size, AdamW, decay; the seed replaced per run). ``fractions`` are the
    learning-curve points (1.0 = the ordinary run). ``n_groups`` hold-out groups are chosen with
    ``holdout`` (keyword arguments of :func:`choose_holdout_groups`). ``timing_repeats``: repetitions of the
    prediction timing (experiment 4).
    """
    name: str
    model: ModelConfig
    train: TrainConfig
    composition: CompositionConfig
    noneq: NonEquivariantConfig
    seeds: tuple[int, ...] = (0, 1, 2)
    ensemble_size: int = 5
    n_groups: int = 3
    holdout: dict = dataclasses.field(default_factory=lambda: dict(target_fraction=0.15, min_materials=3,
                                                                   max_fraction=0.3))
    fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    min_train: int = 2
    n_rotations: int = 20
    timing_repeats: int = 3
    note: str = ""

    def __post_init__(self) -> None:
        self.seeds = tuple(int(s) for s in self.seeds)
        self.fractions = tuple(float(f) for f in self.fractions)
        if len(self.seeds) < 2:
            raise ValueError("a budget needs ≥ 2 seeds (≥ 3 to report mean ± std as the claims require).")
        if self.ensemble_size < 2:
            raise ValueError("ensemble_size must be ≥ 2 (≥ 5 for experiment 5).")
        if 1.0 not in self.fractions or any(not 0 < f <= 1 for f in self.fractions):
            raise ValueError(f"fractions must lie in (0, 1] and include 1.0, got {self.fractions}.")

    @property
    def ensemble_seeds(self) -> tuple[int, ...]:
        """Seeds of the ensemble: the run seeds first, then further ones."""
        extra = [s for s in range(max(self.seeds) + 1, max(self.seeds) + 1 + self.ensemble_size) if s not in self.seeds]
        return tuple((list(self.seeds) + extra)[: self.ensemble_size])

    def to_dict(self) -> dict[str, Any]:
        d = dict(name=self.name, model=self.model.to_dict(),
                 train={k: v for k, v in self.train.to_dict().items() if k not in ("seed", "threads")},
                 composition=self.composition.to_dict(), noneq=self.noneq.to_dict(), seeds=list(self.seeds),
                 ensemble_seeds=list(self.ensemble_seeds), n_groups=self.n_groups, holdout=dict(self.holdout),
                 fractions=list(self.fractions), min_train=self.min_train, n_rotations=self.n_rotations,
                 timing_repeats=self.timing_repeats, note=self.note)
        return d


_FAST_NOTE = ("smaller than the series' default model (ModelConfig(): em_dim 64, mul 32, radial_neurons 100, "
              "≈ 2.5 M parameters) so that all runs fit the time budget; every model compared in a claim gets the "
              "same budget")
BUDGETS = {
    "tiny": Budget(
        name="tiny",
        model=ModelConfig(em_dim=16, mul=4, radial_neurons=16, num_basis=8),
        train=TrainConfig(epochs=10, batch_size=8, lr=5e-3, weight_decay=0.05, gamma=0.97),
        composition=CompositionConfig(em_dim=16, hidden=(32, 32)),
        noneq=NonEquivariantConfig(hidden=40),
        holdout=dict(target_fraction=0.15, min_materials=2, max_fraction=0.3),
        n_groups=2, timing_repeats=2,
        note="tiny budget (minutes): a smoke test of the pipeline, too short to train the networks well; "
             "network sizes " + _FAST_NOTE),
    "full": Budget(
        name="full",
        model=ModelConfig(em_dim=32, mul=16, radial_neurons=32),
        train=TrainConfig(epochs=40, batch_size=16, lr=5e-3, weight_decay=0.05, gamma=0.97),
        composition=CompositionConfig(em_dim=32, hidden=(128, 128)),
        noneq=NonEquivariantConfig(hidden=144),
        note="full budget: 40 epochs (on v1 the default model's validation loss stops improving after ~35 of "
             "100), ≈ 45 min with 2 worker processes on 2 CPU cores for ~1,100 training materials; network "
             "sizes " + _FAST_NOTE),
}


def _budget(budget: str | Budget) -> Budget:
    if isinstance(budget, Budget):
        return budget
    if budget not in BUDGETS:
        raise ClaimsError(f"unknown budget {budget!r}; choose from {list(BUDGETS)} or pass a Budget.")
    return BUDGETS[budget]


def results_path(budget: str = "full", folder: str | Path = DEFAULT_DIR) -> Path:
    """``data/experiments/claims_<budget>.json``."""
    return Path(folder) / f"claims_{budget}.json"


# ======================================================================================== the plan
@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run: a model (:data:`MODELS` key), its training data and a seed.

    data: ``"all"`` (the training split), ``"holdout:<group>"`` (without the group's materials) or
    ``"frac:<f>"`` (a random fraction f of the training split, drawn with the seed).
    """
    model: str
    data: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.model}/{self.data}/seed{self.seed}"


def _frac(f: float) -> str:
    return "all" if f == 1.0 else f"frac:{f:.2f}"


def plan_runs(budget: Budget, groups: Sequence[dict], experiments: Iterable[int] = (1, 2, 3, 4, 5)) -> dict:
    """The runs each experiment needs → ``{experiment: [RunSpec, ...]}``; a run shared by several experiments
    appears in each (train it once: :func:`run_claims` skips keys already done).

    Example::

        >>> plan = plan_runs(BUDGETS["tiny"], groups=[dict(name="g")])
        >>> [len(plan[e]) for e in (1, 2, 3, 4, 5)]
        [12, 9, 36, 0, 5]
        >>> len({spec.key for specs in plan.values() for spec in specs})   # runs actually trained
        53
    """
    experiments = sorted(set(experiments))
    unknown = [e for e in experiments if e not in CLAIMS]
    if unknown:
        raise ClaimsError(f"unknown experiment(s) {unknown}; choose from {list(CLAIMS)}.")
    seeds = budget.seeds
    plan: dict[int, list[RunSpec]] = {}
    for e in experiments:
        specs: list[RunSpec] = []
        if e == 1:
            for data in ["all"] + [f"holdout:{g['name']}" for g in groups]:
                specs += [RunSpec(m, data, s) for m in ("e3nn", "e3nn_onehot") for s in seeds]
        elif e == 2:
            specs += [RunSpec(m, "all", s) for m in ("e3nn", "noneq", "noneq_aug") for s in seeds]
        elif e == 3:
            specs += [RunSpec(m, _frac(f), s) for f in budget.fractions
                      for m in ("e3nn", "e3nn_lmax0", "composition") for s in seeds]
        elif e == 5:
            specs += [RunSpec("e3nn", "all", s) for s in budget.ensemble_seeds]
        plan[e] = specs
    return plan


# ======================================================================================= running
def _round(a, digits: int = 6):
    return np.round(np.asarray(a, dtype=float), digits).tolist()


def _build_model(model: str, budget: Budget, num_neighbors: float, out_dim: int) -> nn.Module:
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
            self.templates[model] = _build_model(model, *self.args)
        torch.manual_seed(seed)
        return _reinitialize(copy.deepcopy(self.templates[model]))


def _config_of(model: nn.Module) -> dict:
    return model.config.to_dict()


class _Context:
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
        from .train import graphs_from_dataset

        t0 = time.perf_counter()
        self.graphs = dict(zip(self.all_idx.tolist(),
                               graphs_from_dataset(dataset, self.all_idx, budget.model.r_max)))
        self.graph_seconds = time.perf_counter() - t0
        self.num_neighbors = average_num_neighbors([self.graphs[i] for i in idx["train"]])
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


def _evaluate(ctx: _Context, model, indices, keep_predictions: bool) -> dict:
    graphs = [ctx.graphs[int(i)] for i in indices]
    target = ctx.target(indices)
    pred = predict(model, graphs)
    out = dict(metrics=dos_metrics(ctx.freq, target, pred), ids=[str(ctx.dataset.ids[int(i)]) for i in indices],
               mse_per_material=_round(np.mean((pred - target) ** 2, axis=1), 8),
               w1_per_material=_round(np.atleast_1d(wasserstein_cm1(ctx.freq, target, pred)), 4))
    if keep_predictions:
        out["prediction"] = _round(pred, 6)
    return out


_WORKER_CTX: "_Context | None" = None


def _init_claims_worker(args: tuple) -> None:
    global _WORKER_CTX
    import warnings
    warnings.filterwarnings("ignore")
    _WORKER_CTX = _Context(*args)


def _execute_in_worker(spec: "RunSpec", threads: int | None) -> dict:
    return _execute(_WORKER_CTX, spec, threads)


def _execute_all(ctx: "_Context", todo: list, threads: int | None, workers: int, ctx_args: tuple):
    """Yield (spec, record) as runs finish: in this process, or in `workers` spawned processes (each rebuilds
    the same context: graphs, splits and hold-out groups are deterministic)."""
    if workers <= 1 or len(todo) <= 1:
        for spec in todo:
            yield spec, _execute(ctx, spec, threads)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_claims_worker,
                             initargs=(ctx_args,)) as pool:
        futures = {pool.submit(_execute_in_worker, spec, threads): spec for spec in todo}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _execute(ctx: _Context, spec: RunSpec, threads: int | None) -> dict:
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
        evaluation["alloys"] = dict(prediction=_round(predict(model, ctx.alloy_graphs), 6))
    record = dict(model=spec.model, data=spec.data, seed=spec.seed, config=_config_of(model),
                  n_params=count_parameters(model), n_train=int(len(train_idx)), n_valid=int(len(valid_idx)),
                  train_ids=[str(ctx.dataset.ids[int(i)]) for i in train_idx] if spec.data != "all" else "train split",
                  epochs_run=len(history["epoch"]), best_epoch=int(history.get("best_epoch", -1)),
                  valid_mse=float(min(history["valid_loss"])),
                  history=dict(train_loss=_round(history["train_loss"], 6), valid_loss=_round(history["valid_loss"], 6)),
                  evaluation=evaluation)
    if spec.data == "all" and spec.model in ("e3nn", "noneq", "noneq_aug"):
        test = ctx.idx["test"]
        rotated = rotated_predictions(model, [ctx.graphs[int(i)] for i in test], budget.n_rotations, seed=0)
        spread = rotated.astype(np.float64).std(axis=1).max(axis=1)  # (n_test,)
        rotated_mse = np.mean((rotated - ctx.target(test)[:, None, :]) ** 2, axis=2)  # (n_test, n_rot)
        record["rotation_spread"] = dict(n_rotations=budget.n_rotations, per_material=_round(spread, 10),
                                         mean=float(spread.mean()), max=float(spread.max()),
                                         rotated_test_mse=float(rotated_mse.mean()))
    record["timings"] = dict(train_s=round(train_s, 3), eval_s=round(time.perf_counter() - t0, 3),
                             s_per_epoch=round(train_s / max(len(history["epoch"]), 1), 4))
    return record


def _measure_cost(ctx: _Context, threads: int | None) -> dict:
    """Experiment 4: seconds per material to build graphs and predict, batched, vs the labelling cost."""
    from .train import graphs_from_dataset

    if threads:
        torch.set_num_threads(threads)
    dataset, budget = ctx.dataset, ctx.budget
    indices = ctx.all_idx
    models = dict(experiments=_build_model("e3nn", budget, ctx.num_neighbors, len(ctx.freq)),
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
                label_s={k: _round(v, 3) for k, v in label.items()}, n_atoms=n_atoms.astype(int).tolist(),
                labeller=dataset.meta.get("labeller"), cpu=platform.processor() or platform.machine(),
                cpu_count=os.cpu_count())


def _experiment_key(dataset, budget: Budget, limit, alloys) -> dict:
    key = dict(dataset=dict(version=dataset.version, sha256=dataset.sha256, n=len(dataset),
                            split_sizes=dataset.split_sizes(), limit=dict(limit) if limit else None),
               budget=budget.to_dict())
    key["alloys"] = None if alloys is None else dict(version=alloys.version, sha256=alloys.sha256, n=len(alloys))
    return key


def load_claims(path: str | Path | None = None) -> dict:
    """Read a results file of :func:`run_claims`. ``path=None``: ``claims_full.json`` if it exists, else
    ``claims_tiny.json`` (in ``data/experiments``)."""
    if path is None:
        full, tiny = results_path("full"), results_path("tiny")
        path = full if full.exists() else tiny
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no claim results at {path}: run `python scripts/experiments.py --budget tiny` "
                                "(minutes) or `make experiments` (≈ 45 min) first.")
    results = json.loads(path.read_text())
    if results.get("format_version") != FORMAT_VERSION:
        raise ClaimsError(f"{path}: format {results.get('format_version')}, this code reads {FORMAT_VERSION}; "
                          "rerun `python scripts/experiments.py --restart`.")
    return results


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
    from .data import DataError, load_alloys, load_dataset

    budget = _budget(budget)
    dataset = dataset if dataset is not None else load_dataset()
    if isinstance(alloys, str) and alloys == "auto":
        try:
            alloys = load_alloys(dataset.version) if getattr(dataset, "source", None) == "embedded" else None
        except (DataError, OSError):
            alloys = None
    experiments = sorted(set(only or CLAIMS))
    ctx = _Context(dataset, budget, limit, alloys)
    key = _experiment_key(dataset, budget, limit, alloys)
    out = results_path(budget.name) if isinstance(out, str) and out == "auto" else (Path(out) if out else None)
    results = dict(format_version=FORMAT_VERSION, experiment=key, claims={str(k): v for k, v in CLAIMS.items()},
                   models=dict(MODELS), groups=[], sets={}, runs={}, measurements={}, summaries={})
    if out is not None and out.exists() and not restart:
        old = load_claims(out)
        if old.get("experiment") != key:
            diff = sorted(k for k in key if old.get("experiment", {}).get(k) != key[k])
            raise ClaimsError(f"{out} holds runs of another experiment (differs in: {', '.join(diff)}); pass "
                              "restart=True (CLI: --restart) to discard them, or choose another `out`.")
        results = old
    results["groups"] = ctx.groups
    results["num_neighbors"] = ctx.num_neighbors
    results["sets"] = {name: dict(ids=[str(dataset.ids[int(i)]) for i in ctx.idx[name]],
                                  target=_round(ctx.target(ctx.idx[name]), 6)) for name in ("valid", "test")}
    if ctx.alloy_graphs:
        results["sets"]["alloys"] = dict(ids=[str(i) for i in alloys.ids],
                                         target=_round(np.stack([g.y[0].numpy() for g in ctx.alloy_graphs]), 6))
    results["freq_cm1"] = ctx.freq.tolist()

    def write() -> None:
        results["summaries"] = summarize(results)
        if out is not None:
            atomic_write_json(results, out)

    plan = plan_runs(budget, ctx.groups, experiments)
    todo = list(dict.fromkeys(spec for specs in plan.values() for spec in specs if spec.key not in results["runs"]))
    from tqdm.auto import tqdm

    disabled = not progress or progress_disabled()
    bar = tqdm(total=len(todo), desc="claims runs", unit="run", disable=disabled)
    say = (lambda s: tqdm.write(s)) if not disabled else log
    t_start = time.perf_counter()
    for k, (spec, record) in enumerate(_execute_all(ctx, todo, threads, workers,
                                                    (dataset, budget, limit, alloys)), 1):
        results["runs"][spec.key] = record
        write()
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
    write()
    return results


# ======================================================================================= summaries
def _runs(results: dict, model: str, data: str, seeds: Iterable[int]) -> list[dict]:
    return [results["runs"][k] for k in (RunSpec(model, data, s).key for s in seeds) if k in results["runs"]]


def _stat(runs: list[dict], evaluation: str, metric: str) -> dict:
    return mean_std(r["evaluation"][evaluation]["metrics"][metric] for r in runs)


def _complete(results: dict, experiment: int) -> bool:
    budget = _budget_from(results)
    plan = plan_runs(budget, results["groups"], [experiment])[experiment]
    return all(spec.key in results["runs"] for spec in plan)


def _budget_from(results: dict) -> Budget:
    b = results["experiment"]["budget"]
    return Budget(name=b["name"], model=ModelConfig.from_dict(b["model"]), train=TrainConfig(**b["train"]),
                  composition=CompositionConfig(**b["composition"]), noneq=NonEquivariantConfig(**b["noneq"]),
                  seeds=tuple(b["seeds"]), ensemble_size=len(b["ensemble_seeds"]), n_groups=b["n_groups"],
                  holdout=b["holdout"], fractions=tuple(b["fractions"]), min_train=b["min_train"],
                  n_rotations=b["n_rotations"], timing_repeats=b["timing_repeats"], note=b["note"])


def summarize_unseen_elements(results: dict) -> dict:
    """Experiment 1: per hold-out group (and ``none``: the ordinary runs), mass vs one-hot on the held-out
    materials and on the (rest of the) test split, MSE and W₁, with the verdict of "mass lower"."""
    seeds = results["experiment"]["budget"]["seeds"]
    rows = []
    for g in [dict(name="none", label="no hold-out", elements=[], n_materials=0)] + results["groups"]:
        data = "all" if g["name"] == "none" else f"holdout:{g['name']}"
        row = dict(group=g["name"], label=g["label"], elements=g["elements"], n_heldout=g["n_materials"])
        for evaluation in (["test"] if data == "all" else ["heldout", "test"]):
            for metric in ("mse", "wasserstein_cm1"):
                mass = _stat(_runs(results, "e3nn", data, seeds), evaluation, metric)
                onehot = _stat(_runs(results, "e3nn_onehot", data, seeds), evaluation, metric)
                row[f"{evaluation}/{metric}"] = dict(mass=mass, onehot=onehot, verdict=verdict(mass, onehot))
        rows.append(row)
    return dict(rows=rows)


def summarize_rotations(results: dict) -> dict:
    """Experiment 2: test error and rotation spread of e3nn, non-equivariant, non-equivariant + augmentation."""
    seeds = results["experiment"]["budget"]["seeds"]
    runs = {m: _runs(results, m, "all", seeds) for m in ("e3nn", "noneq", "noneq_aug")}
    out = dict(models={})
    for m, rs in runs.items():
        out["models"][m] = dict(
            n_params=rs[0]["n_params"] if rs else None,
            mse=_stat(rs, "test", "mse"), wasserstein_cm1=_stat(rs, "test", "wasserstein_cm1"),
            spread_mean=mean_std(r["rotation_spread"]["mean"] for r in rs),
            rotated_mse=mean_std(r["rotation_spread"]["rotated_test_mse"] for r in rs),
            spread_max=float(max(r["rotation_spread"]["max"] for r in rs)) if rs else float("nan"))
    s = out["models"]
    out["e3nn_invariant"] = bool(s["e3nn"]["spread_max"] <= ROTATION_TOL)
    out["verdicts"] = {
        "e3nn_vs_noneq/mse": verdict(s["e3nn"]["mse"], s["noneq"]["mse"]),
        "e3nn_vs_noneq_aug/mse": verdict(s["e3nn"]["mse"], s["noneq_aug"]["mse"]),
        "e3nn_vs_noneq/wasserstein_cm1": verdict(s["e3nn"]["wasserstein_cm1"], s["noneq"]["wasserstein_cm1"]),
        "e3nn_vs_noneq_aug/wasserstein_cm1": verdict(s["e3nn"]["wasserstein_cm1"],
                                                     s["noneq_aug"]["wasserstein_cm1"]),
        "e3nn_vs_noneq/rotated_mse": verdict(s["e3nn"]["rotated_mse"], s["noneq"]["rotated_mse"]),
        "e3nn_vs_noneq_aug/rotated_mse": verdict(s["e3nn"]["rotated_mse"], s["noneq_aug"]["rotated_mse"]),
        "e3nn_vs_noneq/spread": verdict(s["e3nn"]["spread_mean"], s["noneq"]["spread_mean"]),
        "e3nn_vs_noneq_aug/spread": verdict(s["e3nn"]["spread_mean"], s["noneq_aug"]["spread_mean"]),
        "aug_reduces_spread": verdict(s["noneq_aug"]["spread_mean"], s["noneq"]["spread_mean"]),
    }
    return out


def summarize_learning_curves(results: dict) -> dict:
    """Experiment 3: test MSE and W₁ vs training-set size per model, verdicts "e3nn lower" per size."""
    b = results["experiment"]["budget"]
    points = []
    for f in b["fractions"]:
        data = _frac(float(f))
        point = dict(fraction=float(f), models={})
        for m in ("e3nn", "e3nn_lmax0", "composition"):
            rs = _runs(results, m, data, b["seeds"])
            point["models"][m] = dict(n_train=mean_std(r["n_train"] for r in rs)["mean"],
                                      mse=_stat(rs, "test", "mse"), wasserstein_cm1=_stat(rs, "test", "wasserstein_cm1"))
        pm = point["models"]
        point["n_train"] = pm["e3nn"]["n_train"]
        point["verdicts"] = {f"e3nn_vs_{m}/mse": verdict(pm["e3nn"]["mse"], pm[m]["mse"])
                             for m in ("e3nn_lmax0", "composition")}
        points.append(point)
    return dict(points=points)


def _log_slope(n_atoms: np.ndarray, seconds: np.ndarray) -> dict:
    """Least-squares slope p of log(seconds) = a + p·log(N), with its standard error."""
    ok = (n_atoms > 0) & (seconds > 0)
    x, y = np.log(n_atoms[ok]), np.log(seconds[ok])
    if len(np.unique(x)) < 2:
        return dict(slope=float("nan"), stderr=float("nan"), n=int(ok.sum()))
    A = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = max(len(x) - 2, 1)
    cov = (resid @ resid / dof) * np.linalg.inv(A.T @ A)
    return dict(slope=float(coef[1]), intercept=float(coef[0]), stderr=float(np.sqrt(cov[1, 1])), n=int(len(x)))


def summarize_cost(results: dict) -> dict:
    """Experiment 4: seconds per material to predict (mean ± std over repeats) vs to label (median, quartiles),
    their ratio, and the fitted exponent p of labelling cost ∝ N^p (N atoms per cell) next to DFT's 4.

    Labels made on CPU only (one single-threaded worker each), so that both sides ran on CPU cores; the median
    of GPU-made labels (one worker of several sharing a GPU) is reported beside it as ``label_s_gpu``."""
    c = results["measurements"]["cost"]
    label_all = np.asarray(c["label_s"]["seconds_total"], float)
    device = np.asarray(c.get("label_device", ["cpu"] * len(label_all)), str)
    on_cpu = device == "cpu"   # compare like with like: CPU labels against CPU predictions
    label, n_atoms = label_all[on_cpu], np.asarray(c["n_atoms"], float)[on_cpu]
    graph = mean_std(c["graph_s_per_material"])
    predict_s = {k: mean_std(np.asarray(v) + np.asarray(c["graph_s_per_material"])) for k, v in
                 c["predict_s_per_material"].items()}
    worst = max(p["mean"] + 2 * p["std"] for p in predict_s.values())  # the slower model, pessimistic
    median = float(np.median(label))
    ratio = median / worst
    gpu = label_all[device == "cuda"]
    return dict(label_s=dict(median=median, q25=float(np.percentile(label, 25)), q75=float(np.percentile(label, 75)),
                             mean=float(label.mean()), total=float(label.sum()), n=int(on_cpu.sum()), device="cpu"),
                label_s_gpu=dict(median=float(np.median(gpu)), n=int(len(gpu))) if len(gpu) else None,
                graph_s=graph, predict_s=predict_s, ratio_median_label_to_predict=float(ratio),
                claim_ratio=COST_RATIO, outcome="held" if ratio >= COST_RATIO else "not held",
                label_scaling=_log_slope(n_atoms, label), dft_exponent=4, threads=c["threads"],
                n_materials=c["n_materials"])


def summarize_uncertainty(results: dict) -> dict:
    """Experiment 5: ensemble of the e3nn seed runs: per-material spread and error, Spearman ρ with a bootstrap
    σ, the 95th-percentile threshold of the validation spreads and the flagged (out-of-distribution) inputs.

    spread = mean over the grid of the standard deviation over members (``ddof=1``); error = MSE of the
    ensemble mean against the target (both dimensionless, the DoS are max-normalized).
    """
    b = results["experiment"]["budget"]
    members = _runs(results, "e3nn", "all", b["ensemble_seeds"])
    out = dict(n_members=len(members), sets={})

    def spread_error(name):
        if name == "alloys":
            preds = np.stack([r["evaluation"]["alloys"]["prediction"] for r in members if "alloys" in r["evaluation"]])
        else:
            preds = np.stack([r["evaluation"][name]["prediction"] for r in members])  # (members, n, grid)
        target = np.asarray(results["sets"][name]["target"], float)
        mean = preds.mean(axis=0)
        return preds.std(axis=0, ddof=1).mean(axis=1), np.mean((mean - target) ** 2, axis=1)

    valid_spread, valid_error = spread_error("valid")
    threshold = float(np.percentile(valid_spread, OOD_PERCENTILE))
    out["threshold"] = threshold
    names = ["valid", "test"] + (["alloys"] if "alloys" in results["sets"] and members
                                 and all("alloys" in r["evaluation"] for r in members) else [])
    for name in names:
        spread, error = spread_error(name)
        rho = spearman(spread, error)
        out["sets"][name] = dict(ids=results["sets"][name]["ids"], spread=_round(spread, 8), error=_round(error, 8),
                                 spearman=rho, spearman_std=_bootstrap_std(spread, error, spearman),
                                 flagged=[i for i, s in zip(results["sets"][name]["ids"], spread) if s > threshold])
    rho, sigma = out["sets"]["test"]["spearman"], out["sets"]["test"]["spearman_std"]
    outcome = ("untestable" if not (np.isfinite(rho) and np.isfinite(sigma)) else "held" if rho > 2 * sigma
               else "reversed" if rho < -2 * sigma else "inconclusive")
    out["verdict"] = dict(diff=float(rho), sigma=float(sigma), z=float(rho / sigma) if sigma > 0 else None,
                          outcome=outcome)
    return out


_SUMMARIZERS = {1: summarize_unseen_elements, 2: summarize_rotations, 3: summarize_learning_curves,
                4: summarize_cost, 5: summarize_uncertainty}


def summarize(results: dict) -> dict:
    """Summaries of the complete experiments (``{"1": ..., "5": ...}``); incomplete ones are left out."""
    out = {}
    for e, fn in _SUMMARIZERS.items():
        done = "cost" in results.get("measurements", {}) if e == 4 else _complete(results, e)
        if done:
            out[str(e)] = fn(results)
    return out


def scorecard(results: dict) -> list[dict]:
    """One row per tested statement of :data:`CLAIMS`: claim number, what was compared, the numbers, the outcome.

    Comparisons shown for context only (claim 1 on the rest of the test split, the rotation spreads of the
    non-equivariant models) are in the summaries but not here."""
    s = summarize(results)
    rows = []
    if "1" in s:  # the claim is about held-out elements; the test-split comparisons are context, not counted
        for row in s["1"]["rows"][1:]:
            for metric in ("mse", "wasserstein_cm1"):
                v = row[f"heldout/{metric}"]
                rows.append(dict(claim=1, test=f"{row['group']}: held-out {metric}: mass < one-hot",
                                 a=v["mass"]["mean"], b=v["onehot"]["mean"], **v["verdict"]))
    if "2" in s:  # invariance + test error vs both non-equivariant models; spread comparisons are context
        rows.append(dict(claim=2, test="e3nn rotation spread ≤ 1e-5", a=s["2"]["models"]["e3nn"]["spread_max"],
                         b=ROTATION_TOL, outcome="held" if s["2"]["e3nn_invariant"] else "not held"))
        for key, v in s["2"]["verdicts"].items():
            if key.startswith("e3nn_vs") and "spread" not in key:
                rows.append(dict(claim=2, test=key.replace("/", ": ") + " (e3nn lower)", **v))
    if "3" in s:
        for p in s["3"]["points"]:
            for key, v in p["verdicts"].items():
                rows.append(dict(claim=3, test=f"{p['fraction']:.0%} of train: " + key.replace("/", ": ") + " (e3nn lower)",
                                 **v))
    if "4" in s:
        c = s["4"]
        rows.append(dict(claim=4, test=f"label / predict ≥ {COST_RATIO:.0f}", a=c["ratio_median_label_to_predict"],
                         b=COST_RATIO, outcome=c["outcome"]))
    if "5" in s:
        rows.append(dict(claim=5, test="Spearman ρ(spread, error) > 0 on test", a=s["5"]["sets"]["test"]["spearman"],
                         b=s["5"]["sets"]["test"]["spearman_std"], **s["5"]["verdict"]))
    return rows


def format_scorecard(results: dict) -> str:
    """Plain-text scorecard: per claim, how many of its tests held, and each test's outcome."""
    rows = scorecard(results)
    lines = []
    for claim in sorted({r["claim"] for r in rows}):
        mine = [r for r in rows if r["claim"] == claim]
        held = sum(r["outcome"] == "held" for r in mine)
        lines.append(f"claim {claim}: {held}/{len(mine)} tests held")
        for r in mine:
            numbers = f"Δ = {r['diff']:+.3g}, 2σ = {2 * r['sigma']:.3g}" if "diff" in r else \
                f"{r['a']:.3g} vs {r['b']:.3g}"
            lines.append(f"    {r['test']:<56} {numbers:<32} {r['outcome']}")
    return "\n".join(lines)


# ======================================================================================== estimate
def estimate_seconds(budget: str | Budget, n_train: int, groups_fraction: float = 0.15,
                     seconds_per_material_epoch: dict | None = None) -> dict:
    """Rough wall time of a budget for a training split of ``n_train`` materials, seconds.

    ``seconds_per_material_epoch`` (model key → s) defaults to values measured on 2 shared CPU cores for the
    ``full`` sizes (e3nn 3.7 ms, l_max = 0 2.0 ms, non-equivariant 1.5 ms, composition 0.1 ms per material
    and epoch); pass your own from ``scripts/experiments.py --dry-run``.
    """
    budget = _budget(budget)
    c = dict(e3nn=3.7e-3, e3nn_onehot=3.7e-3, e3nn_lmax0=2.0e-3, noneq=1.5e-3, noneq_aug=1.7e-3, composition=1e-4)
    c.update(seconds_per_material_epoch or {})
    groups = [dict(name=f"g{i}") for i in range(budget.n_groups)]
    specs = {spec for specs in plan_runs(budget, groups).values() for spec in specs}
    total = 0.0
    for spec in specs:
        n = n_train
        if spec.data.startswith("holdout"):
            n = int(n_train * (1 - groups_fraction))
        elif spec.data.startswith("frac"):
            n = max(budget.min_train, math.ceil(float(spec.data.split(":")[1]) * n_train))
        total += n * budget.train.epochs * c[spec.model] * 1.15  # + validation passes
    return dict(n_runs=len(specs), seconds=total)


def calibrate(dataset=None, budget: str | Budget = "full", epochs: int = 2, threads: int | None = 1,
              limit: dict | None = None) -> dict:
    """Seconds per training material and epoch of each kind of model of ``budget`` on this machine (for
    :func:`estimate_seconds`): trains each for ``epochs`` epochs on the training split (validation included)."""
    from .data import load_dataset

    budget = _budget(budget)
    dataset = dataset if dataset is not None else load_dataset()
    ctx = _Context(dataset, budget, limit, None)
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
