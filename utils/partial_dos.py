r"""Partial (per-element) phonon DoS: the network's decomposition and the labels it is scored against (notebook 05).

The network builds the total DoS as a mean of per-atom outputs; summing those by element gives a partial DoS that
adds up to the total exactly (:func:`element_partial_dos`):

    g_E(ω) = (1/N) Σ_a occ_a(E) g_a(ω) / max,    Σ_E g_E(ω) = g(ω).

The dataset's labels are phonopy's projected DoS per element on the fine grid (σ = 5 cm⁻¹); :func:`coarse_from_fine`
and :func:`label_partial_dos` bring them to the 51-point target grid (σ = 20 cm⁻¹), normalized like the total
target. :func:`partial_dos_scores`, :func:`weight_fractions` and :func:`composition_baseline` compare predicted and
labelled partial DoS. Pure numpy on arrays (grids and widths from ``utils.spectra``).
"""
from __future__ import annotations

import math

import numpy as np

from .elements import symbol
from .spectra import COARSE_SIGMA_CM1, FINE_FREQ_CM1, FINE_SIGMA_CM1, FREQ_CM1, mean_frequency, wasserstein_cm1

__all__ = ["SIGMA_FINE_CM1", "SIGMA_COARSE_CM1", "element_partial_dos", "coarse_from_fine", "label_partial_dos",
           "composition_baseline", "weight_fractions", "partial_dos_scores"]

SIGMA_FINE_CM1 = FINE_SIGMA_CM1      # Gaussian broadening of the dataset's fine DoS / per-element DoS (5 cm⁻¹)
SIGMA_COARSE_CM1 = COARSE_SIGMA_CM1  # Gaussian broadening of the 51-point target (20 cm⁻¹)


def element_partial_dos(per_atom: np.ndarray, occupancy: np.ndarray) -> dict[str, np.ndarray]:
    """Partial DoS by element from per-atom outputs: g_E = (1/N) Σ_a occ_a(E) g_a.

    Args:
        per_atom: (N, n_grid) per-atom outputs (``PeriodicNetwork(..., return_per_atom=True)``), scaled so
            that their mean over atoms is the max-normalized total.
        occupancy: (N, 118) occupancy one-hot (the graph's ``node_attr``): 1 at index Z−1 for an ordered
            site, occ_c for each element c of a partially occupied site.
    Returns:
        {element symbol: (n_grid,)}, elements in order of Z; the values add up to ``per_atom.mean(0)``
        whenever every site is fully occupied (Σ_c occ_c = 1). A mixed site's output is shared among its
        elements in proportion to their occupancies (the network has one output per site, so the
        elements of one mixed site get the same *shape*).

    Example::

        >>> occ = np.zeros((2, 118)); occ[0, 10] = occ[1, 16] = 1.0          # Na, Cl
        >>> pd = element_partial_dos(np.array([[1.0, 0.0], [0.0, 1.0]]), occ)
        >>> {k: v.tolist() for k, v in pd.items()}
        {'Na': [0.5, 0.0], 'Cl': [0.0, 0.5]}

    Taught in notebook 05 §1.
    """
    per_atom = np.asarray(per_atom, float)          # (N, G)
    occupancy = np.asarray(occupancy, float)        # (N, 118)
    n = per_atom.shape[0]
    weights = occupancy.T @ per_atom / n            # (118, G)
    present = np.flatnonzero(occupancy.sum(axis=0) > 0)
    return {symbol(z + 1): weights[z] for z in present}


