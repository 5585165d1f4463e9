"""What the claims of notebook 07 are and what testing them costs: the claims, the models, hold-out groups, budgets
and the plan of training runs (no training here; ``utils.claims.runner`` runs the plan).

The direction of every claim is stated in advance (:data:`CLAIMS`). Runs that coincide are trained once
(:func:`plan_runs`): the 100 % learning-curve point is the ordinary run, an ensemble member is a seed run, the e3nn
model of experiment 2 is that of experiment 1 without hold-out. Budgets (:data:`BUDGETS`): ``tiny`` (minutes:
tests, FAST re-runs) and ``full`` (40 epochs; ≈ 45 min with 2 workers on 2 CPU cores for ~1,100 training
materials). Both use smaller "fast" network sizes than the series' default model; the sizes are stored in the
results file.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..elements import atomic_number
from ..model import ModelConfig
from ..train import TrainConfig
from .models import CompositionConfig, NonEquivariantConfig

__all__ = [
    "CLAIMS", "MODELS", "ELEMENT_FAMILIES", "ROTATION_TOL", "OOD_PERCENTILE", "COST_RATIO", "DEFAULT_DIR",
    "FORMAT_VERSION", "ClaimsError", "Budget", "BUDGETS", "get_budget", "budget_from_dict", "results_path",
    "RunSpec", "fraction_key", "plan_runs", "choose_holdout_groups", "estimate_seconds",
]

ROOT = Path(__file__).resolve().parents[2]
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
        present = sorted((el for el in members.split() if el in counts), key=lambda el: (counts[el], atomic_number(el)))
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
            groups.append(dict(name=name, label=label, elements=sorted(chosen, key=atomic_number),
                               materials=sorted(held), n_materials=len(held)))
        if len(groups) == n_groups:
            break
    return groups


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


def get_budget(budget: str | Budget) -> Budget:
    """A :class:`Budget` by name (:data:`BUDGETS`), or the one given; :class:`ClaimsError` for an unknown name."""
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


def fraction_key(f: float) -> str:
    """The run-data name of a learning-curve point: ``"all"`` for 1.0, else ``"frac:<f>"``."""
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
            specs += [RunSpec(m, fraction_key(f), s) for f in budget.fractions
                      for m in ("e3nn", "e3nn_lmax0", "composition") for s in seeds]
        elif e == 5:
            specs += [RunSpec("e3nn", "all", s) for s in budget.ensemble_seeds]
        plan[e] = specs
    return plan


def budget_from_dict(b: dict) -> Budget:
    """The :class:`Budget` stored in a results file (``results["experiment"]["budget"]``, :meth:`Budget.to_dict`)."""
    return Budget(name=b["name"], model=ModelConfig.from_dict(b["model"]), train=TrainConfig(**b["train"]),
                  composition=CompositionConfig(**b["composition"]), noneq=NonEquivariantConfig(**b["noneq"]),
                  seeds=tuple(b["seeds"]), ensemble_size=len(b["ensemble_seeds"]), n_groups=b["n_groups"],
                  holdout=b["holdout"], fractions=tuple(b["fractions"]), min_train=b["min_train"],
                  n_rotations=b["n_rotations"], timing_repeats=b["timing_repeats"], note=b["note"])


# ======================================================================================== estimate
def estimate_seconds(budget: str | Budget, n_train: int, groups_fraction: float = 0.15,
                     seconds_per_material_epoch: dict | None = None) -> dict:
    """Rough wall time of a budget for a training split of ``n_train`` materials, seconds.

    ``seconds_per_material_epoch`` (model key → s) defaults to values measured on 2 shared CPU cores for the
    ``full`` sizes (e3nn 3.7 ms, l_max = 0 2.0 ms, non-equivariant 1.5 ms, composition 0.1 ms per material
    and epoch); pass your own from ``python -m utils.claims experiments --dry-run``.
    """
    budget = get_budget(budget)
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

