"""Statistics of the claims: mean ± std over seeds, the 2σ verdict, Spearman's ρ with a bootstrap σ, a log-log slope.

Pure numpy/scipy. ``spearman`` is the one rank correlation of the series (notebook 06 ranks candidates with it,
experiment 5 correlates an ensemble's spread with its error): scipy's, ties given their average rank.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = ["mean_std", "verdict", "spearman", "bootstrap_std", "log_slope"]


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

    Taught in notebook 05 §4 (the 2σ rule of notebook 07 §1).
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


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation: the Pearson correlation of the ranks, ties given their average rank
    (``scipy.stats.spearmanr``); NaN if undefined (fewer than 2 values, or one side constant).

    Taught in notebook 06 §4 (ranking interface candidates); used by experiment 5 (notebook 07 §6).

    Example::

        >>> spearman([1, 2, 3, 4], [10, 20, 25, 100]), spearman([1, 2, 3], [3, 2, 1])
        (1.0, -1.0)
        >>> round(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 4)        # a tie: average ranks (1, 2.5, 2.5, 4)
        0.9487
    """
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"spearman needs two sequences of one length, got {len(x)} and {len(y)}.")
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def bootstrap_std(x: np.ndarray, y: np.ndarray, statistic: Callable, n_boot: int = 1000, seed: int = 0) -> float:
    """Standard deviation of ``statistic(x, y)`` over bootstrap resamples of the pairs (NaNs dropped)."""
    rng = np.random.default_rng(seed)
    values = [statistic(x[i], y[i]) for i in rng.integers(0, len(x), size=(n_boot, len(x)))]
    values = np.array([v for v in values if np.isfinite(v)])
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def log_slope(n_atoms: np.ndarray, seconds: np.ndarray) -> dict:
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