def coarse_from_fine(fine_freq_cm1, fine_dos, freq_cm1=None, sigma_fine_cm1: float = SIGMA_FINE_CM1,
                     sigma_coarse_cm1: float = SIGMA_COARSE_CM1) -> np.ndarray:
    """Re-broaden a fine DoS (Gaussian σ_fine) to σ_coarse and sample it on the coarse grid.

    Gaussians add in quadrature, so convolving the σ_fine spectrum with one more Gaussian of
    σ_extra = √(σ_coarse² − σ_fine²) (= 19.4 cm⁻¹ for 20 and 5) gives the σ_coarse spectrum of the
    51-point target:  g_c(ω_k) = Σ_j g_f(ω_j) G_σextra(ω_k − ω_j) Δω_j  (trapezoid weights Δω_j).

    Args:
        fine_freq_cm1: (M,) fine grid (cm⁻¹); fine_dos: (..., M) any normalization (rows are independent).
        freq_cm1: (G,) target grid; default the 51-point 0–1000 cm⁻¹ grid.
    Returns:
        (..., G) array, same normalization as the input (area preserved, up to the grid's ends).

    Example::

        >>> ff = np.arange(1001) * 2.0; g = np.exp(-0.5 * ((ff - 500) / 5) ** 2)
        >>> c = coarse_from_fine(ff, g); f = np.linspace(0, 1000, 51)
        >>> round(float(f[np.argmax(c)])), round(float(np.trapezoid(c, f) / np.trapezoid(g, ff)), 3)
        (500, 1.0)

    Taught in notebook 05 §2.
    """
    if freq_cm1 is None:
        freq_cm1 = FREQ_CM1
    ff = np.asarray(fine_freq_cm1, float)               # (M,)
    fc = np.asarray(freq_cm1, float)                    # (G,)
    if not sigma_coarse_cm1 > sigma_fine_cm1 >= 0:
        raise ValueError(f"need sigma_coarse_cm1 > sigma_fine_cm1 >= 0, got {sigma_coarse_cm1}, {sigma_fine_cm1}")
    sigma = math.sqrt(sigma_coarse_cm1 ** 2 - sigma_fine_cm1 ** 2)
    step = np.gradient(ff)                              # (M,) trapezoid weights
    step[[0, -1]] = np.diff(ff)[[0, -1]] / 2
    kernel = np.exp(-0.5 * ((fc[:, None] - ff[None, :]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return np.asarray(fine_dos, float) @ (kernel * step).T          # (..., G)


def label_partial_dos(material, freq_cm1=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labelled total and per-element DoS of a dataset material on the model grid, normalized alike.

    Both come from the fine, σ = 5 cm⁻¹ spectra of ``material.fine_dos`` / ``material.pdos`` via
    :func:`coarse_from_fine`, then are divided by the maximum of the total: max(total) = 1 and
    Σ_E pdos_E = total, the normalization of the network's output and of ``material.dos`` (which the
    re-broadened total reproduces to within a few 10⁻³).

    Returns:
        ``(total (G,), {element: (G,)})``.

    Raises:
        ValueError: the material has no fine DoS (the original tutorial's data has none).

    Taught in notebook 05 §2.
    """
    if material.fine_dos is None or not material.pdos:
        raise ValueError(f"{material.id}: no fine DoS / per-element DoS (load_dataset() has them; "
                         "the original tutorial's data does not)")
    elements = list(material.pdos)
    coarse = coarse_from_fine(FINE_FREQ_CM1, np.stack([material.pdos[e] for e in elements]), freq_cm1)  # (E, G)
    total = coarse.sum(axis=0)
    scale = total.max()
    return total / scale, {e: row / scale for e, row in zip(elements, coarse)}


def composition_baseline(total, composition: dict[str, float]) -> dict[str, np.ndarray]:
    """The naive partial DoS: the total split by atom fractions, g_E = c_E · g (same shape for every element).

    Example::

        >>> {k: v.tolist() for k, v in composition_baseline(np.array([0.0, 1.0]), {"Na": 0.5, "Cl": 0.5}).items()}
        {'Na': [0.0, 0.5], 'Cl': [0.0, 0.5]}

    Taught in notebook 05 §4.
    """
    total = np.asarray(total, float)
    return {el: c * total for el, c in composition.items()}


def weight_fractions(freq_cm1, pdos: dict[str, np.ndarray]) -> dict[str, float]:
    """Share of the modes on each element, ∫g_E dω / Σ_E' ∫g_E' dω (dimensionless, sums to 1).

    For exact phonons this is the atom fraction n_E/N (each atom carries 3 modes' worth of |e|²).

    Taught in notebook 05 §4.
    """
    areas = {el: float(np.trapezoid(np.clip(v, 0, None), freq_cm1)) for el, v in pdos.items()}
    total = sum(areas.values())
    return {el: (a / total if total > 0 else float("nan")) for el, a in areas.items()}


def partial_dos_scores(freq_cm1, predicted: dict[str, np.ndarray], labelled: dict[str, np.ndarray]) -> dict:
    """Compare a predicted partial DoS with the labelled one (both {element: (G,)} on ``freq_cm1``).

    Returns a dict with, per element (dicts keyed by symbol):
        ``wasserstein_cm1``: W₁ between the unit-area shapes of g_E^pred and g_E^label (cm⁻¹);
        ``weight_error``: |f_E^pred − f_E^label|, f = :func:`weight_fractions`;
        ``mean_freq_shift_cm1``: predicted and labelled ⟨ω⟩_E − ⟨ω⟩ (how far the element's modes sit from
        the material's mean frequency; > 0: above), as pairs (pred, label);
    and for the material: ``misassigned``: ½ Σ_E ∫|φ_E^pred − φ_E^label| g^label dω / ∫g^label, with
    φ_E = g_E / g the element's share at each frequency — the fraction of the (labelled) modes attributed
    to the wrong element (0 = perfect, 1 = all wrong).

    Taught in notebook 05 §4.
    """

    f = np.asarray(freq_cm1, float)
    elements = list(labelled)
    missing = [el for el in elements if el not in predicted]
    if missing:
        raise ValueError(f"no predicted partial DoS for {missing}; predicted has {sorted(predicted)}")
    p_total = sum(np.clip(predicted[el], 0, None) for el in elements)
    l_total = sum(np.clip(labelled[el], 0, None) for el in elements)
    wf_p, wf_l = weight_fractions(f, {e: predicted[e] for e in elements}), weight_fractions(f, labelled)
    mean_p, mean_l = mean_frequency(f, p_total), mean_frequency(f, l_total)
    out = dict(wasserstein_cm1={}, weight_error={}, mean_freq_shift_cm1={})
    for el in elements:
        out["wasserstein_cm1"][el] = float(wasserstein_cm1(f, labelled[el], predicted[el]))
        out["weight_error"][el] = abs(wf_p[el] - wf_l[el])
        out["mean_freq_shift_cm1"][el] = (mean_frequency(f, predicted[el]) - mean_p,
                                          mean_frequency(f, labelled[el]) - mean_l)
    safe_p = np.where(p_total > 0, p_total, 1.0)
    safe_l = np.where(l_total > 0, l_total, 1.0)
    mismatch = sum(np.abs(np.clip(predicted[el], 0, None) / safe_p - np.clip(labelled[el], 0, None) / safe_l)
                   for el in elements)
    out["misassigned"] = float(0.5 * np.trapezoid(mismatch * l_total, f) / np.trapezoid(l_total, f))
    return out
