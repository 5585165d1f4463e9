r"""The contract every part of ``utils`` shares about a phonon DoS: its grids, broadening widths, units and metrics.

Defined here once, imported by the reader (``utils.data``), the labeller (``utils.datagen.label``), training
(``utils.train``), prediction (``utils.predict``), the baselines and the claims runner. It imports only numpy and
``utils.thermo`` (pure physics: the constants, the THz → cm⁻¹ conversion, the heat capacity), so any part may
import it without a loop.

Grids (read-only arrays):

* ``FREQ_CM1`` = ``np.linspace(0, 1000, 51)`` cm⁻¹, step 20 cm⁻¹: the target of the network, a max-normalized DoS
  (the original tutorial's grid), Gaussian-broadened with σ = ``COARSE_SIGMA_CM1`` = 20 cm⁻¹;
* ``FINE_FREQ_CM1`` = 0, 2, …, 2000 cm⁻¹ (1001 points): the labels' fine DoS and per-element DoS, integrating to
  3N modes per cell, broadened with σ = ``FINE_SIGMA_CM1`` = 5 cm⁻¹.

Units: ``THZ_TO_CM1`` (1 THz = 10¹² Hz / c = 33.35641 cm⁻¹, phonopy's frequency unit; CODATA 2018 c), and
``thz_to_cm1`` (both from ``utils.thermo``).

Metrics of a DoS (any normalization unless stated; rows of a 2-D array are DoS of different materials):

* :func:`wasserstein_cm1` — the earth mover's distance W₁ = ∫ |CDF_a − CDF_b| dω (cm⁻¹) of the unit-area shapes;
* :func:`mean_frequency` — the first moment ω̄ = ∫ ω g dω / ∫ g dω (cm⁻¹), taught in notebook 03;
* :func:`heat_capacity_rel_error` — |C_V^pred(T) − C_V^label(T)| / C_V^label(T), per material;
* :func:`dos_metrics` — the set stored with every checkpoint and results file (MSE, MAE, R², W₁, ΔC_V(300 K)).

Example:
    >>> import numpy as np
    >>> a = np.exp(-((FREQ_CM1 - 300) / 50) ** 2); b = np.exp(-((FREQ_CM1 - 320) / 50) ** 2)
    >>> round(wasserstein_cm1(FREQ_CM1, a, b), 1), round(mean_frequency(FREQ_CM1, a), 1)
    (20.0, 300.0)
"""
from __future__ import annotations

import numpy as np

from .thermo import COARSE_SIGMA_CM1, THZ_TO_CM1, heat_capacity, thz_to_cm1

__all__ = [
    "FREQ_CM1", "FINE_FREQ_CM1", "COARSE_SIGMA_CM1", "FINE_SIGMA_CM1", "THZ_TO_CM1", "thz_to_cm1",
    "wasserstein_cm1", "mean_frequency", "heat_capacity_rel_error", "dos_metrics",
]

FREQ_CM1 = np.linspace(0.0, 1000.0, 51)           # coarse target grid (cm⁻¹), max-normalized DoS
FINE_FREQ_CM1 = np.arange(1001) * 2.0             # fine grid 0..2000 cm⁻¹ step 2, DoS integrates to 3N
FREQ_CM1.flags.writeable = FINE_FREQ_CM1.flags.writeable = False
#: Gaussian broadening σ (cm⁻¹) of the fine (1001-point) DoS and of the per-element DoS of the labels;
#: the coarse target's σ, ``COARSE_SIGMA_CM1`` = 20 cm⁻¹, is defined in ``utils.thermo`` (which integrates through it).
FINE_SIGMA_CM1 = 5.0


def wasserstein_cm1(freq_cm1: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Earth mover's distance W₁ = ∫ |CDF_a − CDF_b| dω (cm⁻¹) between DoS rows, each normalized to unit area.

    a, b: (n, n_grid) or (n_grid,) non-negative (negative values count as 0); returns (n,) or a scalar.
    Trapezoidal rule on ``freq_cm1`` for both the CDFs and the integral.

    >>> round(wasserstein_cm1([0, 100, 200], [0, 1, 0], [0, 0, 1]), 6)   # CDFs (0, ½, 1) and (0, 0, 1)
    50.0
    """
    a, b = np.atleast_2d(a).astype(float), np.atleast_2d(b).astype(float)
    dw = np.diff(freq_cm1)

    def cdf(x):
        x = np.clip(x, 0, None)
        inc = 0.5 * (x[:, 1:] + x[:, :-1]) * dw       # trapezoid pieces
        c = np.concatenate([np.zeros((len(x), 1)), np.cumsum(inc, axis=1)], axis=1)
        return c / np.maximum(c[:, -1:], 1e-12)
    diff = np.abs(cdf(a) - cdf(b))
    w = np.sum(0.5 * (diff[:, 1:] + diff[:, :-1]) * dw, axis=1)
    return w if w.size > 1 else float(w[0])


def mean_frequency(freq_cm1, dos):
    """First moment ω̄ = ∫ω g dω / ∫g dω (cm⁻¹) of a DoS of any normalization (taught in notebook 03 §11).

    ``dos``: (n_grid,) → a float; (..., n_grid) → an array, one ω̄ per row. Negative values count as 0; a DoS of
    zero area gives NaN.

    >>> round(mean_frequency([0, 100, 200], [0, 1, 0]), 6)
    100.0
    >>> mean_frequency([0, 100, 200], [[0, 1, 0], [0, 0, 1]]).round(6).tolist()   # trapezoidal rule
    [100.0, 200.0]
    """
    f, g = np.asarray(freq_cm1, float), np.clip(np.asarray(dos, float), 0, None)
    area = np.trapezoid(g, f, axis=-1)
    first = np.trapezoid(f * g, f, axis=-1)
    out = np.where(area > 0, first / np.where(area > 0, area, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def heat_capacity_rel_error(freq_cm1, target, prediction, temperature_K: float = 300.0) -> np.ndarray:
    """|C_V^pred(T) − C_V^target(T)| / C_V^target(T) per row (a fraction; × 100 for %), C_V from
    :func:`utils.thermo.heat_capacity` (harmonic, per mole of atoms; the shape of the DoS sets it, so any
    normalization works).

    target, prediction: (n, n_grid) or (n_grid,); returns (n,). A target with C_V = 0 is guarded by 1e−12.

    >>> g = np.exp(-((FREQ_CM1 - 300) / 50) ** 2)
    >>> heat_capacity_rel_error(FREQ_CM1, g, 2 * g).tolist()     # the same shape: the same C_V
    [0.0]
    """
    target, prediction = np.atleast_2d(np.asarray(target, float)), np.atleast_2d(np.asarray(prediction, float))
    cv_t = np.array([heat_capacity(freq_cm1, t, temperature_K) for t in target]).ravel()
    cv_p = np.array([heat_capacity(freq_cm1, p, temperature_K) for p in prediction]).ravel()
    return np.abs(cv_p - cv_t) / np.maximum(cv_t, 1e-12)


def dos_metrics(freq_cm1: np.ndarray, target: np.ndarray, prediction: np.ndarray, temperature_K: float = 300.0) -> dict:
    """MSE, MAE, R² (over all grid points), mean Wasserstein distance (cm⁻¹) and mean |ΔC_V(T)|/C_V (%).

    The metrics stored with a checkpoint (``model.json``) and in every results file; target, prediction: (n, n_grid).

    Taught in notebook 03 §11.
    """
    target, prediction = np.asarray(target, float), np.asarray(prediction, float)
    err = prediction - target
    ss_res = float(np.sum(err ** 2))
    ss_tot = float(np.sum((target - target.mean()) ** 2))
    return dict(mse=float(np.mean(err ** 2)), mae=float(np.mean(np.abs(err))), r2=1.0 - ss_res / ss_tot,
                wasserstein_cm1=float(np.mean(wasserstein_cm1(freq_cm1, target, prediction))),
                cv300_rel_error_pct=float(np.mean(heat_capacity_rel_error(freq_cm1, target, prediction,
                                                                          temperature_K))) * 100,
                n=int(len(target)))
